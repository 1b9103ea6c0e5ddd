"""Gazetteer LOCATION and NRP, postcodes, company names and street corners (``pii_places``, ``pii_location``,
``pii_org``): real-world phrasing, not the dev set's templates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.scan.pii import PiiDetector
from gateway.scan.pii_places import CITY, CLEAR, COUNTRY, NAME, WORD, Gazetteer, clear_heads


@pytest.fixture(scope="module")
def detector() -> Iterator[PiiDetector]:
    yield PiiDetector()


def found(detector: PiiDetector, text: str, entity: str, detector_name: str | None = None) -> list[str]:
    return [
        text[h.start : h.end]
        for h in detector.detect(text)
        if h.entity == entity and (detector_name is None or h.detector == detector_name)
    ]


def covered(detector: PiiDetector, text: str, value: str) -> bool:
    start = text.index(value)
    end = start + len(value)
    return any(h.start <= start and end <= h.end for h in detector.detect(text))


@pytest.mark.parametrize(
    ("text", "places"),
    [
        ("I flew from Toronto to Lisbon last week.", ["Toronto", "Lisbon"]),
        ("We spent a week in Florence before heading to Slovenia.", ["Florence", "Slovenia"]),
        ("Our office moved to São Paulo in March.", ["São Paulo"]),
        ("Shipping to KRAKÓW takes three days.", ["KRAKÓW"]),
        ("She grew up in Khandallah, a suburb.", ["Khandallah"]),
    ],
)
def test_places_from_the_gazetteer_and_travel_cues(
    detector: PiiDetector, text: str, places: list[str]
) -> None:
    locations = found(detector, text, "LOCATION")
    for place in places:
        assert place in locations, locations


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("i live in switzerland now", "switzerland"),
        ("my friend lives in harburg", "harburg"),
        ("we moved to new york last year", "new york"),
        ("flew to baden-baden yesterday", "baden-baden"),
        ("we stayed in kuala lumpur", "kuala lumpur"),
    ],
)
def test_places_in_lower_case(detector: PiiDetector, text: str, place: str) -> None:
    assert found(detector, text, "LOCATION", "PlaceRecognizer") == [place]


def test_lower_case_places_start_with_the_head_of_an_unambiguous_name() -> None:
    places = {
        "new york": (CITY, CLEAR),
        "baden-baden": (CITY, CLEAR),
        "reading": (CITY, WORD),
        "florence": (CITY, NAME),
        "chad": (COUNTRY, CLEAR),
    }
    assert clear_heads(places) == {"new york", "new", "baden-baden", "baden", "chad"}
    # Derived by the gazetteer itself: one built without ``Gazetteer.build`` cannot lose them.
    assert Gazetteer(places=places, nrp=frozenset(), nrp_lower_ok=frozenset()).heads == clear_heads(places)


@pytest.mark.parametrize(
    "text",
    [
        "Reading the manual first usually saves time.",
        "Florence said she would send the slides tomorrow.",
        "Please polish the wording of this paragraph.",
        "Can you summarise the new Python release notes in three bullet points?",
    ],
)
def test_everyday_words_and_names_are_not_places(detector: PiiDetector, text: str) -> None:
    assert found(detector, text, "LOCATION", "PlaceRecognizer") == []
    assert found(detector, text, "NRP") == []


def test_a_place_inside_a_persons_name_is_the_person(detector: PiiDetector) -> None:
    text = "Please change the account holder to Sofia Lima."
    assert "Sofia Lima" in found(detector, text, "PERSON")
    assert found(detector, text, "LOCATION") == []


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("He is Brazilian and a devout Catholic.", ["Brazilian", "Catholic"]),
        ("honestly i'm cambodian but grew up abroad", ["cambodian"]),
        ("Many Sikhs and Hindus live in the area.", ["Sikhs", "Hindus"]),
    ],
)
def test_nationalities_and_religions(detector: PiiDetector, text: str, groups: list[str]) -> None:
    nrp = found(detector, text, "NRP")
    for group in groups:
        assert group in nrp, nrp


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("My zip code is 94107, can you check delivery?", "94107"),
        ("Postcode: SW1A 1AA", "SW1A 1AA"),
        ("Send it to Springfield, IL 62704 please.", "62704"),
        ("PLZ 10115 Berlin", "10115"),
        ("The store in Rotterdam 3011 is closed.", "3011"),
    ],
)
def test_postcodes_in_context(detector: PiiDetector, text: str, code: str) -> None:
    assert covered(detector, text, code)


def test_a_year_after_a_city_is_not_a_postcode(detector: PiiDetector) -> None:
    assert found(detector, "The London 2012 games were great.", "STREET_ADDRESS") == []


@pytest.mark.parametrize(
    ("text", "organisation"),
    [
        ("I work at Northwind Traders Inc. in Ohio.", "Northwind Traders Inc."),
        ("She was hired by Brightline Analytics last spring.", "Brightline Analytics"),
        ("The contract is with Kessler, Moyer and Lutz.", "Kessler, Moyer and Lutz"),
        ("He is the founder of Quillbot and lives nearby.", "Quillbot"),
        ("Zenvara announced a new product line on Monday.", "Zenvara"),
    ],
)
def test_company_names(detector: PiiDetector, text: str, organisation: str) -> None:
    assert organisation in found(detector, text, "ORGANIZATION")


@pytest.mark.parametrize(
    "text",
    ["Customer Services will call you back.", "Our Financial Markets team meets on Friday."],
)
def test_business_words_alone_are_not_companies(detector: PiiDetector, text: str) -> None:
    assert found(detector, text, "ORGANIZATION", "OrganizationRecognizer") == []


def test_street_corner_is_one_address(detector: PiiDetector) -> None:
    text = "Let's meet at the corner of 5th Avenue and Main Street."
    addresses = found(detector, text, "STREET_ADDRESS")
    assert any("5th Avenue" in a and "Main Street" in a for a in addresses), addresses


def test_address_line_continues_past_the_house_number(detector: PiiDetector) -> None:
    text = "Ship it to Brucker Bundesstrasse 31 Zezig Streets\nSuite 245\nFÜRLING\nAustria 25173."
    addresses = found(detector, text, "STREET_ADDRESS")
    assert len(addresses) == 1 and addresses[0].startswith("Brucker") and addresses[0].endswith("25173"), (
        addresses
    )


def test_unit_word_ends_a_persons_name(detector: PiiDetector) -> None:
    text = "Mrs. Barbara Yudina Apt. 675 62314 Mellemvej 32"
    assert "Barbara Yudina" in found(detector, text, "PERSON")
    assert covered(detector, text, "Apt. 675")


def test_company_line_of_a_signature_block(detector: PiiDetector) -> None:
    text = "Best,\nJohanna Virtanen\nKelvara Systems Oy\n14 Harbour Road\nHelsinki"
    assert "Kelvara Systems Oy" in found(detector, text, "ORGANIZATION")
    assert "Johanna Virtanen" in found(detector, text, "PERSON")


def test_organisation_after_a_persons_name(detector: PiiDetector) -> None:
    text = "The panel includes Priya Raman of Quantivo and two others."
    assert "Quantivo" in found(detector, text, "ORGANIZATION")


def test_acronym_employer(detector: PiiDetector) -> None:
    assert "NATO" in found(detector, "I used to work for NATO as a translator.", "ORGANIZATION")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("The bus station is on Peter Zuidhove 188", "Peter Zuidhove 188"),
        ("My new address is USS Lorenzen\nFPO AE 25990", "USS Lorenzen\nFPO AE 25990"),
        ("She lives at 136 Filadelfeos Str., Klirou", "136 Filadelfeos Str., Klirou"),
    ],
)
def test_cued_and_military_addresses(detector: PiiDetector, text: str, address: str) -> None:
    assert covered(detector, text, address)


def test_software_versions_are_not_streets(detector: PiiDetector) -> None:
    assert found(detector, "The update is on Windows Server 10.", "STREET_ADDRESS") == []


def test_named_street_without_a_number(detector: PiiDetector) -> None:
    text = "We used to live on Lower Baker Street before the move."
    assert "Lower Baker Street" in found(detector, text, "STREET_ADDRESS")
    assert found(detector, "Please Drive carefully and Read the Road signs.", "STREET_ADDRESS") == []
