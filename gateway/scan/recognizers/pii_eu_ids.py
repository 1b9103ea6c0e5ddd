"""European national identifiers presidio 2.2.366 lacks, each with its checksum.

Presidio already has (and ``gateway.scan.pii`` registers) the UK NINO and NHS number, Spain's DNI/NIF
and NIE (check letter), Italy's codice fiscale, Poland's PESEL, Sweden's personnummer (Luhn),
Finland's HETU and Germany's Steuer-ID and Personalausweis.  Added here:

* ``FR_NIR``: French social security number (NIR/INSEE), 13 digits + 2-digit key = 97 - (n mod 97),
  Corsica's 2A/2B departments counted as 19/18 as INSEE specifies.
* ``NL_BSN``: Dutch citizen service number, 9 digits passing the "elfproef" (weights 9..2, -1).
* ``BE_NATIONAL_NUMBER``: Belgian Rijksregisternummer, YY.MM.DD-NNN.CC with a mod-97 check
  (+2000000000 for people born from 2000 on).

A bare 9-digit run passes the 11-check one time in eleven, so the BSN needs its context word to
score above the threshold; the NIR and Belgian number carry enough structure on their own.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

_NON_DIGIT = re.compile(r"[^0-9AB]", re.IGNORECASE)


class FrNirRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern(
            "FR NIR",
            r"\b[12][ .]?\d{2}[ .]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .]?(?:\d{2}|2A|2B)"
            r"[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}\b",
            0.5,
        )
    ]
    CONTEXT: ClassVar[list[str]] = [
        "sécurité sociale",
        "securite sociale",
        "insee",
        "nir",
        "numéro de sécu",
        "social security",
        "ssn",
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="FR_NIR", patterns=self.PATTERNS, context=self.CONTEXT, name="FrNirRecognizer"
        )

    def validate_result(self, pattern_text: str) -> bool:
        value = _NON_DIGIT.sub("", pattern_text).upper()
        if len(value) != 15:
            return False
        body = value[:13].replace("2A", "19").replace("2B", "18")
        if not body.isdigit():
            return False
        return 97 - int(body) % 97 == int(value[13:])


class NlBsnRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("NL BSN", r"\b\d{4}[ .]?\d{2}[ .]?\d{3}\b|\b\d{3}[ .]\d{3}[ .]\d{3}\b", 0.3)
    ]
    CONTEXT: ClassVar[list[str]] = [
        "bsn",
        "burgerservicenummer",
        "sofinummer",
        "citizen service number",
        "sofi",
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="NL_BSN", patterns=self.PATTERNS, context=self.CONTEXT, name="NlBsnRecognizer"
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = [int(ch) for ch in pattern_text if ch.isdigit()]
        if len(digits) != 9 or digits[0] == digits[-1] == 0:
            return False
        total = (
            sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits[:8], strict=True)) - digits[8]
        )
        # A passing 11-check is necessary but weak: keep the pattern's score (None), let context raise it.
        return None if total % 11 == 0 else False


class BeNationalNumberRecognizer(PatternRecognizer):
    PATTERNS: ClassVar[list[Pattern]] = [
        Pattern("BE national number", r"\b\d{2}[.]?\d{2}[.]?\d{2}[-. ]?\d{3}[-. ]?\d{2}\b", 0.5)
    ]
    CONTEXT: ClassVar[list[str]] = [
        "rijksregisternummer",
        "numéro national",
        "national number",
        "nn",
        "rrn",
        "insz",
        "niss",
    ]

    def __init__(self) -> None:
        super().__init__(
            supported_entity="BE_NATIONAL_NUMBER",
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            name="BeNationalNumberRecognizer",
        )

    def validate_result(self, pattern_text: str) -> bool:
        digits = "".join(ch for ch in pattern_text if ch.isdigit())
        if len(digits) != 11 or not 1 <= int(digits[2:4]) % 20 <= 12:
            return False
        body, check = int(digits[:9]), int(digits[9:])
        return check in (97 - body % 97, 97 - (2_000_000_000 + body) % 97)
