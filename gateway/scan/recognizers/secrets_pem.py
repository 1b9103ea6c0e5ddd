"""Private key blocks: BEGIN through END, or a BEGIN line and whatever body survived truncation.

Not a single regex on purpose: ``BEGIN[\\s\\S]*?END`` re-scans the rest of the text from every
BEGIN, so a prompt of repeated BEGIN lines costs O(n^2).  Here BEGIN and END markers are each
found once and paired by bisection.
"""

from __future__ import annotations

import re
from bisect import bisect_left

_MARKER = r"-----{}[ A-Z0-9]{{0,40}}PRIVATE KEY(?: BLOCK)?-----"
# Body lines of a truncated block: base64 runs, RFC 1421 headers (Proc-Type, DEK-Info) and PGP
# armour headers, separated by real or JSON-escaped newlines.  Short runs count only at a line
# end, so the prose after a pasted fragment is not swallowed word by word.
_SEPARATOR = r"(?:\r?\n|\\r?\\n|[ \t]{1,8})"
_PIECE = (
    r"(?:[A-Za-z0-9+/=]{16,4096}|[A-Za-z0-9+/=]{1,15}(?=\r?\n|\\[rn]|[\"'`]|$)"
    r"|[A-Z][A-Za-z\-]{1,30}:[ \t][^\r\n\\]{1,128})"
)
_BODY = rf"(?:{_SEPARATOR}{{1,3}}{_PIECE}){{0,2000}}"
# A key longer than this is not a key; pairing stops looking for its END beyond it.
_MAX_BLOCK = 64 * 1024


class PrivateKeyScanner:
    """Finds PEM/OpenSSH/PGP private key blocks; built once, stateless per call."""

    def __init__(self) -> None:
        self._begin = re.compile(_MARKER.format("BEGIN"))
        self._end = re.compile(_MARKER.format("END"))
        self._body = re.compile(_BODY)

    def spans(self, text: str) -> list[tuple[int, int]]:
        begins = [(m.start(), m.end()) for m in self._begin.finditer(text)]
        if not begins:
            return []
        ends = [(m.start(), m.end()) for m in self._end.finditer(text)]
        end_starts = [s for s, _ in ends]
        found: list[tuple[int, int]] = []
        covered = -1
        for i, (b_start, b_end) in enumerate(begins):
            if b_start < covered:
                continue
            next_begin = begins[i + 1][0] if i + 1 < len(begins) else len(text)
            j = bisect_left(end_starts, b_end)
            if j < len(ends) and ends[j][0] < next_begin and ends[j][1] - b_start <= _MAX_BLOCK:
                span = (b_start, ends[j][1])
            else:
                body = self._body.match(text, b_end)
                span = (b_start, body.end() if body else b_end)
            found.append(span)
            covered = span[1]
        return found
