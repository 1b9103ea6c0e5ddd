"""Payment card numbers and IBANs, validated by checksum.

``CardNumberRecognizer`` replaces presidio's ``CreditCardRecognizer``, whose pattern only knows
13-16 digit numbers starting 3-6 or 1 and so misses 19-digit Visa, 12-19 digit Maestro, the
Mastercard 2-series and 15-digit JCB (2131/1800) numbers.  Here: 12-19 digits with single spaces or
dashes, a valid Luhn check digit, and an issuer prefix (IIN) of a real scheme; a Luhn-valid number
without a known prefix counts only next to a card word.

``IbanAnyCaseRecognizer`` adds lower-case IBANs ("gb42nawi0445...") which presidio's upper-case
pattern skips; the mod-97 check is the same.
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.recognizers.pii_base import OwnRecognizer, context_before

# A card number glued to a word ("Hello4111...", "chatcmpl-4111...", "card_4111...") is still one; after
# a capital it is the tail of a code (an IBAN's account part, a licence number), and digits, decimals,
# fractions ("12/4111...") and a phone's "+" around it make it part of something else.
_CARD = re.compile(r"(?<![\dA-Z.,+])(?<!\d/)\d(?:[ -]?\d){11,18}(?![\d/]|[.,]\d)")
# Issuer prefixes (ISO/IEC 7812 IIN ranges of the main schemes) and the lengths they issue.
_IIN = re.compile(
    r"^(?:4\d{11,18}"  # Visa (incl. 19-digit)
    r"|5[1-5]\d{14}|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}"  # Mastercard
    r"|3[47]\d{13}"  # American Express
    r"|3(?:0[0-5]|[689]\d)\d{11,16}"  # Diners Club
    r"|35(?:2[89]|[3-8]\d)\d{12,15}|(?:2131|1800)\d{11}"  # JCB
    r"|6(?:011|4[4-9]\d|5\d\d)\d{12,15}"  # Discover
    r"|62\d{14,17}"  # UnionPay
    r"|220[0-4]\d{12}"  # Mir
    r"|(?:5[06-9]|6\d)\d{10,17}"  # Maestro
    r")$"
)
_CARD_WORDS = re.compile(
    r"(?i)\b(?:card|credit|debit|visa|master\s?card|amex|american\s+express|discover|jcb|diners|maestro|"
    r"unionpay|cc|pan)\b[^\n]{0,30}$"
)

_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2,7}(?:[ -]?[a-z0-9]{1,3})?(?![A-Za-z0-9])"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(value: str) -> bool:
    compact = re.sub(r"[ -]", "", value).upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


class CardNumberRecognizer(OwnRecognizer):
    def __init__(self) -> None:
        super().__init__(supported_entities=["CREDIT_CARD"], name="CardNumberRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for match in _CARD.finditer(text):
            raw = match.group()
            separators = {ch for ch in raw if not ch.isdigit()}
            if len(separators) > 1:
                continue  # "1234 5678-9012 3456" mixes separators: not how cards are written
            for start, end in _candidates(raw):
                digits = "".join(ch for ch in raw[start:end] if ch.isdigit())
                if not luhn_valid(digits):
                    continue
                context = context_before(text, match.start() + start, _CARD_WORDS, 40)
                if _IIN.match(digits):
                    score = 1.0 if context else 0.9
                elif context:
                    score = 0.6
                else:
                    continue
                results.append(
                    self.result(
                        "CREDIT_CARD",
                        match.start() + start,
                        match.start() + end,
                        score,
                        "Luhn-valid card number",
                    )
                )
                break
        return results


def _candidates(raw: str) -> list[tuple[int, int]]:
    """Where a card may lie in a run of digit groups: the whole run, then without trailing groups, then
    without leading ones (a card next to a short number: "4111 1111 1111 1111 123", "exp 12 4111...").
    Each keeps at least 12 digits."""
    spans = [(0, len(raw))]
    cuts = [i for i, ch in enumerate(raw) if not ch.isdigit()]
    spans.extend((0, i) for i in reversed(cuts) if sum(c.isdigit() for c in raw[:i]) >= 12)
    spans.extend((i + 1, len(raw)) for i in cuts if sum(c.isdigit() for c in raw[i + 1 :]) >= 12)
    return spans


class IbanAnyCaseRecognizer(OwnRecognizer):
    """Lower-case IBANs; upper-case ones are left to presidio's ``IbanRecognizer``."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["IBAN_CODE"], name="IbanAnyCaseRecognizer")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        return [
            self.result("IBAN_CODE", m.start(), m.end(), 1.0, "IBAN (mod-97 valid)")
            for m in _IBAN.finditer(text)
            if iban_valid(m.group())
        ]
