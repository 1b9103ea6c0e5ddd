"""DATE_OF_BIRTH: a date next to words that make it a birth date.

A date alone ("the meeting on 3 May") is not personal data and flagging every date would drown the
policy in noise, so presidio's ``DateRecognizer`` is not registered.  A date within a few words after
"DOB", "D.O.B.", "date of birth", "born (on)", "birthday", "geboren", "né(e) le" ... is.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 1985-03-14
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"  # 14/03/1985, 3.14.85
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"  # 14th of March, 1985
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"  # March 14, 1985
    r")"
)
_CUE = (
    r"(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s?date|birthday|born(?:\s+on)?|b\.|"
    r"geboren(?:\s+am)?|geburtsdatum|n[ée]e?\s+le|date\s+de\s+naissance|fecha\s+de\s+nacimiento|"
    r"data\s+di\s+nascita|nato\s+il|nata\s+il|f[öo]delsedatum|f[öo]dd)"
)
_DOB = re.compile(rf"(?i)\b{_CUE}\s*(?:is|was|:|-|=)?\s*(?:on\s+|the\s+)?(?P<date>{_DATE})(?!\d)")


class DateOfBirthRecognizer(OwnRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["DATE_OF_BIRTH"], name="DateOfBirthRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            self.result("DATE_OF_BIRTH", m.start("date"), m.end("date"), 0.85, "date after a birth-date cue")
            for m in _DOB.finditer(text)
        ]
