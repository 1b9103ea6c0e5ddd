"""Offset maps for the normalised views of :mod:`gateway.scan.normalize`.

A map is a list of segments, each either a run of characters copied one-to-one or a block of view
characters that all come from one source span (a decoded blob, an NFKC expansion).  Maps are
monotone by construction, so the span of ``view[a:b]`` is the first character's source start to
the last one's source end: it covers everything that produced the slice, and costs two bisections.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator

__all__ = ["MapBuilder", "OffsetMap"]


class OffsetMap:
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

    def compose(self, source: OffsetMap | None) -> OffsetMap:
        """This map followed by ``source``'s (``self`` points into the text that ``source`` maps)."""
        if source is None:
            return self
        out = OffsetMap()
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


class MapBuilder:
    """Builds a view from a source string: copies, replacements and deletions in source order."""

    __slots__ = ("_parts", "_pos", "map", "src")

    def __init__(self, src: str, start: int = 0) -> None:
        self.src = src
        self._parts: list[str] = []
        self._pos = start  # the source is consumed up to here
        self.map = OffsetMap()

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

    def add(self, text: str, mapping: OffsetMap) -> None:
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

    def finish(self, *, rest: bool = True) -> tuple[str, OffsetMap]:
        if rest:
            self.copy_to(len(self.src))
        return "".join(self._parts), self.map


Edits = list[tuple[int, int, str]]  # (start, end, replacement): ascending, disjoint


def apply_edits(
    text: str, edits: Iterable[tuple[int, int, str]], *, absorb: bool = False
) -> tuple[str, OffsetMap]:
    """``text`` with each ``(start, end, replacement)`` applied; edits ascending and disjoint."""
    builder = MapBuilder(text)
    for a, b, new in edits:
        builder.replace(a, b, new, absorb=absorb)
    return builder.finish()
