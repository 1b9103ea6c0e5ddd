"""Stage 9 core: put the original values back in place of their tokens.  Sans-I/O.

:class:`Restorer` is fed the answer's text piece by piece, as a stream delivers it, and returns
what can be sent now.  A token may arrive split across any number of pieces, so the restorer
holds back the shortest tail that could still grow into a token: never more than the longest
token minus one character, and nothing at all when the tail cannot start one.  Whatever the
pieces, the concatenated output equals :func:`restore_text` of the whole answer, byte for byte.

Matching is leftmost, longest token first at each position, the same rule for the whole text and
for the stream, which is what makes the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class Restorer:
    """Replace tokens with values in a text that arrives in pieces."""

    __slots__ = ("_firsts", "_longest", "_mapping", "_pattern", "_pending", "_prefixes")

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = {token: value for token, value in mapping.items() if token}
        tokens = sorted(self._mapping, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, tokens))) if tokens else None
        # Proper prefixes only: a complete token at the end of the buffer is replaced now, unless a
        # longer token could still start there (then that one's prefixes cover it).
        self._prefixes = frozenset(t[:i] for t in tokens for i in range(1, len(t)))
        self._firsts = frozenset(t[0] for t in tokens)
        self._longest = len(tokens[0]) if tokens else 0
        self._pending = ""

    @property
    def held(self) -> int:
        """Characters held back now (for tests and the hold-back bound)."""
        return len(self._pending)

    @property
    def max_hold(self) -> int:
        return max(self._longest - 1, 0)

    def feed(self, text: str) -> str:
        if self._pattern is None:
            return text
        buffer = self._pending + text
        hold = self._hold_start(buffer)
        out: list[str] = []
        position = 0
        for match in self._pattern.finditer(buffer):
            if match.start() >= hold:
                break
            out.append(buffer[position : match.start()])
            out.append(self._mapping[match.group()])
            position = match.end()
        cut = max(position, hold)
        out.append(buffer[position:cut])
        self._pending = buffer[cut:]
        return "".join(out)

    def flush(self) -> str:
        """The end of the text: everything still held, restored."""
        buffer, self._pending = self._pending, ""
        return restore_text(buffer, self._mapping, self._pattern)

    def _hold_start(self, buffer: str) -> int:
        """Where the longest tail of ``buffer`` that is a proper prefix of some token starts."""
        n = len(buffer)
        for start in range(max(0, n - self._longest + 1), n):
            if buffer[start] in self._firsts and buffer[start:] in self._prefixes:
                return start
        return n


def restore_text(text: str, mapping: Mapping[str, str], pattern: re.Pattern[str] | None = None) -> str:
    """The whole-text form: every token in ``text`` replaced by its value."""
    if pattern is None:
        tokens = sorted((t for t in mapping if t), key=len, reverse=True)
        if not tokens:
            return text
        pattern = re.compile("|".join(map(re.escape, tokens)))
    return pattern.sub(lambda m: mapping[m.group()], text)
