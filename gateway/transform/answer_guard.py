"""Output scanning core: find sensitive values in an answer as it streams, and replace them.  Sans-I/O.

:class:`AnswerGuard` is fed the (already restored) answer text piece by piece and returns what may
be sent.  A value can arrive split over many pieces (``user@exa`` + ``mple.com``), so the guard
holds back the tail that could still be part of one: everything after the last *break*, a space or
newline that follows a lowercase letter or sentence punctuation.  Values are made of digits,
capitals and symbols (``+1 (415) 555-0100``, ``DE89 3704 0044``, ``AKIA...``, ``a@b.com``), so they
contain no break and are held whole until they are complete; ordinary prose is released word by
word.  An open ``-----BEGIN`` block is held to its ``-----END``.  Two bounds keep the hold finite:
:data:`MAX_HOLD` characters (PEM blocks: :data:`MAX_PEM_HOLD`), beyond which the oldest part is
scanned and released.

``inspect`` (injected) finds the values in a text and says what replaces each; the guard shows it
the pending text with up to :data:`CONTEXT` characters already released before it, for the
context words ("SSN", "card") detectors score with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MAX_HOLD = 256
MAX_PEM_HOLD = 8192
CONTEXT = 96
_AFTER_OVERFLOW = 64  # what stays held when an over-long run is released

# A space or newline after a lowercase letter or sentence punctuation ends anything a value could be.
_BREAK = re.compile(r"""[a-z,;!?"'`)\]}>*][ \t\n]+|\n\s*\n""")
_PEM_OPEN = "-----BEGIN"
_PEM_CLOSE = "-----END"


@dataclass(frozen=True, slots=True)
class Replacement:
    start: int
    end: int
    text: str


Inspect = Callable[[str], Sequence[Replacement]]
Worth = Callable[[str], bool]


class AnswerGuard:
    __slots__ = ("_context", "_inspect", "_pending", "_worth", "replaced")

    def __init__(self, inspect: Inspect, worth: Worth | None = None) -> None:
        self._inspect = inspect
        # A cheap test of the new text alone: without it, nothing in it can be a value, and the
        # (costlier) inspection is skipped.  Values never start in text already released.
        self._worth = worth
        self._context = ""
        self._pending = ""
        self.replaced = 0  # values replaced so far (for the audit record)

    @property
    def held(self) -> int:
        return len(self._pending)

    def feed(self, text: str) -> str:
        self._pending += text
        return self._release(self._safe_cut())

    def flush(self) -> str:
        return self._release(len(self._pending))

    def _safe_cut(self) -> int:
        pending = self._pending
        cut = 0
        for match in _BREAK.finditer(pending):
            cut = match.end()
        pem = pending.rfind(_PEM_OPEN)
        if pem >= 0 and pending.find(_PEM_CLOSE, pem) < 0:
            cut = min(cut, pem)
            if len(pending) - cut > MAX_PEM_HOLD:
                cut = len(pending) - _AFTER_OVERFLOW
        elif len(pending) - cut > MAX_HOLD:
            cut = len(pending) - _AFTER_OVERFLOW
        return cut

    def _release(self, cut: int) -> str:
        if cut <= 0:
            return ""
        pending, context = self._pending, self._context
        found = self._inspect(context + pending) if self._worth is None or self._worth(pending) else ()
        shift = len(context)
        spans = []
        for r in found:
            start, end = r.start - shift, r.end - shift
            if end <= 0:
                continue  # wholly in text already released
            if start < cut < end and cut < len(pending):
                cut = max(start, 0)  # a value across the cut: hold all of it
            spans.append(Replacement(max(start, 0), end, r.text))
        if cut <= 0:
            return ""
        out: list[str] = []
        position = 0
        for r in sorted(spans, key=lambda r: r.start):
            if r.end > cut or r.start < position:
                continue
            out.append(pending[position : r.start])
            out.append(r.text)
            position = r.end
            self.replaced += 1
        out.append(pending[position:cut])
        self._context = (context + pending[:cut])[-CONTEXT:]
        self._pending = pending[cut:]
        return "".join(out)
