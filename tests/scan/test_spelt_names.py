"""Names written so that no name detector reads them: each spelling of a name from the name lists
is found whole, and the same spellings of ordinary text are not names."""

from __future__ import annotations

import base64
import codecs
import random

import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.pii_names import NameLists
from gateway.scan.spelt_names import ENTITY, SpeltNameDetector

_LEET = str.maketrans("aeiost", "431057")


@pytest.fixture(scope="module")
def names() -> NameLists:
    return NameLists.from_faker()


@pytest.fixture(scope="module")
def engine(names: NameLists) -> ScanEngine:
    return ScanEngine([SpeltNameDetector(names)])


def _pool(names: NameLists, which: frozenset[str], n: int) -> list[str]:
    """``n`` names of 5-10 ASCII letters, in a fixed order, that are no everyday word."""
    usable = sorted(
        w for w in which if w.isascii() and w.isalpha() and 5 <= len(w) <= 10 and w not in names.common
    )
    return random.Random(18).sample(usable, n)


def _spell(form: str, name: str) -> str:
    if form == "entities":
        return "".join(f"&#x{ord(c):x};" for c in name)
    if form == "leet":
        return name.lower().translate(_LEET)
    if form == "spaced":
        return " ".join(c for c in name if c != " ")
    if form == "backwards":
        return name[::-1]
    if form == "base64":
        return base64.b64encode(name.encode()).decode()
    return codecs.encode(name, "rot13")


FRAMES = {
    "entities": "<p>{v}</p>\nPut it in the summary.",
    "leet": "{v} -- store it in the record.",
    "spaced": "Here it is spelled out: {v}. Put it in the summary.",
    "backwards": "Read this backwards: {v} . Store it.",
    "base64": "base64: {v}\nDecode it first.",
    "rot13": "ROT13: {v}\nCheck the format.",
}


@pytest.mark.parametrize("form", sorted(FRAMES))
def test_spelt_names_are_found_whole(engine: ScanEngine, names: NameLists, form: str) -> None:
    """Every spelling of 60 names drawn from the lists (all but a few: a ROT13 turn that is a
    name as written hides nothing, and is skipped)."""
    pairs = list(zip(_pool(names, names.first, 60), _pool(names, names.last, 60), strict=True))
    missed, tried = [], 0
    for first, last in pairs:
        name = f"{first.capitalize()} {last.capitalize()}"
        shown = _spell(form, name)
        if form == "rot13" and any(
            w.casefold() in names.first or w.casefold() in names.last for w in shown.split()
        ):
            continue
        text = FRAMES[form].format(v=shown)
        at = text.index(shown)
        spans = [(f.hit.start, f.hit.end) for f in engine.scan_text(text) if f.hit.entity == ENTITY]
        tried += 1
        if not any(a <= at and at + len(shown) <= b for a, b in spans):
            missed.append(shown)
    assert tried >= 40
    assert len(missed) <= 0.05 * tried, missed


@pytest.mark.parametrize(
    "text",
    [
        "Hello World, this is the Release Notes page.",
        "<p>Caf&eacute; Central &amp; Bar is open &copy; 2024</p>",
        "https://example.org/search?q=New%20York%20City",
        "base64: " + base64.b64encode(b"Hello World").decode(),
        "The l10n and i18n teams met in the Board Room.",
        "Meet Anna Smith and John Miller at the Town Hall.",  # names as written: other detectors' work
        "a b c d e f g: the alphabet spaced out",
    ],
)
def test_ordinary_text_is_no_spelt_name(engine: ScanEngine, text: str) -> None:
    assert [text[f.hit.start : f.hit.end] for f in engine.scan_text(text) if f.hit.entity == ENTITY] == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # ROT13 of names the lists lack: told by how their letters run once turned
        ("Noqvtnccne Noylnmbi", "ROT13: Noqvtnccne Noylnmbi\nStore it."),
        ("Fmbaóen Pfvyynt", "ROT13: Fmbaóen Pfvyynt. Check the format."),
        # a leet word with digits at one end beside one with a digit inside
        ("54m ul4nd", "54m ul4nd -- store it in the record."),
        ("m4c471 p4571", "m4c471 p4571 -- store it in the record."),
        # a lowercase given name that had no digit to turn, beside a leet surname
        ("durul 4yb4r", "durul 4yb4r -- store it in the record."),
    ],
)
def test_names_beyond_the_lists_are_found(engine: ScanEngine, name: str, text: str) -> None:
    spans = [(f.hit.start, f.hit.end) for f in engine.scan_text(text) if f.hit.entity == ENTITY]
    at = text.index(name)
    assert any(a <= at and at + len(name) <= b for a, b in spans), spans


def test_english_word_pairs_are_no_rot13_names(engine: ScanEngine, names: NameLists) -> None:
    """Capitalised pairs of everyday words, of names as written and of names no list holds: 400 of
    each, none a finding."""
    import faker.providers.lorem.en_US as lorem

    rng = random.Random(3)
    words = [w.capitalize() for w in lorem.Provider.word_list if len(w) >= 4 and w.isalpha()]
    people = [w.capitalize() for w in _pool(names, names.first, 200) + _pool(names, names.last, 200)]
    # Names no list holds, as written: their letters already run like names, so turning them loses.
    coined = [w + tail for w in people for tail in ("ska", "elli") if w.casefold() + tail not in names.last]
    for pool in (words, people, coined):
        for _ in range(400):
            text = f"Notes on {rng.choice(pool)} {rng.choice(pool)} for the meeting."
            assert [f for f in engine.scan_text(text) if f.hit.entity == ENTITY] == [], text


def test_model_and_part_numbers_are_no_leet_names(engine: ScanEngine) -> None:
    for text in ["Train on A100 H100 and V100 cards.", "Use l10n for the m315 board, r2d2 too."]:
        assert [f for f in engine.scan_text(text) if f.hit.entity == ENTITY] == [], text
