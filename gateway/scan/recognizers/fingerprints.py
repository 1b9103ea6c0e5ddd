"""Document fingerprints: find a prompt that quotes a substantial passage of a protected document.

Protected documents are reduced to hashes of word shingles (every run of ``k`` = 8 consecutive
words, after the same folding as the term lists: case, accents, punctuation and spacing do not
count).  The index keeps only those 64-bit hashes, sorted, with the number of the document each
came from, plus each document's id and word count: never text, never a path.  A prompt is cut
into shingles the same way; the shingles found in the index are grouped per document into
clusters, a cluster may bridge a few missing shingles (an edited word breaks ``k`` of them), and
a cluster that covers enough words becomes a hit spanning the quoted passage.

Decisions where the brief left room:

* Every shingle is kept rather than a winnowed or MinHash sample: 8 bytes + 4 per shingle
  (about 5 MB for 200 documents of 2,000 words), and in exchange the span of a quote is exact.
* Shingle hash: each word is hashed with BLAKE2b (keyed when a key is given, so an index file
  cannot be used to test guesses without the key), and the ``k`` word hashes are combined with a
  polynomial rolling hash modulo 2^64 and a SplitMix64 finaliser, which makes hashing a prompt
  cost one BLAKE2b call per distinct word instead of one per shingle.
* A passage counts when it matches at least ``min_words`` (50) words of one document, or at
  least ``min_fraction`` (30%) of a short document's words (never fewer than ``k``).
* Document id: the file stem (``doc_id="stem"``) or a hash of the content (``doc_id="hash"``)
  when even names are sensitive.  Two files with one stem are refused, not silently merged.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gateway.scan.findings import Hit
from gateway.scan.recognizers.terms import WordTokenizer

__all__ = ["Document", "FingerprintDetector", "FingerprintError", "FingerprintIndex"]

FORMAT = "llm-gateway-fingerprints"
VERSION = 1
HASH_NAME = "blake2b64-words/poly64/splitmix64"
SUFFIXES = (".txt", ".md")
_MASK = (1 << 64) - 1
_BASE = 0x9E3779B97F4A7C15  # odd: multiplication by it is a bijection modulo 2^64
_KEY_CHECK = b"llm-gateway fingerprint key check"


class FingerprintError(ValueError):
    """An index that cannot be built or loaded; the message names the document or file."""


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    words: int


class _Shingler:
    """Words -> rolling 64-bit shingle hashes.  Holds the key; built once per index."""

    def __init__(self, k: int, key: bytes) -> None:
        self.k = k
        self._key = key
        self._top = pow(_BASE, k - 1, 1 << 64)  # weight of the word leaving the window

    def hashes(self, words: list[str]) -> list[int]:
        k, top, key = self.k, self._top, self._key
        cache: dict[str, int] = {}  # per call: repeated words are hashed once
        values = []
        for word in words:
            value = cache.get(word)
            if value is None:
                digest = hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8, key=key)
                value = cache[word] = int.from_bytes(digest.digest(), "little")
            values.append(value)
        out: list[int] = []
        rolling = 0
        for i, value in enumerate(values):
            if i >= k:
                rolling = (rolling - values[i - k] * top) & _MASK
            rolling = (rolling * _BASE + value) & _MASK
            if i >= k - 1:
                out.append(_splitmix(rolling))
        return out


def _splitmix(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _key_check(key: bytes) -> str:
    return hashlib.blake2b(_KEY_CHECK, digest_size=8, key=key).hexdigest()


class FingerprintIndex:
    """Sorted shingle hashes of the protected documents, and which document each came from."""

    def __init__(
        self, documents: tuple[Document, ...], hashes: array[int], owners: array[int], *, k: int, key: bytes
    ) -> None:
        self.documents = documents
        self.k = k
        self._hashes = hashes  # sorted uint64
        self._owners = owners  # uint32 document numbers, parallel to _hashes
        self._key = key
        self._shingler = _Shingler(k, key)
        self._tokens = WordTokenizer()
        # A bitmap over the top hash bits answers "surely absent" for most prompt shingles without
        # a binary search: about 32 bits per stored hash keeps false alarms near 3%.
        self._bits = max(16, (max(1, len(hashes)) * 32 - 1).bit_length())
        self._bitmap = bytearray(1 << (self._bits - 3))
        for value in hashes:
            top = value >> (64 - self._bits)
            self._bitmap[top >> 3] |= 1 << (top & 7)

    # -- building -----------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        k: int = 8,
        key: bytes | None = None,
        doc_id: Literal["stem", "hash"] = "stem",
    ) -> FingerprintIndex:
        """Index ``.txt``/``.md`` files; a directory stands for every such file below it."""
        texts: dict[str, str] = {}
        for path in _files(paths):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise FingerprintError(f"{path}: cannot read as UTF-8 text ({type(exc).__name__})") from exc
            if doc_id == "stem":
                name = path.stem
            else:
                digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=key or b"")
                name = digest.hexdigest()
            if name in texts:
                raise FingerprintError(f"{path}: document id {name!r} is already taken; use doc_id='hash'")
            texts[name] = text
        return cls.from_texts(texts, k=k, key=key)

    @classmethod
    def from_texts(
        cls, texts: Mapping[str, str], *, k: int = 8, key: bytes | None = None
    ) -> FingerprintIndex:
        if not 2 <= k <= 64:
            raise FingerprintError(f"k must be between 2 and 64, got {k}")
        key = key or b""
        if len(key) > 64:
            raise FingerprintError("key must be at most 64 bytes (a BLAKE2b key)")
        shingler, tokens = _Shingler(k, key), WordTokenizer()
        documents: list[Document] = []
        pairs: set[tuple[int, int]] = set()
        for number, (name, text) in enumerate(texts.items()):
            if not name or "\n" in name:
                raise FingerprintError(f"document id {name!r} must be a non-empty single line")
            words = [word for _, _, word in tokens(text)]
            if len(words) < k:
                raise FingerprintError(f"document {name!r} has {len(words)} words; at least k={k} are needed")
            documents.append(Document(name, len(words)))
            pairs.update((value, number) for value in shingler.hashes(words))
        ordered = sorted(pairs)
        hashes = array("Q", (value for value, _ in ordered))
        owners = array("I", (number for _, number in ordered))
        return cls(tuple(documents), hashes, owners, k=k, key=key)

    # -- files --------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as JSON (hashes base64-encoded, little-endian); atomic replace."""
        record = {
            "format": FORMAT,
            "version": VERSION,
            "hash": HASH_NAME,
            "k": self.k,
            "keyed": bool(self._key),
            "key_check": _key_check(self._key) if self._key else None,
            "documents": [{"id": d.id, "words": d.words} for d in self.documents],
            "hashes": _encode(self._hashes),
            "owners": _encode(self._owners),
        }
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(record, separators=(",", ":")), encoding="utf-8")
        os.replace(partial, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, key: bytes | None = None) -> FingerprintIndex:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise FingerprintError(
                f"{path}: not a readable fingerprint index ({type(exc).__name__})"
            ) from exc
        return cls.from_bytes(str(path), data, key=key)

    @classmethod
    def from_bytes(cls, path: str, data: bytes, *, key: bytes | None = None) -> FingerprintIndex:
        """The index in ``data`` (the bytes of the file ``path``, named in errors)."""
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FingerprintError(
                f"{path}: not a readable fingerprint index ({type(exc).__name__})"
            ) from exc
        try:
            return cls._from_record(record, key or b"")
        except FingerprintError as exc:
            raise FingerprintError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise FingerprintError(f"{path}: malformed fingerprint index ({type(exc).__name__})") from exc

    @classmethod
    def _from_record(cls, record: Any, key: bytes) -> FingerprintIndex:
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise FingerprintError("not a fingerprint index")
        if record["version"] != VERSION or record["hash"] != HASH_NAME:
            raise FingerprintError(f"unsupported index version {record['version']} / hash {record['hash']}")
        if record["keyed"] != bool(key):
            raise FingerprintError(
                "built with a key; load it with the same key" if record["keyed"] else "built without a key"
            )
        if key and record["key_check"] != _key_check(key):
            raise FingerprintError("the key does not match the one the index was built with")
        documents = tuple(Document(str(d["id"]), int(d["words"])) for d in record["documents"])
        hashes, owners = _decode(record["hashes"], "Q"), _decode(record["owners"], "I")
        if len(hashes) != len(owners) or (owners and max(owners) >= len(documents)):
            raise FingerprintError("hashes and owners do not line up")
        return cls(documents, hashes, owners, k=int(record["k"]), key=key)

    # -- lookup -------------------------------------------------------------------------------------
    def matches(self, text: str) -> tuple[list[tuple[int, int, str]], dict[int, list[int]]]:
        """The words of ``text``, and for each document the positions of its shingles in them."""
        words = self._tokens(text)
        found: dict[int, list[int]] = {}
        if len(words) < self.k or not self._hashes:
            return words, found
        hashes, owners, bitmap, shift = self._hashes, self._owners, self._bitmap, 64 - self._bits
        size = len(hashes)
        for position, value in enumerate(self._shingler.hashes([word for _, _, word in words])):
            top = value >> shift
            if not bitmap[top >> 3] >> (top & 7) & 1:
                continue
            i = bisect_left(hashes, value)
            while i < size and hashes[i] == value:
                found.setdefault(owners[i], []).append(position)
                i += 1
        return words, found


class FingerprintDetector:
    """Reports quoted passages of protected documents: ``FINGERPRINT:<document id>``, kind ``fingerprint``."""

    def __init__(
        self,
        index: FingerprintIndex,
        *,
        name: str = "fingerprints",
        min_words: int = 50,
        min_fraction: float = 0.3,
        max_gap: int | None = None,
    ) -> None:
        self.name = name
        self._index = index
        self._min_words = min_words
        self._min_fraction = min_fraction
        # Shingle positions further apart than this start a new passage: an edited word loses
        # ``k`` shingles, so two nearby edits leave a gap of about 2k.
        self._max_gap = 2 * index.k + 1 if max_gap is None else max_gap

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, key: bytes | None = None, **options: Any
    ) -> FingerprintDetector:
        return cls(FingerprintIndex.load(path, key=key), **options)

    def detect(self, text: str) -> list[Hit]:
        words, found = self._index.matches(text)
        k = self._index.k
        hits: list[Hit] = []
        for number, positions in sorted(found.items()):
            document = self._index.documents[number]
            enough = max(k, min(self._min_words, self._min_fraction * document.words))
            for first, last, covered in _clusters(positions, k, self._max_gap):
                if covered >= enough:
                    score = 0.95 if covered >= self._min_words else 0.85
                    start, end = words[first][0], words[last + k - 1][1]
                    hits.append(
                        Hit("fingerprint", f"FINGERPRINT:{document.id}", start, end, score, self.name)
                    )
        return hits


def _clusters(positions: list[int], k: int, max_gap: int) -> Iterable[tuple[int, int, int]]:
    """(first shingle, last shingle, words covered) for each run of nearby matching shingles."""
    positions = sorted(set(positions))
    first = previous = positions[0]
    covered = k
    for position in positions[1:]:
        if position - previous > max_gap:
            yield first, previous, covered
            first, covered = position, k
        else:
            covered += min(k, position - previous)
        previous = position
    yield first, previous, covered


def _files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise FingerprintError(f"{path}: no such file or directory")
    return files


def _encode(values: array[int]) -> str:
    data = array(values.typecode, values)
    if sys.byteorder == "big":
        data.byteswap()
    return base64.b64encode(data.tobytes()).decode("ascii")


def _decode(text: str, typecode: str) -> array[int]:
    data = array(typecode)
    data.frombytes(base64.b64decode(text, validate=True))
    if sys.byteorder == "big":
        data.byteswap()
    return data
