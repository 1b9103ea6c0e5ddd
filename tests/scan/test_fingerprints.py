from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest

from gateway.scan.recognizers.fingerprints import FingerprintDetector, FingerprintError, FingerprintIndex

VOCABULARY_TEXT = (
    "the board agreed that revenue growth in the northern region would depend on pricing discipline while "
    "our engineers rebuilt the ingestion pipeline and legal reviewed every supplier contract before renewal "
    "customers asked for faster onboarding clearer invoices and fewer outages during the migration window "
    "finance expects margins to recover once the warehouse consolidation completes next spring according "
    "to the latest forecast prepared by the strategy team for the annual planning cycle"
)
VOCABULARY = VOCABULARY_TEXT.split()


def synthetic_document(seed: int, words: int = 2000) -> str:
    """Sentence-shaped text: 2,000 words drawn from a fixed vocabulary, with capitals and full stops."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < words:
        sentence = [rng.choice(VOCABULARY) for _ in range(rng.randint(8, 20))]
        sentence[0] = sentence[0].capitalize()
        sentence[-1] += "."
        out.extend(sentence)
    return " ".join(out[:words])


@pytest.fixture(scope="module")
def document() -> str:
    return synthetic_document(1)


@pytest.fixture(scope="module")
def detector(document: str) -> FingerprintDetector:
    index = FingerprintIndex.from_texts(
        {"strategy-memo": document, "other": synthetic_document(2), "short-note": synthetic_document(3, 100)}
    )
    return FingerprintDetector(index)


def requote(words: list[str]) -> str:
    """The same words with different case and spacing, as a copy-paste through a chat box gives."""
    return "  ".join(w.upper() if i % 3 == 0 else w.lower() for i, w in enumerate(words)).replace(".", " .\n")


def test_sixty_word_quote_is_found_with_its_span(detector: FingerprintDetector, document: str) -> None:
    quote = requote(document.split()[700:760])
    prompt = f"Can you tighten up this paragraph?\n\n{quote}\n\nKeep it under 40 words."
    [hit] = detector.detect(prompt)
    assert (hit.kind, hit.entity, hit.detector) == (
        "fingerprint",
        "FINGERPRINT:strategy-memo",
        "fingerprints",
    )
    start = prompt.index(quote)
    assert (hit.start, hit.end) == (start, start + len(quote.rstrip(" .\n")))
    assert hit.score >= 0.9


def test_quote_survives_small_edits(detector: FingerprintDetector, document: str) -> None:
    words = document.split()[1200:1290]
    words[30] = "REDACTED"
    words[61] = "something"
    del words[45]
    prompt = "Summarise: " + ", ".join(words)
    [hit] = detector.detect(prompt)
    assert hit.entity == "FINGERPRINT:strategy-memo"
    assert len(prompt[hit.start : hit.end].split()) >= 80


def test_ten_words_are_not_enough(detector: FingerprintDetector, document: str) -> None:
    assert detector.detect("What does this mean: " + " ".join(document.split()[300:310]) + "?") == []


def test_unrelated_prompt(detector: FingerprintDetector) -> None:
    prompt = (
        "Write a short story about a lighthouse keeper who finds a message in a bottle, and make the "
        "ending hopeful. Around five hundred words, please, in the style of a children's book. " * 20
    )
    assert detector.detect(prompt) == []


def test_short_document_by_fraction(detector: FingerprintDetector) -> None:
    note = synthetic_document(3, 100).split()
    [hit] = detector.detect(" ".join(note[10:45]))  # 35 of 100 words: over 30%
    assert (hit.entity, hit.score) == ("FINGERPRINT:short-note", 0.85)
    assert detector.detect(" ".join(note[10:30])) == []  # 20%


def test_two_documents_in_one_prompt(detector: FingerprintDetector, document: str) -> None:
    other = synthetic_document(2).split()
    prompt = " ".join(document.split()[:60]) + "\n\nand also\n\n" + " ".join(other[100:170])
    assert sorted(h.entity for h in detector.detect(prompt)) == [
        "FINGERPRINT:other",
        "FINGERPRINT:strategy-memo",
    ]


# -- the index file -------------------------------------------------------------------------------------
def test_saved_index_holds_no_text(tmp_path: Path, document: str) -> None:
    path = tmp_path / "index.json"
    FingerprintIndex.from_texts({"doc-1": document}).save(path)
    saved = path.read_text(encoding="utf-8").lower()
    words = re.findall(r"\w+", document.lower())
    for i in range(len(words) - 4):
        assert " ".join(words[i : i + 5]) not in saved
    assert not any(word in saved for word in set(words) if len(word) >= 6)  # not even single words


def test_save_and_load_round_trip(tmp_path: Path, document: str) -> None:
    path = tmp_path / "index.json"
    FingerprintIndex.from_texts({"memo": document}, key=b"k" * 32).save(path)
    loaded = FingerprintDetector.from_file(path, key=b"k" * 32)
    quote = " ".join(document.split()[100:170])
    assert [h.entity for h in loaded.detect(quote)] == ["FINGERPRINT:memo"]
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record["keyed"] is True
    assert [d["id"] for d in record["documents"]] == ["memo"]


def test_key_is_required_and_checked(tmp_path: Path, document: str) -> None:
    path = tmp_path / "index.json"
    FingerprintIndex.from_texts({"memo": document}, key=b"right").save(path)
    with pytest.raises(FingerprintError, match="built with a key"):
        FingerprintIndex.load(path)
    with pytest.raises(FingerprintError, match="key does not match"):
        FingerprintIndex.load(path, key=b"wrong")


def test_keyed_and_plain_hashes_differ(document: str) -> None:
    quote = " ".join(document.split()[:80])
    plain = FingerprintIndex.from_texts({"memo": document})
    keyed = FingerprintIndex.from_texts({"memo": document}, key=b"secret")
    assert plain.matches(quote)[1] and keyed.matches(quote)[1]
    assert set(plain._hashes).isdisjoint(keyed._hashes)


@pytest.mark.parametrize(
    "content", ["not json", '{"format": "other"}', '{"format": "llm-gateway-fingerprints"}']
)
def test_broken_index_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "index.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FingerprintError, match=r"index\.json"):
        FingerprintIndex.load(path)


# -- building from files ----------------------------------------------------------------------------------
def test_build_from_a_folder(tmp_path: Path, document: str) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "handbook.md").write_text(document, encoding="utf-8")
    (tmp_path / "nested" / "pricing.txt").write_text(synthetic_document(5), encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG not text")
    index = FingerprintIndex.build([tmp_path])
    assert [(d.id, d.words) for d in index.documents] == [("handbook", 2000), ("pricing", 2000)]
    hashed = FingerprintIndex.build([tmp_path], doc_id="hash")
    assert all(re.fullmatch(r"[0-9a-f]{16}", d.id) for d in hashed.documents)


def test_build_refuses_what_it_cannot_index(tmp_path: Path, document: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "memo.md").write_text(document, encoding="utf-8")
    (tmp_path / "b" / "memo.txt").write_text(document, encoding="utf-8")
    with pytest.raises(FingerprintError, match="document id 'memo' is already taken"):
        FingerprintIndex.build([tmp_path])
    with pytest.raises(FingerprintError, match="no such file"):
        FingerprintIndex.build([tmp_path / "missing"])
    with pytest.raises(FingerprintError, match="has 3 words"):
        FingerprintIndex.from_texts({"tiny": "three short words"})
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(FingerprintError, match=r"latin1\.txt: cannot read as UTF-8"):
        FingerprintIndex.build([tmp_path / "latin1.txt"])


def test_many_documents(document: str) -> None:
    texts = {f"doc-{i}": synthetic_document(100 + i) for i in range(40)}
    texts["target"] = document
    detector = FingerprintDetector(FingerprintIndex.from_texts(texts))
    prompt = (
        synthetic_document(999, 600)
        + " "
        + " ".join(document.split()[1500:1560])
        + " "
        + synthetic_document(998, 600)
    )
    started = time.perf_counter()
    hits = detector.detect(prompt)
    assert time.perf_counter() - started < 1.0  # a few ms here
    assert [h.entity for h in hits] == ["FINGERPRINT:target"]
