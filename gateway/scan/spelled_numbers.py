"""Numbers read out digit by digit ("zero five eight six six three five eight eight eight") or written
as HTML character references (``&#48;&#53;&#56;...``), reported whatever they are.

The ``numwords`` view (:func:`gateway.scan.spellings.number_words`) turns seven or more digit words
in a row back into digits, and the pattern recognizers read it: a card number or an IBAN is found
as such.  A phone number with a national 0, an account or a customer number is not: a bare digit run
says too little to be called a phone number anywhere else.  But nobody spells an ordinary number out
word by word, or a digit at a time as ``&#NN;``; doing so is a way to get it past a pattern (the
``entities`` view decodes those).  So every number the view spelt back is a
finding here (``SPELLED_NUMBER``, personal data as any PII type a policy does not name), and a
digit run the text already had in digits is not, nor is a card number (its own recognizer reads it
in the same view).

The same holds for a number of 8 to 15 digits glued into a word (``acct_38173112Z``,
``ID9940703368255_2``; the ``glued`` view sets it apart): no pattern reads past a word boundary,
and a phone or account number written so is hidden.  (What machines glue to words, a hex literal,
a date, a Unix time, the view leaves alone: :func:`gateway.scan.spellings.glued`.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gateway.scan.findings import Hit
from gateway.scan.only_views import OnlyViews
from gateway.scan.spellings import luhn

ENTITY = "SPELLED_NUMBER"
_SCORE = 0.6
# Seven digits or more, in groups or not ("+45 673 702 629" in character references).
_DIGITS = re.compile(r"\+?[0-9](?:[ .\-]?[0-9]){6,}")
_GLUED = re.compile(r"(?<![0-9])\+?[0-9]{8,15}(?![0-9])")


class SpelledNumberDetector:
    name = "spelled_number"
    skip_views = OnlyViews("numwords", "entities")

    def detect(self, text: str) -> list[Hit]:
        return []  # a view with no change to point at (the engine's fallback) shows nothing spelt

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]:
        hits = []
        for m in _DIGITS.finditer(text):
            if _card(m.group()):
                continue  # a card number: the card recognizer reads it in the same view
            if any(a < m.end() and m.start() < b for a, b in changed):
                hits.append(Hit("pii", ENTITY, m.start(), m.end(), _SCORE, self.name))
        return hits


class GluedNumberDetector:
    """``SPELLED_NUMBER`` for the numbers the ``glued`` view set apart from a word."""

    name = "glued_number"
    skip_views = OnlyViews("glued")

    def detect(self, text: str) -> list[Hit]:
        return []

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]:
        hits = []
        for m in _GLUED.finditer(text):
            if _card(m.group()):
                continue  # a card number: the card recognizer reads it in the same view
            if any(a <= m.end() and b >= m.start() for a, b in changed):  # set apart: a change beside it
                hits.append(Hit("pii", ENTITY, m.start(), m.end(), _SCORE, self.name))
        return hits


def _card(number: str) -> bool:
    """A card number: the Luhn check, and a first digit that card schemes use (2 to 6)."""
    digits = re.sub(r"[^0-9]", "", number)
    return digits[:1] in ("2", "3", "4", "5", "6") and luhn(digits)
