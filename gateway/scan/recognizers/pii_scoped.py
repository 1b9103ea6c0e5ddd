"""presidio's pattern recognizers, run only on the runs of text that hold their trigger.

presidio runs every pattern over the whole text: the URL patterns (a 1,500-name TLD alternation tried
at almost every letter), the e-mail pattern and the driver's licence alternation cost up to 1 ms per
KB each on prose that has no URL, address or licence in it at all.  None of the patterns scoped here
can match ASCII whitespace, and their look-arounds and ``\\b`` look at most one character past a
match, where such a run of text always has whitespace or the end of the text.  So running them on
the maximal runs of non-whitespace that hold a trigger (a character every match contains), joined by
single spaces, finds exactly the matches a run over the whole text finds, at a fraction of the cost
(``tests/scan/test_pii_scoped.py`` compares the two).  A pattern that can match whitespace (an SSN
written ``123 45 6789``), uses ``^``/``$`` or looks further than one character does not qualify.
"""

from __future__ import annotations

import bisect
import re
from typing import Any, ClassVar

from presidio_analyzer import PatternRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    CryptoRecognizer,
    DeIdCardRecognizer,
    DeTaxIdRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    FiPersonalIdentityCodeRecognizer,
    IpRecognizer,
    MedicalLicenseRecognizer,
    PlPeselRecognizer,
    SePersonnummerRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
)

from gateway.scan.pii_nlp import ScanArtifacts

# ASCII whitespace only: every one of these is whitespace and a non-word character for the ``regex``
# module presidio matches with, so a run boundary is never inside anything its patterns match.
# (Python's ``\s`` would also split at U+001C-U+001F, which ``regex`` lets a URL path contain.)
_SPACES = " \t\n\r\f\v"
_SPACE = re.compile(f"[{_SPACES}]")


def runs_holding(trigger: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """(start, end) of each maximal whitespace-free run of ``text`` that holds a match of ``trigger``
    (which must not match whitespace itself).

    Searching for the trigger and widening each hit to its run is linear and mostly C: a regex
    for "a run holding the trigger" tries the trigger at every character of every run, 4-30x slower."""
    spans: list[tuple[int, int]] = []
    position = 0
    while (match := trigger.search(text, position)) is not None:
        start = max(position, max(text.rfind(space, position, match.start()) for space in _SPACES) + 1)
        after = _SPACE.search(text, match.end())
        end = len(text) if after is None else after.start()
        spans.append((start, end))
        position = end
    return spans


# The runs holding a trigger, where each starts in the joined text, and the runs joined by spaces.
_Scoped = tuple[list[tuple[int, int]], list[int], str]


def _scope(trigger: re.Pattern[str], text: str) -> _Scoped:
    spans = runs_holding(trigger, text)
    # One call over the runs joined by spaces, not one per run: presidio's per-call cost (a
    # clock read and a log record per pattern) would eat the saving on text with many runs.
    starts: list[int] = []
    position = 0
    for start, end in spans:
        starts.append(position)
        position += end - start + 1
    return spans, starts, " ".join(text[start:end] for start, end in spans)


class RunScoped(PatternRecognizer):
    """Mixed in before a ``PatternRecognizer`` whose patterns qualify (see the module docstring);
    ``trigger`` matches something every match of every pattern contains."""

    trigger: ClassVar[re.Pattern[str]]
    name: str  # set by presidio's ``EntityRecognizer.__init__``, which leaves it unannotated

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Findings name the recognizer presidio's name, as before scoping: audit records carry it.
        if self.name == type(self).__name__:
            self.name = type(self).__mro__[2].__name__

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        # Ten of these share the digit trigger: within one analysis they share its runs too.
        shared = nlp_artifacts.shared if isinstance(nlp_artifacts, ScanArtifacts) else {}
        scoped: _Scoped | None = shared.get(self.trigger)
        if scoped is None:
            scoped = shared[self.trigger] = _scope(self.trigger, text)
        spans, starts, joined = scoped
        if not spans:
            return []
        results: list[RecognizerResult] = super().analyze(joined, entities, nlp_artifacts, regex_flags)
        for result in results:
            index = bisect.bisect_right(starts, result.start) - 1
            shift = spans[index][0] - starts[index]
            result.start += shift
            result.end += shift
        return results


_DIGIT = re.compile(
    r"\d"
)  # every id number below holds a digit (``regex``'s ``\d`` and ``re``'s: Unicode Nd)


class ScopedUrlRecognizer(RunScoped, UrlRecognizer):
    # A dot before the TLD's first letter (any letter: the patterns ignore case), or a scheme.
    trigger = re.compile(r"\.[^\W\d_]|://")


class ScopedIpRecognizer(RunScoped, IpRecognizer):
    # A dotted digit pair (IPv4) or a colon beside a hex digit or another colon (IPv6).
    trigger = re.compile(r"[0-9]\.[0-9]|[0-9A-Fa-f]:|:[0-9A-Fa-f]|::")


class ScopedUsLicenseRecognizer(RunScoped, UsLicenseRecognizer):
    trigger = _DIGIT


class ScopedMedicalLicenseRecognizer(RunScoped, MedicalLicenseRecognizer):
    trigger = _DIGIT


class ScopedUsPassportRecognizer(RunScoped, UsPassportRecognizer):
    trigger = _DIGIT


class ScopedUsBankRecognizer(RunScoped, UsBankRecognizer):
    trigger = _DIGIT


class ScopedCryptoRecognizer(RunScoped, CryptoRecognizer):
    trigger = _DIGIT  # "1", "3" or "bc1"


class ScopedDeIdCardRecognizer(RunScoped, DeIdCardRecognizer):
    trigger = _DIGIT


class ScopedDeTaxIdRecognizer(RunScoped, DeTaxIdRecognizer):
    trigger = _DIGIT


class ScopedEsNifRecognizer(RunScoped, EsNifRecognizer):
    trigger = _DIGIT


class ScopedEsNieRecognizer(RunScoped, EsNieRecognizer):
    trigger = _DIGIT


class ScopedPlPeselRecognizer(RunScoped, PlPeselRecognizer):
    trigger = _DIGIT


class ScopedSePersonnummerRecognizer(RunScoped, SePersonnummerRecognizer):
    trigger = _DIGIT


class ScopedFiPersonalIdentityCodeRecognizer(RunScoped, FiPersonalIdentityCodeRecognizer):
    trigger = _DIGIT
