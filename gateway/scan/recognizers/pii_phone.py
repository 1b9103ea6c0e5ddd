"""International phone numbers: one cheap candidate regex, then ``phonenumbers`` across many regions.

Presidio's ``PhoneRecognizer`` runs ``phonenumbers.PhoneNumberMatcher`` once per region over the whole
text (8 regions by default), which is both slow and blind to most European and Asian national formats
("0490 75 40 81", "+46 (0)8 928 571 38", "99 668472").  Here one regex finds digit groups shaped like a
phone number (7-15 digits, single separators, optional +/00 prefix, "(0)" trunk and extension) and
each candidate is scored:

* an international number (``+`` or ``00``) that ``phonenumbers`` validates: high;
* a national number valid in one of ``REGIONS``: medium; merely "possible": low;
* a phone word nearby ("phone", "tel", "mobile", "fax", "call me", "desk", ...): raised, since that is
  what tells a phone number from an order or invoice number.

Dates, IPv4 addresses, and separator-free runs that are also card numbers are left to their own recognizers.
"""

from __future__ import annotations

import re

import phonenumbers
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer, context_after, context_before

# Regions tried for national-format numbers (no + prefix): Europe, the Americas, Asia-Pacific, Africa.
REGIONS = (
    "US", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI", "IS", "IE", "PT",
    "PL", "CZ", "SK", "HU", "SI", "HR", "RS", "BA", "RO", "BG", "GR", "CY", "MT", "LU", "EE", "LV", "LT",
    "UA", "RU", "TR", "IL", "AU", "NZ", "CA", "BR", "MX", "AR", "CL", "CO", "UY", "IN", "JP", "CN", "KR",
    "SG", "HK", "PH", "ZA", "NG", "KE", "AE",
)  # fmt: skip

_CANDIDATE = re.compile(
    r"""
    (?<![\w@/\\.+-])
    (?:\+|\b00)?                       # international prefix
    \(?\d{1,5}\)?                      # first group, maybe in parentheses
    (?:(?:[ .-]|\ ?\(0\)\ ?|\)\ ?|-?\ ?\(|\ ?/\ ?)?\(?\d{1,8}\)?){1,6}
    (?:\ ?(?:x|ext\.?|extension)\ ?\d{1,6})?
    (?![\w@]|[.-]\d)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$", re.IGNORECASE)
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}\b|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_YYYYMMDD = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_CONTEXT_BEFORE = re.compile(
    r"(?i)\b(?:phone|tel|tele(?:phone|fon)|mobile|mob|cell(?:phone)?|fax|call(?:ing)?|sms|text(?:ing)?|"
    r"whats\s?app|signal|contact|reach|desk|office|landline|hotline|dial|ring|"
    r"answering|messages?|voicemail)\b[^\n\d]{0,25}$"
    # Somebody's number: "the plumber's number is", "Anna's no.", "her number:"; not a thing's ("the
    # order's number", "the build's number").
    r"|(?i:(?:(?<!\border)(?<!\bbuild)(?<!\bticket)(?<!\binvoice)(?<!\bcase)(?<!\baccount)(?<!\bitem)"
    r"(?<!\bpart)(?<!\bmodel)(?<!\bversion)(?<!\bproduct)(?<!\bserial)(?<!\btracking)['\u2019]s"
    r"|\b(?:my|his|her|their))\s+(?:direct\s+|home\s+|work\s+|mobile\s+|cell\s+)?"
    r"(?:number|no\.?|nr\.?)\s*(?:is|was|=)?\s*:?\s*)$"
)
_CONTEXT_AFTER = re.compile(r"(?i)\s*[-(]?\s*(?:office|fax|mobile|cell|home|work|desk|phone|tel)\b")


class InternationalPhoneRecognizer(OwnRecognizer):
    """PHONE_NUMBER in E.164 and national formats across ``REGIONS``."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="InternationalPhoneRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _CANDIDATE.finditer(text):
            start, end = match.span()
            candidate = match.group()
            score = self.score(text, start, end, candidate)
            if score > 0:
                results.append(self.result("PHONE_NUMBER", start, end, score, "phone number shape"))
        return results

    @staticmethod
    def score(text: str, start: int, end: int, candidate: str) -> float:
        core = _EXTENSION.sub("", candidate)
        digits = sum(ch.isdigit() for ch in core)
        if not 6 <= digits <= 15:
            return 0.0  # most candidates are short digit groups: out before the context searches
        has_context = context_before(text, start, _CONTEXT_BEFORE, 40) or context_after(
            text, end, _CONTEXT_AFTER
        )
        # Six digits in groups is a short local number ("12 34 56") only where a phone word says so.
        shortest = 6 if has_context and len(re.findall(r"\d+", core)) >= 2 else 7
        if not shortest <= digits <= 15 or _IPV4.match(core) or _SSN_SHAPE.match(core):
            return 0.0
        if _DATE.search(core) and (not has_context or _calendar(core)):
            return 0.0  # "47-23-35" after "number is" is no date: no day 47, no month 23
        if _YYYYMMDD.fullmatch(core):
            return 0.0  # a date with its separators gone (the digits view of "2024-05-06")
        if text.startswith(":", end) and text[end + 1 : end + 2].isdigit():
            return 0.0  # a time of day follows: a timestamp, not a phone number
        separators = sum(not ch.isdigit() for ch in core.lstrip("+"))
        international = core.startswith(("+", "00"))
        validity = _validity(core, international)
        score = 0.0
        if validity == 2:
            score = 0.75 if international else 0.55
        elif validity == 1:
            score = 0.45 if international else 0.3
        groups = len(re.findall(r"\d+", core))
        if separators == 0 and not international:
            # A bare digit run is as likely an order, account or card number; it needs a phone word.
            score = min(score, 0.3)
        elif not international and groups <= 2 and digits < 9 and not core.startswith(("0", "(")):
            # "370 3911" is a valid number somewhere, and just as often a house number and a postcode.
            score = min(score, 0.3)
        elif separators > 0 and validity == 0:
            score = 0.2  # phone-shaped groups no region accepts
        if has_context:
            score = max(score, 0.35) + 0.35
        return min(score, 1.0)


def _calendar(candidate: str) -> bool:
    """Whether a date-shaped candidate can be a date: a day and a month among its first two groups."""
    groups = [int(g) for g in re.findall(r"\d+", candidate)]
    if len(groups) < 3:
        return True
    if groups[0] > 31:  # year first: 2024-05-06
        return 1 <= groups[1] <= 12
    a, b = groups[0], groups[1]
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _validity(candidate: str, international: bool) -> int:
    """2: a valid number somewhere, 1: a possible one, 0: neither."""
    number = candidate.replace("(0)", "")
    if international:
        number = "+" + number[2:] if number.startswith("00") else number
        return _check(number, None)
    best = 0
    for region in REGIONS:
        best = max(best, _check(number, region))
        if best == 2:
            break
    return best


def _check(number: str, region: str | None) -> int:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return 0
    if phonenumbers.is_valid_number(parsed):
        return 2
    return 1 if phonenumbers.is_possible_number(parsed) else 0
