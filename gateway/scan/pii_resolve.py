"""Which of the PII recognizers' results stand: per-entity thresholds, then the rules for results
that overlap (a validated card number is not also a phone number; a name inside an e-mail address
or a street address adds nothing; a gazetteer place inside a person's name is part of the name).
A pure function of the results, tested through ``PiiDetector`` in ``tests/scan/test_pii*.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from presidio_analyzer import RecognizerResult

from gateway.scan.findings import Hit

# A finding of one of these types, validated by checksum or strict syntax, wins over weaker
# findings it overlaps: the same digits are not also a phone number, bank account or licence.
_STRONG = frozenset(
    {
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "EMAIL_ADDRESS",
        "IP_ADDRESS",
        "CRYPTO",
        "UK_NHS",
        "ES_NIF",
        "ES_NIE",
        "IT_FISCAL_CODE",
        "FR_NIR",
        "BE_NATIONAL_NUMBER",
        "DATE_OF_BIRTH",
    }
)
_WEAK = frozenset(
    {"PHONE_NUMBER", "US_BANK_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE", "NL_BSN", "DE_TAX_ID",
     "DE_ID_CARD", "PL_PESEL", "SE_PERSONNUMMER",
     "MEDICAL_LICENSE", "UK_NINO", "US_ITIN", "FI_PERSONAL_IDENTITY_CODE", "STREET_ADDRESS", "URL"}
)  # fmt: skip
# NER-style findings inside a containing structured finding add nothing and are usually wrong
# ("Rua João Pessoa 1636" is an address, not a person; "JonathanLaursen" in an e-mail is covered).
_CONTAINERS = frozenset({"STREET_ADDRESS", "EMAIL_ADDRESS", "URL"})
_CONTAINED = frozenset({"PERSON", "ORGANIZATION", "LOCATION", "NRP", "PHONE_NUMBER", "US_DRIVER_LICENSE"})


@dataclass(frozen=True, slots=True)
class _Result:
    entity: str
    start: int
    end: int
    score: float
    detector: str


def resolve(
    results: Sequence[RecognizerResult], thresholds: Mapping[str, float], default: float
) -> list[Hit]:
    """The results at or above their entity's threshold (``default`` where none is set) that no
    other result overrules, as hits in text order."""
    kept = [
        _Result(r.entity_type, r.start, r.end, float(r.score), _detector(r))
        for r in results
        if r.end > r.start and r.score >= thresholds.get(r.entity_type, default)
    ]
    strong = [r for r in kept if r.entity in _STRONG]
    containers = [r for r in kept if r.entity in _CONTAINERS]
    final = []
    for r in kept:
        if r.entity in _WEAK and any(_overlaps(r, s) for s in strong):
            continue
        if r.entity in _CONTAINED and any(_contains(c, r) for c in containers):
            continue
        if _shadowed(r, kept):
            continue
        final.append(r)
    final.sort(key=lambda r: (r.start, -r.end, r.entity))
    return [Hit("pii", r.entity, r.start, r.end, round(r.score, 3), r.detector) for r in final]


def _detector(result: RecognizerResult) -> str:
    metadata = result.recognition_metadata or {}
    return str(metadata.get(RecognizerResult.RECOGNIZER_NAME_KEY, "presidio"))


# Gazetteer and pattern findings that lose to a containing finding of another kind: a place name
# inside a person's name ("Sofia Lima"), a surname inside a firm's name ("Davis, Reynolds and Williamson").
_SHADOWS: Mapping[tuple[str, str], str] = {
    ("LOCATION", "PERSON"): "PlaceRecognizer",
    ("PERSON", "ORGANIZATION"): "OrganizationRecognizer",
}


def _shadowed(r: _Result, kept: Sequence[_Result]) -> bool:
    for c in kept:
        if c is r or c.entity == r.entity or not (c.start <= r.start and r.end <= c.end):
            continue
        required = _SHADOWS.get((r.entity, c.entity))
        if required is None:
            continue
        # The place must be the gazetteer's and strictly inside; the firm must be the pattern's.
        if r.entity == "LOCATION" and r.detector == required and (c.end - c.start) > (r.end - r.start):
            return True
        if r.entity == "PERSON" and c.detector == required and r.score < 0.9 and c.score >= 0.6:
            return True
    if r.entity == "LOCATION" and r.detector == "NamedEntityRecognizer":
        # The NER's GPE over what the company patterns call a firm ("support Factset in ...").
        return any(
            c.detector == "OrganizationRecognizer" and c.start <= r.start and r.end <= c.end for c in kept
        )
    if r.entity == "ORGANIZATION" and r.detector == "NamedEntityRecognizer":
        # The small NER's ORG over a known place ("Southern Tunisia", "Velenje") is the place,
        # unless the company patterns agree it is an organisation.
        overlapping = [c for c in kept if c is not r and _overlaps(r, c)]
        return any(c.detector == "PlaceRecognizer" for c in overlapping) and not any(
            c.detector == "OrganizationRecognizer" for c in overlapping
        )
    return False


def _contains(c: _Result, r: _Result) -> bool:
    """``c`` holds ``r`` and overrules it: a wider span, or the same span scored at least as high (the
    addressee line of an address block, scored low, does not hide the name that a person's finding
    scored higher)."""
    if c is r or c.entity == r.entity or not (c.start <= r.start and r.end <= c.end):
        return False
    return (c.end - c.start) > (r.end - r.start) or c.score >= r.score


def _overlaps(a: _Result, b: _Result) -> bool:
    return a is not b and a.start < b.end and b.start < a.end
