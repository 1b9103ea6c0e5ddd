"""The decoding views of :mod:`gateway.scan.normalize`: encoded runs and JSON string values.

* ``base64``, ``hex``, ``percent``: each encoded run replaced by its decoding, which maps to all of
  the run (a wrapped base64 block decodes joined; base64 of base64 is decoded in place).  A base64
  or hex run whose bytes are a gzip, zlib, raw deflate, bzip2 or xz stream decodes to the text the
  stream holds (:func:`opened`), read no further than the budget has bytes left.
* ``json``: the string values of JSON documents, unescaped, one per line, each escape mapped to
  exactly its characters.

Decoding is bounded per text (:class:`Budget`): past ``MAX_DECODED_RUNS`` runs or
``MAX_DECODED_BYTES`` bytes of output, :class:`NormalizationLimit` is raised and the engine reports
``scan_failed`` rather than scan a text only partly decoded.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import json
import lzma
import re
import zlib
from collections.abc import Iterator
from types import MappingProxyType
from typing import Protocol

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

    @property
    def room(self) -> int:
        """Bytes of output left: a compressed stream is read no further than one byte past it."""
        return max(0, self.max_bytes - self.spent_bytes)

    def charge(self, decoded: str) -> None:
        self.spent_runs += 1
        self.spent_bytes += len(decoded.encode("utf-8", "surrogatepass"))
        if self.spent_runs > self.max_runs or self.spent_bytes > self.max_bytes:
            raise self.overrun()

    def attempt(self, runs: int) -> None:
        """Opening a compressed stream costs work before its first byte of output (bzip2 decodes a
        whole block of up to 900 kB first): each attempt counts as ``runs`` runs, whatever it holds."""
        self.spent_runs += runs
        if self.spent_runs > self.max_runs:
            raise self.overrun()

    def discard(self, size: int) -> None:
        """Bytes decompressed and then thrown away (a stream that turned out not to be one) cost as
        much work as kept ones: a text of many such streams stays bounded by the same budget."""
        self.spent_bytes += size
        if self.spent_bytes > self.max_bytes:
            raise self.overrun()

    def overrun(self) -> NormalizationLimit:
        return NormalizationLimit(
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


def _utf8(raw: bytes, *, blob: bool, whole: bool = True) -> str | None:
    """The text, or None for binary: invalid UTF-8; a blank blob or one over 5% control characters;
    any control character in a %xx run.  ``whole=False``: ``raw`` is the start of a longer output,
    which may end inside a character (dropped)."""
    try:
        text = raw.decode("utf-8") if whole else codecs.getincrementaldecoder("utf-8")().decode(raw)
    except UnicodeDecodeError:
        return None
    if blob:
        return text if text.strip() and len(_CONTROL.findall(text)) * 20 <= len(text) else None
    return None if _CONTROL.search(text) else text


def b64_bytes(run: str) -> bytes | None:
    """The bytes a base64 run (standard or urlsafe alphabet, padding optional) encodes, or None."""
    body = run.rstrip("=")
    urlsafe = "-" in body or "_" in body
    if len(body) % 4 == 1 or (urlsafe and ("+" in body or "/" in body)):
        return None
    if body.isalpha() and body.islower():  # a word, "internationalization" (base64 of "AAA" is "QUFB")
        return None
    padded = body + "=" * (-len(body) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def is_text(raw: bytes, *, whole: bool = True) -> bool:
    """Whether decoded bytes read as text as they are (see :func:`_utf8`); ``whole=False``: they may
    end inside a character (a run cut short)."""
    return _utf8(raw, blob=True, whole=whole) is not None


def _text(raw: bytes | None, budget: Budget) -> str | None:
    """What a decoded run reads as: its bytes as text, or the text of the stream they compress."""
    if raw is None:
        return None
    text = _utf8(raw, blob=True)
    return text if text is not None else opened(raw, budget)


# --- compressed blobs: a stream is read a bounded piece at a time, its output never past what the
# budget has left (plus one byte, to know it went past), so a text bomb is a budget overrun like
# any other, after reading no more than the budget.  Its first _PROBE bytes decide: not text (a
# bomb of zeros, an archive, a compressed image), and nothing more is read; opening it costs runs
# (_ATTEMPT), not bytes: it is no decoding.
MAX_LAYERS = 2  # gzip of gzip; no deeper
_PROBE = 512  # output bytes read before deciding whether a stream holds text
_CHUNK = 1 << 16  # output bytes per read after that: a corrupt tail loses at most this much
# xz -9 needs 65 MiB (a 64 MiB dictionary); a crafted header may ask for 1.5 GiB, refused past 72 MiB.
# The dictionary is allocated, not touched: only what is written (within the budget) is resident.
_XZ_MEMORY = 72 << 20
_GZIP, _BZIP2, _XZ = b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00"
# Runs an attempt to open a stream costs (raw deflate, tried on every binary run, costs microseconds
# and is read only as far as the probe): a bzip2 bomb takes ~2 ms to open, gzip and xz ones ~0.05 ms.
_ATTEMPT = MappingProxyType({"zlib": 1, "xz": 1, "bz2": 8, "deflate": 0})
_MAGIC = MappingProxyType({"zlib": _GZIP, "bz2": _BZIP2, "xz": _XZ})  # what starts another member
_CORRUPT = (zlib.error, OSError, EOFError, lzma.LZMAError)


def _format(raw: bytes) -> str | None:
    """How ``raw`` is compressed, by its header: ``zlib`` (zlib or gzip, which zlib reads both),
    ``bz2``, ``xz``, or ``deflate`` (no header: raw deflate, accepted only if its end marker is
    where ``raw`` ends).  None: too short to be any."""
    if raw.startswith(_GZIP) or (
        len(raw) > 2 and raw[0] & 0x8F == 0x08 and int.from_bytes(raw[:2]) % 31 == 0
    ):
        return "zlib"  # zlib's header: method 8 with a window of at most 32 KiB, and a check
    if raw.startswith(_BZIP2) and raw[3:4] in (b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"):
        return "bz2"
    if raw.startswith(_XZ):
        return "xz"
    return "deflate" if len(raw) > 1 else None


class _Codec(Protocol):
    """What zlib's, bz2's and lzma's decompressors share."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


class _Stream:
    """One compressed stream (several, for concatenated gzip, bzip2 or xz members) read a bounded
    piece at a time."""

    __slots__ = ("_codec", "_format", "_input", "ended", "stalled", "trailing")

    def __init__(self, raw: bytes, fmt: str) -> None:
        self._format, self._input = fmt, raw
        self._codec = self._new()
        self.ended = False  # the stream reached its end marker
        self.stalled = False  # the input ran out before that: a truncated stream
        self.trailing = b""  # input after the end that is not another member

    def _new(self) -> _Codec:
        if self._format == "bz2":
            return bz2.BZ2Decompressor()
        if self._format == "xz":
            return lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=_XZ_MEMORY)
        return zlib.decompressobj(47 if self._format == "zlib" else -15)  # 47: zlib or gzip header

    @property
    def done(self) -> bool:
        return self.ended or self.stalled

    def read(self, size: int) -> bytes:
        """Up to ``size`` more bytes of output; fewer only when the stream is done.  Raises one of
        :data:`_CORRUPT` on data the codec cannot read."""
        out = b""
        while len(out) < size and not self.done:
            codec, before = self._codec, self._input
            got = codec.decompress(before, size - len(out))
            # zlib hands back the input it did not read; bz2 and lzma keep it (and pending output)
            tail = getattr(codec, "unconsumed_tail", None)
            self._input = tail if isinstance(tail, bytes) else b""
            out += got
            if codec.eof:
                rest = codec.unused_data
                if self._format != "deflate" and rest.startswith(_MAGIC[self._format]):
                    self._input, self._codec = rest, self._new()
                else:
                    self.ended, self.trailing = True, rest
            elif not got and self._input == before:
                self.stalled = True
        return out


def opened(raw: bytes, budget: Budget, layers: int = MAX_LAYERS, *, whole: bool = True) -> str | None:
    """The text ``raw`` decompresses to, or None: not a stream, corrupt from the start, or holding
    something other than text.  A stream whose text goes past the budget's bytes raises
    :class:`NormalizationLimit` (read no further than that); a stream corrupt or cut short after
    its start reads as the text before that.  ``whole=False``: only whether it holds text matters,
    so a stream with a header is read no further than its first :data:`_PROBE` bytes."""
    fmt = _format(raw)
    if fmt is None:
        return None
    budget.attempt(_ATTEMPT[fmt])
    stream, room, out = _Stream(raw, fmt), budget.room, b""
    try:
        out = stream.read(min(_PROBE, room + 1))
        if layers > 1 and _format(out) in ("zlib", "bz2", "xz"):  # a stream inside a stream
            inner = out + stream.read(room + 1 - len(out))
            if len(inner) > room:
                raise budget.overrun()
            return opened(inner, budget, layers - 1, whole=whole)
        if (probe := _utf8(out, blob=True, whole=False)) is None:
            return None
        if not whole and fmt != "deflate":
            return probe
        while len(out) <= room and not stream.done:
            out += stream.read(min(_CHUNK, room + 1 - len(out)))
    except _CORRUPT:
        if fmt == "deflate":
            budget.discard(len(out))
            return None
    if len(out) > room:
        raise budget.overrun()
    if fmt == "deflate" and not stream.ended:
        budget.discard(len(out))
        return None  # headerless: any bytes may start a deflate stream, few reach its end marker
    if stream.trailing.strip(b"\0"):
        # Not the stream's own bytes (zero padding is): a wrapped block's short last line read with
        # it ("...\nDecode"), which then decodes line by line, or bytes the stream does not explain.
        budget.discard(len(out))
        return None
    return _utf8(out, blob=True, whole=stream.ended)


def _decodings(
    text: str, kind: str, budget: Budget, runs: list[_Lines]
) -> Iterator[tuple[int, int, str | None]]:
    for lines in runs:
        if kind == "base64":  # a wrapped block decodes joined, mapping to all its lines; else by line
            joined = _text(b64_bytes("".join(text[a:b] for a, b in lines)), budget)
            if joined is not None or len(lines) == 1:
                yield lines[0][0], lines[-1][1], joined
            else:
                yield from ((a, b, _text(b64_bytes(text[a:b]), budget)) for a, b in lines)
            continue
        for a, b in lines:
            if not text[a:b].isalpha():  # hex of text is at least half digits
                for m in _HEX_RUN.finditer(text, a, b):
                    yield m.start(), m.end(), _text(bytes.fromhex(m[1]), budget)


def _blob_edits(text: str, kind: str, budget: Budget, depth: int, runs: list[_Lines]) -> Edits:
    edits: Edits = []
    for a, b, decoded in _decodings(text, kind, budget, runs):
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
