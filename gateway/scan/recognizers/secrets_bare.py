"""Keys with no word beside them: a token of 32 characters or more, random beyond doubt.

The entropy scanner (``secrets_entropy``) needs a word such as ``key`` before a token; an AWS
secret key asked about on its own ("is ... a valid key format?"), or written backwards or in
ROT13, has none, yet keeps the shape and randomness of a key (:func:`secrets_stats.bare_key`).

Read in the views that show a token as written or decoded; not in ``digits`` (which joins a
token to the number before it) nor in ``rot13``/``reversed`` (which rewrite tokens that look like
keys already, and would turn ``sha512-...`` into ``fun512-...``).
"""

from __future__ import annotations

import re

from gateway.scan.findings import Hit
from gateway.scan.only_views import OnlyViews
from gateway.scan.recognizers.secrets_stats import bare_key

ENTITY = "GENERIC_HIGH_ENTROPY_SECRET"
_SCORE = 0.6
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/=_\-~.:$])[A-Za-z0-9+/_\-]{32,256}={0,2}(?![A-Za-z0-9+/=_\-~.])")
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_\-]{32}")
_WRAP = 60  # the narrowest common wrap of base64 is 64 columns
_B64_LINE = re.compile(r"[A-Za-z0-9+/_\-]+={0,2}")


class BareKeyDetector:
    name = "bare_keys"
    skip_views = OnlyViews("raw", "clean", "nfkc", "skeleton", "entities", "base64", "hex", "percent", "json")

    def detect(self, text: str) -> list[Hit]:
        if _LONG_RUN.search(text) is None:  # one pass in C; prose has no such run
            return []
        lowered = text.lower()
        hits: list[Hit] = []
        for m in _CANDIDATE.finditer(text):
            start = m.start()
            if lowered.endswith("base64,", 0, start) or not bare_key(m.group()):
                continue  # the data of a data: URI
            if lowered.rfind("-----begin", 0, start) > lowered.rfind("-----end", 0, start):
                continue  # a certificate's body (a private key's has its own rule)
            if _wrapped_blob_line(text, start, m.end()):
                continue  # one line of a wrapped blob: the blob's business (``opaque``), not a key
            hits.append(Hit("secret", ENTITY, start, m.end(), _SCORE, self.name))
        return hits


def _wrapped_blob_line(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole line of 60 characters or more with a line of the same
    alphabet and as long just above or below it: base64 wrapped at 64 or 76 columns (an encrypted
    payload), not a list of keys (40 characters for an AWS secret key, one per line)."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if end - start < _WRAP or text[line_start:start].strip() or text[end:line_end].strip():
        return False
    above = text[text.rfind("\n", 0, max(line_start - 1, 0)) + 1 : max(line_start - 1, 0)].strip()
    below_end = text.find("\n", line_end + 1)
    below = text[line_end + 1 : len(text) if below_end == -1 else below_end].strip()
    return any(len(line) >= _WRAP and _B64_LINE.fullmatch(line) for line in (above, below))
