"""The decoding views of :mod:`gateway.scan.normalize`: encoded runs and JSON string values.

* ``base64``, ``hex``, ``percent``: each encoded run replaced by its decoding, which maps to all of
  the run (a wrapped base64 block decodes joined; base64 of base64 is decoded in place).
* ``json``: the string values of JSON documents, unescaped, one per line, each escape mapped to
  exactly its characters.

Decoding is bounded per text (:class:`Budget`): past ``MAX_DECODED_RUNS`` runs or
``MAX_DECODED_BYTES`` bytes of output, :class:`NormalizationLimit` is raised and the engine reports
``scan_failed`` rather than scan a text only partly decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from types import MappingProxyType

from gateway.scan.offsets import Edits, MapBuilder, OffsetMap, apply_edits

MAX_DEPTH = 2  # base64 of base64, a JSON document inside a JSON string; no deeper
MAX_JSON_FAILURES = 64  # failed raw_decode calls per text: each may read to the end of the text
MAX_DECODED_RUNS = 256  # successful decodes per text (base64, hex, percent, nested ones too)
MAX_DECODED_BYTES = 1 << 20  # their decoded output per text


class NormalizationLimit(ValueError):
    """The text needs more decoding than a scan allows: scanning less would be failing open."""


# --- decoded blobs: a decoded run replaces its encoded run and maps to all of it.  Hex runs are
# looked for inside base64-alphabet runs only, so one scan of ordinary prose serves both views.
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?((?:[0-9A-Fa-f]{2}){8,})(?![0-9A-Za-z])")
_PCT_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}\S*")  # from the first escape on: a literal start is fast
_PCT_GROUP = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_B64_TAIL = re.compile(r"[A-Za-z0-9+/_-]{1,15}={0,2}(?![A-Za-z0-9+/=_-])")  # shorter than a run
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_Lines = list[tuple[int, int]]  # a candidate: one run, or the lines of a wrapped base64 block


class Budget:
    """Runs and bytes decoded for one text, by all the decoding views and their nested decodes.
    Past either limit the text is not scanned at all: skipping the rest would fail open."""

    __slots__ = ("max_bytes", "max_runs", "spent_bytes", "spent_runs")

    def __init__(self, max_runs: int, max_bytes: int) -> None:
        self.max_runs, self.max_bytes = max_runs, max_bytes
        self.spent_runs = self.spent_bytes = 0

    def charge(self, decoded: str) -> None:
        self.spent_runs += 1
        self.spent_bytes += len(decoded.encode("utf-8", "surrogatepass"))
        if self.spent_runs > self.max_runs or self.spent_bytes > self.max_bytes:
            raise NormalizationLimit(
                f"more than {self.max_runs} encoded runs or {self.max_bytes} decoded bytes in one text"
            )


def candidates(text: str) -> list[_Lines]:
    """Base64-alphabet runs, the candidates for both base64 and hex.  Looked for only in the
    whitespace-split words of 16+ characters: twice as fast as the regex over a whole prose text."""
    runs: _Lines = []
    pos = 0
    for word in text.split():
        if len(word) >= 16:  # its first occurrence after the previous long word is this very word
            at = text.find(word, pos)
            pos = at + len(word)
            runs += (m.span() for m in _B64_RUN.finditer(text, at, pos))
    return _wrapped(text, runs)


def _wrapped(text: str, runs: _Lines) -> list[_Lines]:
    """``runs`` grouped into wrapped base64 blocks (PEM, MIME): consecutive runs one line break
    apart, all but the last as long as the first, a multiple of 4 without padding, the last no
    longer.  Lines a multiple of 4 long decode joined to what they decode to one by one, so
    joining never loses a value; a value split across a line break is found only joined."""
    blocks: list[_Lines] = []
    for a, b in runs:
        if blocks:
            block = blocks[-1]
            (first, width_end), (start, end) = block[0], block[-1]
            width = width_end - first
            if (
                end - start == width
                and width % 4 == 0
                and b - a <= width
                and text[end - 1] != "="
                and text[end:a] in ("\n", "\r\n")
            ):
                block.append((a, b))
                continue
        blocks.append([(a, b)])
    for block in blocks:  # the last line may be too short to be a run itself: "cGFkZGluZw=="
        (first, width_end), (start, end) = block[0], block[-1]
        width = width_end - first
        if (
            end - start == width
            and width % 4 == 0
            and text[end - 1] != "="
            and (len(block) > 1 or width >= 40)
        ):
            eol = end + 2 if text.startswith("\r\n", end) else end + 1 if text.startswith("\n", end) else end
            if eol > end and (tail := _B64_TAIL.match(text, eol)) is not None:
                block.append(tail.span())
    return blocks


def _utf8(raw: bytes, *, blob: bool) -> str | None:
    """The text, or None for binary: invalid UTF-8; a blank blob or one over 5% control characters;
    any control character in a %xx run."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if blob:
        return text if text.strip() and len(_CONTROL.findall(text)) * 20 <= len(text) else None
    return None if _CONTROL.search(text) else text


def _b64(run: str) -> str | None:
    body = run.rstrip("=")
    urlsafe = "-" in body or "_" in body
    if len(body) % 4 == 1 or (urlsafe and ("+" in body or "/" in body)):
        return None
    if body.isalpha() and body.islower():  # a word, "internationalization" (base64 of "AAA" is "QUFB")
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _utf8(raw, blob=True)


def _decodings(text: str, kind: str, runs: list[_Lines]) -> Iterator[tuple[int, int, str | None]]:
    for lines in runs:
        if kind == "base64":  # a wrapped block decodes joined, mapping to all its lines; else by line
            joined = _b64("".join(text[a:b] for a, b in lines))
            if joined is not None or len(lines) == 1:
                yield lines[0][0], lines[-1][1], joined
            else:
                yield from ((a, b, _b64(text[a:b])) for a, b in lines)
            continue
        for a, b in lines:
            if not text[a:b].isalpha():  # hex of text is at least half digits
                for m in _HEX_RUN.finditer(text, a, b):
                    yield m.start(), m.end(), _utf8(bytes.fromhex(m[1]), blob=True)


def _blob_edits(text: str, kind: str, budget: Budget, depth: int, runs: list[_Lines]) -> Edits:
    edits: Edits = []
    for a, b, decoded in _decodings(text, kind, runs):
        if decoded is not None:
            budget.charge(decoded)
            if depth < MAX_DEPTH:  # base64 of base64: decode inner runs in place, same mapping
                inner = _blob_edits(decoded, kind, budget, depth + 1, candidates(decoded))
                decoded = apply_edits(decoded, inner)[0]
            edits.append((a, b, decoded))
    return edits


def _pct_groups(word: str) -> Edits:
    groups = (
        (*g.span(), _utf8(bytes.fromhex(g.group().replace("%", "")), blob=False))
        for g in _PCT_GROUP.finditer(word)
    )
    return [(a, b, d) for a, b, d in groups if d is not None]


def _pct_edits(text: str, budget: Budget) -> Edits:
    edits: Edits = []
    for token in _PCT_TOKEN.finditer(text) if "%" in text else ():
        if groups := _pct_groups(token.group()):
            budget.charge("".join(d for _, _, d in groups))
            once = apply_edits(token.group(), groups)[0]
            if inner := _pct_groups(once):  # double-encoded (%2540): the token maps to the result
                edits.append((*token.span(), apply_edits(once, inner)[0]))
            else:  # each %xx maps to itself only, so redacting a value leaves the rest of a URL
                edits += [(token.start() + a, token.start() + b, d) for a, b, d in groups]
    return edits


def decoded(text: str, kind: str, budget: Budget, runs: list[_Lines]) -> tuple[str, OffsetMap] | None:
    edits = _pct_edits(text, budget) if kind == "percent" else _blob_edits(text, kind, budget, 1, runs)
    return apply_edits(text, edits) if edits else None


# --- json: documents located with raw_decode (the parser says where they end), then their string
# literals unescaped with a map per escape, so "\u0040" maps to exactly those six characters.
_JSON_OPEN = re.compile(r'[{\[]\s*["{\[]|"(?=[^"\n]*\\)')  # a container able to hold strings, or a
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # lone string literal with an escape in it
_ESCAPE = re.compile(r"\\u([dD][89abAB]\w\w)\\u([dD][c-fC-F]\w\w)|\\u(\w{4})|\\(.)", re.S)
_SIMPLE_ESCAPES = MappingProxyType({"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"})


def _json_regions(text: str) -> list[tuple[int, int]]:
    decoder, regions, pos, failures = json.JSONDecoder(), [], 0, 0
    while failures < MAX_JSON_FAILURES and (m := _JSON_OPEN.search(text, pos)) is not None:
        try:
            pos = decoder.raw_decode(text, m.start())[1]  # a success moves past what it read
            regions.append((m.start(), pos))
        except (ValueError, RecursionError):  # not JSON after all; RecursionError: "[[[[..." x 10^5
            pos, failures = m.start() + 1, failures + 1
    return regions


def _unescape(text: str, a: int, b: int) -> tuple[str, OffsetMap]:
    """The value of the JSON string literal whose contents are ``text[a:b]`` (validated already)."""
    builder = MapBuilder(text, a)
    for m in _ESCAPE.finditer(text, a, b):
        high, low, code, simple = m.groups()
        if high:
            char = chr(0x10000 + ((int(high, 16) - 0xD800) << 10) + int(low, 16) - 0xDC00)
        elif code:
            char = chr(int(code, 16))
            char = "\ufffd" if "\ud800" <= char <= "\udfff" else char  # a lone surrogate can't be encoded
        else:
            char = _SIMPLE_ESCAPES.get(simple, simple)
        builder.replace(*m.span(), char)
    builder.copy_to(b)
    return builder.finish(rest=False)


def _json_strings(out: MapBuilder, text: str, regions: list[tuple[int, int]], depth: int) -> bool:
    """Append the string values in ``regions`` to ``out``, one per line; True if any had escapes.

    The newline between two values maps to the JSON between them (closing quote to opening quote),
    so every view character has a source and the map stays monotone.  A value that holds JSON
    itself has its documents replaced by their own values, in place.
    """
    escaped, previous = False, -1
    for literal in (lit for start, end in regions for lit in _STRING.finditer(text, start, end)):
        value, mapping = _unescape(text, literal.start() + 1, literal.end() - 1)
        escaped = escaped or "\\" in literal.group()
        if depth < MAX_DEPTH and (nested := _json_regions(value)):
            inner = MapBuilder(value)
            for a, b in nested:
                inner.copy_to(a)
                before = inner.map.length
                _json_strings(inner, value, [(a, b)], depth + 1)
                if inner.map.length > before:  # else (no strings: "[1, 2]") the document stays as is
                    inner.skip_to(b)
            value, inner_map = inner.finish()
            mapping = inner_map.compose(mapping)
        if value:
            if previous >= 0:
                out.put("\n", previous - 1, literal.start() + 1)
            out.add(value, mapping)
            previous = literal.end()
    return escaped


def json_values(text: str) -> tuple[str, OffsetMap] | None:
    if "\\" not in text or '"' not in text:  # nothing escaped: every value is in raw already
        return None
    out = MapBuilder(text)
    return out.finish(rest=False) if _json_strings(out, text, _json_regions(text), 1) else None
