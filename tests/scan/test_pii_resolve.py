"""Which recognizer results stand (``pii_resolve.resolve``), from literal results."""

from __future__ import annotations

from presidio_analyzer import RecognizerResult

from gateway.scan.pii_resolve import resolve


def _result(entity: str, start: int, end: int, score: float, recognizer: str) -> RecognizerResult:
    return RecognizerResult(
        entity, start, end, score, recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: recognizer}
    )


def _kept(
    results: list[RecognizerResult], thresholds: dict[str, float] | None = None
) -> list[tuple[str, str]]:
    return [(h.entity, h.detector) for h in resolve(results, thresholds or {}, 0.4)]


def test_a_validated_number_overrules_a_weaker_reading_of_the_same_digits() -> None:
    card = _result("CREDIT_CARD", 10, 29, 1.0, "CardNumberRecognizer")
    phone = _result("PHONE_NUMBER", 10, 22, 0.55, "InternationalPhoneRecognizer")
    assert _kept([card, phone]) == [("CREDIT_CARD", "CardNumberRecognizer")]
    assert _kept([phone]) == [("PHONE_NUMBER", "InternationalPhoneRecognizer")]


def test_a_name_inside_an_address_adds_nothing() -> None:
    email = _result("EMAIL_ADDRESS", 0, 24, 1.0, "EmailRecognizer")
    person = _result("PERSON", 0, 15, 0.85, "NamedEntityRecognizer")
    assert _kept([email, person]) == [("EMAIL_ADDRESS", "EmailRecognizer")]


def test_a_gazetteer_place_inside_a_name_is_part_of_the_name() -> None:
    person = _result("PERSON", 0, 10, 0.85, "NamedEntityRecognizer")
    gazetteer = _result("LOCATION", 0, 5, 0.7, "PlaceRecognizer")
    ner = _result("LOCATION", 0, 5, 0.7, "NamedEntityRecognizer")
    assert _kept([person, gazetteer]) == [("PERSON", "NamedEntityRecognizer")]
    assert _kept([person, ner]) == [
        ("PERSON", "NamedEntityRecognizer"),
        ("LOCATION", "NamedEntityRecognizer"),
    ]


def test_thresholds_per_entity() -> None:
    weak = _result("US_BANK_NUMBER", 0, 10, 0.45, "UsBankRecognizer")
    assert _kept([weak]) == [("US_BANK_NUMBER", "UsBankRecognizer")]
    assert _kept([weak], {"US_BANK_NUMBER": 0.5}) == []
    assert _kept([_result("PERSON", 0, 4, 0.3, "NamedEntityRecognizer")]) == []
