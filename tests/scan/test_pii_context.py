"""Context rules for organisations, places and postcodes: names no list knows, found by what is said
around them (business phrases, signature blocks, travel cues, address blocks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.scan.pii import PiiDetector
from gateway.scan.pii_places import ascii_fold


@pytest.fixture(scope="module")
def detector() -> Iterator[PiiDetector]:
    yield PiiDetector()


def found(detector: PiiDetector, text: str, entity: str) -> list[str]:
    return [text[h.start : h.end] for h in detector.detect(text) if h.entity == entity]


@pytest.mark.parametrize(
    ("text", "org"),
    [
        ("Can you find the address of Quorvex for me?", "Quorvex"),
        ("Brightwell Tanner is a logistics company based in Ohio.", "Brightwell Tanner"),
        ("Zantrocor is the brainchild of two former nurses.", "Zantrocor"),
        ("I read it on the Velmora Health website yesterday.", "Velmora Health"),
        ("We bought the shop from Hollis and Sons last year.", "Hollis and Sons"),
        ("Priya K. Raman from Tessellux will present the results.", "Tessellux"),
        ("Olek is one of the biggest customers of Brandquist in Poland.", "Brandquist"),
    ],
)
def test_organisations_named_by_business_context(detector: PiiDetector, text: str, org: str) -> None:
    assert org in found(detector, text, "ORGANIZATION")


def test_signature_block_company_line(detector: PiiDetector) -> None:
    text = "Best regards,\nMarta Kowalczyk\nSenior buyer\nQuellspring\nul. Ogrodowa 17\n00-876 Warszawa"
    assert "Quellspring" in found(detector, text, "ORGANIZATION")
    repeated = "> Tomasz Wilk\n> Nordvale\n> Tomasz Wilk\n> 14 Harbour Road\n> Leeds"
    orgs = found(detector, repeated, "ORGANIZATION")
    assert orgs == ["Nordvale"]  # the repeated name line is not a company


def test_business_context_does_not_take_people_or_places(detector: PiiDetector) -> None:
    assert found(detector, "The address of John Miller is on the form.", "ORGANIZATION") == []
    assert found(detector, "Paris is a city I love, not a company.", "ORGANIZATION") == []
    assert found(detector, "Please check the address of the office.", "ORGANIZATION") == []


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("I'm in Skarvhollen for the week, call me later.", "Skarvhollen"),
        ("She is originally from Drevbrunn, a small town.", "Drevbrunn"),
        ("We returned to Ostvika by ferry.", "Ostvika"),
        ("my cousin lives in harburg now", "harburg"),
        ("I flew to Malmo and then to Sao Paulo.", "Sao Paulo"),
    ],
)
def test_places_after_travel_and_residence_cues(detector: PiiDetector, text: str, place: str) -> None:
    assert place in found(detector, text, "LOCATION")


def test_lower_case_words_after_cues_are_not_places(detector: PiiDetector) -> None:
    assert found(detector, "i'm in trouble and we went to lunch", "LOCATION") == []


def test_postcode_on_the_last_line_of_an_address_block(detector: PiiDetector) -> None:
    text = "Ship it to:\n  Eva Lund\n  Storgatan 12\n  LINKOPING\n  582 24\nThanks!"
    spans = found(detector, text, "STREET_ADDRESS")
    assert any("582 24" in s for s in spans)
    assert not any("582 24" in s for s in found(detector, "Order total\n582 24", "STREET_ADDRESS"))


def test_ascii_fold() -> None:
    assert ascii_fold("københavn") == "kobenhavn"
    assert ascii_fold("łódź") == "lodz"
    assert ascii_fold("são paulo") == "sao paulo"
