"""Normalised views of a text, each with a map back to the original (pipeline stage 4).

Evasion hides a value from a detector but not from a model: a zero-width space inside an email,
full-width digits, Cyrillic look-alikes, ``4111 1111-1111.1111``, base64, ``\\u0040``.  The engine
runs its detectors on every view from :func:`views` and takes the union; a hit at
``view.text[a:b]`` lies in the original at ``view.to_original(a, b)``.  Views (names are stable,
findings carry them):

* ``raw``       the text itself.
* ``clean``     without Default_Ignorable and format (Cf) characters and C0/C1 controls but ``\\t\\n\\r``.
* ``nfkc``      NFKC of clean, one cluster (a character and its combining marks) at a time.
* ``skeleton``  nfkc with homoglyphs, accents and other scripts' digits folded to ASCII, marks dropped.
* ``digits``    skeleton without the separators inside digit-bearing tokens (cards, IBANs, phones).
* ``base64``, ``hex``, ``percent``  clean with each encoded run replaced by its decoding.
* ``json``      the string values of JSON found in clean, unescaped, one per line.

A map is a list of segments, each either a run of characters copied one-to-one or a block of view
characters that all come from one source span (a decoded blob, an NFKC expansion).  Maps are
monotone by construction, so the span of ``view[a:b]`` is the first character's source start to
the last one's source end: it covers everything that produced the slice, and costs two bisections.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.scan.confusables import SKELETON

__all__ = ["View", "views"]

_MAX_DEPTH = 2  # base64 of base64, a JSON document inside a JSON string; no deeper
_MAX_JSON_FAILURES = 64  # failed raw_decode calls per text: each may read to the end of the text


class _Map:
    """View offsets -> source offsets.  ``segs[k] = (start, end, one_to_one)`` covers the view from
    ``vstarts[k]`` to the next segment; one-to-one: view ``i`` is source ``start + i - vstarts[k]``,
    else every character comes from ``[start, end)``.  Appended to while its view is built only."""

    __slots__ = ("length", "segs", "vstarts")

    def __init__(self) -> None:
        self.vstarts: list[int] = []
        self.segs: list[tuple[int, int, bool]] = []
        self.length = 0

    def copy(self, n: int, o: int) -> None:
        """``n`` view characters that are source ``[o, o+n)`` one-to-one."""
        if n > 0:
            if self.segs and self.segs[-1][2] and self.segs[-1][1] == o:
                self.segs[-1] = (self.segs[-1][0], o + n, True)
            else:
                self._add(self.length, o, o + n, True)
            self.length += n

    def block(self, n: int, o: int, e: int) -> None:
        """``n`` view characters that all come from source ``[o, e)``."""
        if n == 1 and e - o == 1:
            self.copy(1, o)
        elif n > 0:
            if not self.segs or self.segs[-1] != (o, e, False):
                self._add(self.length, o, e, False)
            self.length += n

    def absorb(self, e: int) -> None:
        """Widen the last character's source to end at ``e``: it swallows the invisible or combining
        characters deleted after it, so that redacting a value removes them too."""
        if not self.segs or e <= self.segs[-1][1]:
            return
        o, old, one_to_one = self.segs[-1]
        if one_to_one and self.length - self.vstarts[-1] > 1:  # split the last character off
            self.segs[-1] = (o, old - 1, True)
            self._add(self.length - 1, old - 1, e, False)
        else:
            self.segs[-1] = (o, e, False)

    def _add(self, v: int, o: int, e: int, one_to_one: bool) -> None:
        self.vstarts.append(v)
        self.segs.append((o, e, one_to_one))

    def pieces(self) -> Iterator[tuple[int, int, int, bool]]:
        """(view length, source start, source end, one-to-one) per segment."""
        for k, (o, e, one_to_one) in enumerate(self.segs):
            end = self.vstarts[k + 1] if k + 1 < len(self.vstarts) else self.length
            yield end - self.vstarts[k], o, e, one_to_one

    def char(self, i: int) -> tuple[int, int]:
        k = bisect_right(self.vstarts, i) - 1
        o, e, one_to_one = self.segs[k]
        return (o + i - self.vstarts[k], o + i - self.vstarts[k] + 1) if one_to_one else (o, e)

    def span(self, start: int, end: int) -> tuple[int, int]:
        if start < end:
            return self.char(start)[0], self.char(end - 1)[1]
        # An empty span sits where the next character came from, or where the last one ended.
        o = self.char(start)[0] if start < self.length else self.char(start - 1)[1] if start else 0
        return o, o

    def compose(self, source: _Map | None) -> _Map:
        """This map followed by ``source``'s (``self`` points into the text that ``source`` maps)."""
        if source is None:
            return self
        out = _Map()
        for n, lo, hi, one_to_one in self.pieces():
            if not one_to_one:
                out.block(n, source.char(lo)[0], source.char(hi - 1)[1])
                continue
            k = bisect_right(source.vstarts, lo) - 1
            while lo < hi:  # split the run where source's segments split
                end = source.vstarts[k + 1] if k + 1 < len(source.vstarts) else source.length
                step = min(end, hi) - lo
                o, e, direct = source.segs[k]
                out.copy(step, o + lo - source.vstarts[k]) if direct else out.block(step, o, e)
                lo += step
                k += 1
        return out


class _Builder:
    """Builds a view from a source string: copies, replacements and deletions in source order."""

    __slots__ = ("_parts", "_pos", "map", "src")

    def __init__(self, src: str, start: int = 0) -> None:
        self.src = src
        self._parts: list[str] = []
        self._pos = start  # the source is consumed up to here
        self.map = _Map()

    def replace(self, a: int, b: int, text: str, *, absorb: bool = False) -> None:
        """Copy the source up to ``a``, then put ``text`` for source ``[a, b)`` ('' deletes it)."""
        self.copy_to(a)
        if text:
            self.put(text, a, b)
        elif absorb:
            self.map.absorb(b)
        self._pos = max(self._pos, b)

    def put(self, text: str, a: int, b: int) -> None:
        """Append ``text``, all of it coming from source ``[a, b)``; the position does not move."""
        self._parts.append(text)
        self.map.block(len(text), a, b)

    def add(self, text: str, mapping: _Map) -> None:
        """Append a piece built elsewhere whose ``mapping`` points into this builder's source."""
        for n, o, e, one_to_one in mapping.pieces():
            self.map.copy(n, o) if one_to_one else self.map.block(n, o, e)
        self._parts.append(text)

    def overwrite(self, a: int, text: str) -> None:
        """Copy the source up to ``a``, then ``text`` in place of as many characters, one-to-one."""
        self.copy_to(a)
        self._parts.append(text)
        self.map.copy(len(text), a)
        self._pos = a + len(text)

    def skip_to(self, a: int) -> None:
        self._pos = max(self._pos, a)

    def copy_to(self, a: int) -> None:
        if a > self._pos:
            self._parts.append(self.src[self._pos : a])
            self.map.copy(a - self._pos, self._pos)
            self._pos = a

    def finish(self, *, rest: bool = True) -> tuple[str, _Map]:
        if rest:
            self.copy_to(len(self.src))
        return "".join(self._parts), self.map


_Edits = list[tuple[int, int, str]]  # (start, end, replacement): ascending, disjoint


def _edit(text: str, edits: Iterable[tuple[int, int, str]], *, absorb: bool = False) -> tuple[str, _Map]:
    """``text`` with each ``(start, end, replacement)`` applied; edits ascending and disjoint."""
    builder = _Builder(text)
    for a, b, new in edits:
        builder.replace(a, b, new, absorb=absorb)
    return builder.finish()


_Built = tuple[str, _Map | None]  # a view's text and its map to the original (None: identity)


def _on(source: _Built, local: tuple[str, _Map | None] | None) -> _Built:
    """Place a view built from ``source`` (``local`` maps into source's text) onto the original."""
    if local is None:
        return source
    text, mapping = local
    return text, source[1] if mapping is None else mapping.compose(source[1])


# --- clean: Default_Ignorable_Code_Point (DerivedCoreProperties.txt), all of Cf, C0/C1 but \t\n\r.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]+"
)
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # the same on ASCII, 4x faster


def _clean(text: str) -> tuple[str, _Map] | None:
    if (_ASCII_CONTROL if text.isascii() else _INVISIBLE).search(text) is None:
        return None
    return _edit(text, ((*m.span(), "") for m in _INVISIBLE.finditer(text)), absorb=True)


# --- nfkc: per cluster, so that each output character knows which characters it came from.
_NON_ASCII = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")  # with the ASCII letter a mark may sit on
_NFKC = functools.partial(unicodedata.normalize, "NFKC")


def _continues(ch: str) -> bool:
    """True when ``ch`` belongs to the cluster before it: a combining mark, a Hangul vowel or final,
    a half-width kana voicing mark (NFKC composes all of these with what precedes them)."""
    return unicodedata.category(ch)[0] == "M" or "\u1160" <= ch <= "\u11ff" or ch in "\uff9e\uff9f"


def _nfkc(text: str) -> tuple[str, _Map] | None:
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return None
    builder = _Builder(text)
    for m in _NON_ASCII.finditer(text):
        _nfkc_run(builder, text, *m.span())
    return builder.finish()


def _nfkc_run(builder: _Builder, text: str, lo: int, hi: int) -> None:
    # Halve until a stretch is normalised already (one C call) or short: CJK text with one
    # full-width digit costs a few calls, not a Python step per character.
    if unicodedata.is_normalized("NFKC", stretch := text[lo:hi]):
        return
    mid = (lo + hi) // 2
    while hi - lo > 64 and mid < hi and _continues(text[mid]):
        mid += 1
    if hi - lo > 64 and mid < hi:
        _nfkc_run(builder, text, lo, mid)
        _nfkc_run(builder, text, mid, hi)
        return
    # NFKC never deletes: one character for each and the same whole is a one-to-one map (full-width
    # letters and digits), done in one go.  Anything else goes cluster by cluster.
    if len(folded := "".join(map(_NFKC, stretch))) == hi - lo and folded == _NFKC(stretch):
        builder.overwrite(lo, folded)
        return
    while lo < hi:
        end = lo + 1
        while end < hi and _continues(text[end]):
            end += 1
        if (normal := _NFKC(text[lo:end])) != text[lo:end]:
            builder.replace(lo, end, normal)
        lo = end


# --- skeleton: a one-to-one translation (no map of its own), then stray combining marks (zalgo)
# deleted.  str.translate costs ~120 ns a character on any non-ASCII string, so text with a few
# non-ASCII characters (curly quotes, a name) has just its non-ASCII runs translated.
_NON_ASCII_ONLY = re.compile(r"[^\x00-\x7f]+")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _skeleton(text: str) -> tuple[str, _Map | None] | None:
    if text.isascii():
        return None
    if len(text.encode("utf-8", "surrogatepass")) - len(text) > len(text) // 8:  # dense non-ASCII
        folded = text.translate(SKELETON)
        marks = [(*m.span(), "") for m in _MARKS.finditer(text)]
    else:
        parts: list[str] = []
        marks, pos = [], 0
        for run in _NON_ASCII_ONLY.finditer(text):  # marks are non-ASCII too: looked for in runs only
            parts += (text[pos : run.start()], run.group().translate(SKELETON))
            marks += ((*m.span(), "") for m in _MARKS.finditer(text, *run.span()))
            pos = run.end()
        folded = "".join(parts) + text[pos:]  # the same length: positions in text are positions here
    if not marks:
        return None if folded == text else (folded, None)
    return _edit(folded, marks, absorb=True)


# --- digits: separators between the groups of a digit-bearing token.  Two groups join when both
# hold a digit, or through one short all-capital group between two that do (the bank code in
# "GB82 WEST 1234"); so "hello world", "2 apples" and the label in "SSN 123-45-6789" stay apart.
_SEP = "[ .\\-/_\u00a0\u2007\u2009\u202f]{1,3}"
_DIGIT_GROUP = re.compile(r"[0-9][0-9A-Za-z]*")  # from a group's first digit: only its end matters
_NEXT_GROUP = re.compile(_SEP + r"([0-9A-Za-z]+)")


def _digits(text: str) -> tuple[str, _Map] | None:
    if not any(digit in text for digit in "0123456789"):  # ten memchr calls beat one regex scan
        return None
    cuts: list[tuple[int, int, str]] = []
    for m in _DIGIT_GROUP.finditer(text):
        if (after := _NEXT_GROUP.match(text, m.end())) is None:
            continue
        if not after.group(1).isalpha():  # ASCII alphanumerics: not all letters means a digit
            cuts.append((m.end(), after.start(1), ""))
        elif len(after.group(1)) <= 4 and after.group(1).isupper():
            beyond = _NEXT_GROUP.match(text, after.end())
            if beyond is not None and not beyond.group(1).isalpha():
                cuts += ((m.end(), after.start(1), ""), (after.end(), beyond.start(1), ""))
    return _edit(text, cuts) if cuts else None


# --- decoded blobs: a decoded run replaces its encoded run and maps to all of it.  Hex runs are
# looked for inside base64-alphabet runs only, so one scan of ordinary prose serves both views.
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX_RUN = re.compile(r"(?<![0-9A-Za-z])(?:0[xX])?((?:[0-9A-Fa-f]{2}){8,})(?![0-9A-Za-z])")
_PCT_TOKEN = re.compile(r"%[0-9A-Fa-f]{2}\S*")  # from the first escape on: a literal start is fast
_PCT_GROUP = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")


def _candidates(text: str) -> list[re.Match[str]]:
    """Base64-alphabet runs, the candidates for both base64 and hex.  Looked for only in the
    whitespace-split words of 16+ characters: twice as fast as the regex over a whole prose text."""
    runs: list[re.Match[str]] = []
    pos = 0
    for word in text.split():
        if len(word) >= 16:  # its first occurrence after the previous long word is this very word
            at = text.find(word, pos)
            pos = at + len(word)
            runs += _B64_RUN.finditer(text, at, pos)
    return runs


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


def _b64(m: re.Match[str]) -> str | None:
    body = m.group().rstrip("=")
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


def _decodings(text: str, kind: str, runs: list[re.Match[str]]) -> Iterator[tuple[int, int, str | None]]:
    for run in runs:
        if kind == "base64":
            yield run.start(), run.end(), _b64(run)
        elif not run.group().isalpha():  # hex of text is at least half digits
            for m in _HEX_RUN.finditer(text, *run.span()):
                yield m.start(), m.end(), _utf8(bytes.fromhex(m[1]), blob=True)


def _blob_edits(text: str, kind: str, budget: list[int], depth: int, runs: list[re.Match[str]]) -> _Edits:
    edits: _Edits = []
    for a, b, decoded in _decodings(text, kind, runs):
        if budget[0] <= 0:
            break
        if decoded is not None:
            budget[0] -= 1
            if depth < _MAX_DEPTH:  # base64 of base64: decode inner runs in place, same mapping
                inner = _blob_edits(decoded, kind, budget, depth + 1, _candidates(decoded))
                decoded = _edit(decoded, inner)[0]
            edits.append((a, b, decoded))
    return edits


def _pct_groups(word: str) -> _Edits:
    groups = (
        (*g.span(), _utf8(bytes.fromhex(g.group().replace("%", "")), blob=False))
        for g in _PCT_GROUP.finditer(word)
    )
    return [(a, b, d) for a, b, d in groups if d is not None]


def _pct_edits(text: str, budget: list[int]) -> _Edits:
    edits: _Edits = []
    for token in _PCT_TOKEN.finditer(text) if "%" in text else ():
        if budget[0] <= 0:
            break
        if groups := _pct_groups(token.group()):
            budget[0] -= 1
            once = _edit(token.group(), groups)[0]
            if inner := _pct_groups(once):  # double-encoded (%2540): the token maps to the result
                edits.append((*token.span(), _edit(once, inner)[0]))
            else:  # each %xx maps to itself only, so redacting a value leaves the rest of a URL
                edits += [(token.start() + a, token.start() + b, d) for a, b, d in groups]
    return edits


def _decoded(text: str, kind: str, max_decoded: int, runs: list[re.Match[str]]) -> tuple[str, _Map] | None:
    budget = [max_decoded]  # shared with the nested decodes
    edits = _pct_edits(text, budget) if kind == "percent" else _blob_edits(text, kind, budget, 1, runs)
    return _edit(text, edits) if edits else None


# --- json: documents located with raw_decode (the parser says where they end), then their string
# literals unescaped with a map per escape, so "\u0040" maps to exactly those six characters.
_JSON_OPEN = re.compile(r'[{\[]\s*["{\[]|"(?=[^"\n]*\\)')  # a container able to hold strings, or a
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # lone string literal with an escape in it
_ESCAPE = re.compile(r"\\u([dD][89abAB]\w\w)\\u([dD][c-fC-F]\w\w)|\\u(\w{4})|\\(.)", re.S)
_SIMPLE_ESCAPES = MappingProxyType({"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"})


def _json_regions(text: str) -> list[tuple[int, int]]:
    decoder, regions, pos, failures = json.JSONDecoder(), [], 0, 0
    while failures < _MAX_JSON_FAILURES and (m := _JSON_OPEN.search(text, pos)) is not None:
        try:
            pos = decoder.raw_decode(text, m.start())[1]  # a success moves past what it read
            regions.append((m.start(), pos))
        except (ValueError, RecursionError):  # not JSON after all; RecursionError: "[[[[..." x 10^5
            pos, failures = m.start() + 1, failures + 1
    return regions


def _unescape(text: str, a: int, b: int) -> tuple[str, _Map]:
    """The value of the JSON string literal whose contents are ``text[a:b]`` (validated already)."""
    builder = _Builder(text, a)
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


def _json_strings(out: _Builder, text: str, regions: list[tuple[int, int]], depth: int) -> bool:
    """Append the string values in ``regions`` to ``out``, one per line; True if any had escapes.

    The newline between two values maps to the JSON between them (closing quote to opening quote),
    so every view character has a source and the map stays monotone.  A value that holds JSON
    itself has its documents replaced by their own values, in place.
    """
    escaped, previous = False, -1
    for literal in (lit for start, end in regions for lit in _STRING.finditer(text, start, end)):
        value, mapping = _unescape(text, literal.start() + 1, literal.end() - 1)
        escaped = escaped or "\\" in literal.group()
        if depth < _MAX_DEPTH and (nested := _json_regions(value)):
            inner = _Builder(value)
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


def _json(text: str) -> tuple[str, _Map] | None:
    if "\\" not in text or '"' not in text:  # nothing escaped: every value is in raw already
        return None
    out = _Builder(text)
    return out.finish(rest=False) if _json_strings(out, text, _json_regions(text), 1) else None


@dataclass(frozen=True, slots=True)
class View:
    """One normalised text; ``to_original`` maps a span of it back to the original text."""

    name: str  # "raw", "clean", "nfkc", "skeleton", "digits", "base64", "hex", "percent", "json"
    text: str
    _map: _Map | None = field(default=None, repr=False, compare=False)  # None: the identity

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original that produced ``text[start:end]``: covering, never narrower."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span {start}:{end} outside view {self.name!r} of length {len(self.text)}")
        return (start, end) if self._map is None else self._map.span(start, end)


def views(text: str, *, max_decoded: int = 8) -> list[View]:
    """``raw`` first, then each other view whose text differs from every view before it.

    ``max_decoded`` bounds the runs decoded for each decoding view, nested ones included.
    """
    clean = _on((text, None), _clean(text))
    nfkc = _on(clean, _nfkc(clean[0]))
    skeleton = _on(nfkc, _skeleton(nfkc[0]))
    runs = _candidates(clean[0])
    built: list[tuple[str, _Built]] = [
        ("clean", clean),
        ("nfkc", nfkc),
        ("skeleton", skeleton),
        ("digits", _on(skeleton, _digits(skeleton[0]))),
        ("base64", _on(clean, _decoded(clean[0], "base64", max_decoded, runs))),
        ("hex", _on(clean, _decoded(clean[0], "hex", max_decoded, runs))),
        ("percent", _on(clean, _decoded(clean[0], "percent", max_decoded, runs))),
        ("json", _on(clean, _json(clean[0]))),
    ]
    out, seen = [View("raw", text)], {text}
    for name, (view_text, mapping) in built:
        if view_text not in seen:
            seen.add(view_text)
            out.append(View(name, view_text, mapping))
    return out
