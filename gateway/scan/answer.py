"""The detectors run on answers: structured personal data and secrets, no NER.

An answer is scanned as it streams, many times per second, so only detectors that are cheap and
certain run on it: presidio's patterns and checksums (e-mail, phone, card, IBAN, national ids,
...) without the statistical model, and the secret rules.  Names, places and organisations are
left alone on purpose: models talk about people and places all the time, and guessing at them
in every answer would redact history lessons.  A cheap trigger skips text that has nothing any of
these detectors could match (:meth:`AnswerDetector.worth`: no long digit run, no ``@``, no long
token, no secret keyword).

The engine runs this detector over the normalised views of the answer
(:meth:`~gateway.scan.engine.ScanEngine.scan_answer`).
"""

from __future__ import annotations

import re
from typing import Protocol

from gateway.scan.findings import Hit

# Entities the PII patterns report that are not, on their own, someone else's data in an answer.
NOT_IN_ANSWERS = frozenset(
    {"PERSON", "LOCATION", "ORGANIZATION", "NRP", "URL", "DOMAIN_NAME", "DATE_TIME", "DATE_OF_BIRTH"}
)
# What any of these detectors needs somewhere in a value: a run of digits long enough for a phone,
# card or id number, an "@" (also percent-encoded), a long token, a key block, or a secret's keyword.
_TRIGGER = re.compile(
    r"@|%40|\d[\d\s().\-/+]{3,}\d|[A-Za-z0-9_\-+/=]{16,}|-----BEGIN"
    r"|(?i:passw|passwd|pwd|secret|token|api[_ -]?key|bearer|credential)"
)


class _Pii(Protocol):
    def detect_many(self, texts: list[str], *, ner: bool = True) -> list[list[Hit]]: ...


class _Detector(Protocol):
    def detect(self, text: str) -> list[Hit]: ...


class AnswerDetector:
    """``ignore``: entities left out (by default those that are not someone else's data in an answer).
    The engine's seam scan uses the same detector with nothing left out (``seam_detector``)."""

    name = "answer"

    def __init__(self, pii: _Pii, secrets: _Detector, ignore: frozenset[str] = NOT_IN_ANSWERS) -> None:
        self._pii = pii
        self._secrets = secrets
        self._ignore = ignore

    @staticmethod
    def worth(text: str) -> bool:
        """Whether ``text`` could hold anything :meth:`detect` finds (a cheap over-approximation, checked
        by the answer guard before it asks for a scan)."""
        return _TRIGGER.search(text) is not None

    def detect(self, text: str) -> list[Hit]:
        hits = [h for h in self._pii.detect_many([text], ner=False)[0] if h.entity not in self._ignore]
        hits.extend(self._secrets.detect(text))
        return hits


def seam_detector(pii: _Pii, secrets: _Detector) -> AnswerDetector:
    """The detector of the joints between a request's parts (``ScanEngine``'s seam scan): a value split
    across parts is a structured one (a card, account or phone number, an e-mail address, a key), so
    the joints are read by the patterns, checksums and secret rules without the NER, whose names
    across a joint are two parts' words (the engine drops them there anyway, ``SEAM_UNSPLIT``).
    Without it a joint costs a fraction as much, and every request of more than one part has joints."""
    return AnswerDetector(pii, secrets, ignore=frozenset())
