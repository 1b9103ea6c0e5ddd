"""Personal data found from where it stands (issue 18): the lines of an address block and the fields
of an export, the speaker of a chat log, a short local phone number after somebody's "number", a
surname handed something, names in ``;``-separated fields; and software names that are not people."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.scan.pii import PiiDetector


@pytest.fixture(scope="module")
def detector() -> Iterator[PiiDetector]:
    yield PiiDetector()


def covered(detector: PiiDetector, text: str, value: str, entities: set[str]) -> bool:
    start = text.index(value)
    end = start + len(value)
    spans = [(h.start, h.end) for h in detector.detect(text) if h.entity in entities]
    return all(any(a <= i < b for a, b in spans) for i in range(start, end) if not text[i].isspace())


ADDRESS = {"STREET_ADDRESS"}


@pytest.mark.parametrize(
    ("text", "values"),
    [
        (
            "Format this label:\nIda Tang\n139 Mågevænget\nUnit 21\nDK-4564 Aabybro\nDenmark",
            ["139 Mågevænget", "Unit 21", "DK-4564 Aabybro"],
        ),
        (
            "Ship to:\nSonja Búason\n89 Smjördalir\nSuite 183\n389 Sandgerði",
            ["89 Smjördalir", "389 Sandgerði"],
        ),
        ("Label:\nYenthe Peeters\n656 Edisonlaan\nFlat 11B\n1741 Lessen", ["656 Edisonlaan", "1741 Lessen"]),
        ("Is this complete?\n40428 Nivala", ["40428 Nivala"]),
        ('Split these:\n"Rua Nery Delgado 1217","6940","Odivelas"', ["Rua Nery Delgado 1217", "6940"]),
        ("id;street;zip\n7;Hetteikkö 964;38259", ["Hetteikkö 964", "38259"]),
        # a Dutch postcode's letters, a floor, a country in small letters, the addressee line
        (
            "Format this label:\nJade Mclane\nLaaghuissingel 1358\n2. OG\n1590 NH Zuidermeer\nMali",
            ["Jade Mclane", "2. OG", "1590 NH Zuidermeer"],
        ),
        ("Label:\nDagmár Bank\n69 Åkandehaven\nSuite 163\nDK-8120 Oksbøl", ["Dagmár Bank"]),
        (
            "Label:\nRebeca Ibanez\nCalle Mayor, 1000\nFlat 6A\n94298 Tarragona spain",
            ["94298 Tarragona spain"],
        ),
        # a three-digit code or one that reads as a year, alone, where the text speaks of an address
        ("Is this line of the address complete?\n508 Fáskrúðsfjörður", ["508 Fáskrúðsfjörður"]),
        ("Is this line of the address complete?\n1981 Mistelbach", ["1981 Mistelbach"]),
        ("Is this line of the address complete?\nCL2H 9NI Burnham on Crouch", ["CL2H 9NI Burnham on Crouch"]),
        ("Is this line of the address complete?\n9903 Vila Nova de Foz Côa", ["9903 Vila Nova de Foz Côa"]),
        # an export's street field with numbers inside, beside a postcode in two parts
        (
            'Split these into street, postcode and city:\n"Alley Rua 6 965","38436-869","Goiás"',
            ["Alley Rua 6 965", "38436-869"],
        ),
        # street words of more languages
        ("The workshop has moved to 34 Viru väljak maantee.", ["34 Viru väljak maantee"]),
        ("The workshop has moved to vul. Viddalena 247.", ["vul. Viddalena 247"]),
        ("The workshop has moved to Vajanského nábrežie 1024.", ["Vajanského nábrežie 1024"]),
        ("The workshop has moved to Calle del Cinco de Marzo, 488.", ["Calle del Cinco de Marzo, 488"]),
    ],
)
def test_address_blocks_and_fields(detector: PiiDetector, text: str, values: list[str]) -> None:
    for value in values:
        assert covered(detector, text, value, ADDRESS), value


@pytest.mark.parametrize(
    "text",
    [
        "Agenda\n2024 Annual Report\n48213 Closed\nTicket 5512 Open",
        "Steps:\n3 Install Python\n12 Open tests\n4096 Bytes",
        "Shopping:\n2 Apples\n3 Bananas\n1500 Grams",
        "Release 3.2\nBuild 4471 Passed",
        "Ports:\n5432 Postgres\n6379 Redis\n9200 Elasticsearch\n27017 MongoDB\n",
        "8080 Nginx",
        "250 Thinkpad X1",
        "Floor 2\n10115 Berlin office opens Monday",
        "Changelog\n- Bump requests to 2.31.0\n- Drop Python 3.7\n- Add support for Redis 7.2",
        "History:\n1981 Founded\n1995 Listed",  # years, not postcodes, with no address talk
        "Fix the IP address parser.\nSteps:\n3 Install Python\n12 Open tests\n4096 Bytes",  # no postal talk
        "Cost is 5 USD per. 3 units",
    ],
)
def test_lists_and_headings_are_not_addresses(detector: PiiDetector, text: str) -> None:
    assert not [h for h in detector.detect(text) if h.entity == "STREET_ADDRESS"]


def test_the_addressee_line_stays_a_person(detector: PiiDetector) -> None:
    text = "Label:\nRebeca Ibanez\nCalle Mayor, 1000\nFlat 6A\n94298 Tarragona"
    assert covered(detector, text, "Rebeca Ibanez", {"PERSON"})


# Names no dictionary holds, as most street and town names are (one that is an everyday word, beside a
# town that is one too, is left alone by design: "12 Open tests" over "48213 Closed").
WORD = st.builds(
    lambda stem, tail: (stem + tail).capitalize(),
    st.text(alphabet="aeioulnrstkmv", min_size=3, max_size=7),
    st.sampled_from(["vik", "ovo", "heim", "stad", "ova", "kylä", "gård"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    street=WORD,
    city=WORD,
    number=st.integers(1, 999),
    code=st.integers(10000, 99999),
    unit=st.sampled_from(["Apt 4", "Suite 210", "Flat 2B", "Unit 17"]),
    order=st.booleans(),
)
def test_any_block_with_a_postcode_line_is_found(
    detector: PiiDetector, street: str, city: str, number: int, code: int, unit: str, order: bool
) -> None:
    line = f"{number} {street}" if order else f"{street} {number}"
    text = f"Please format:\nAlex Doe\n{line}\n{unit}\n{code} {city}\nthanks"
    for value in (line, unit, f"{code} {city}"):
        assert covered(detector, text, value, ADDRESS), (text, value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("chat log:\n[09:14] antea mandić: hi, the parcel never arrived", "antea mandić"),
        ("09:15:02 shana lord: any update?", "shana lord"),
        ("[9:14 AM] antea mandić: hi", "antea mandić"),
        ("12/01/2024, 09:14 - antea mandić: hi", "antea mandić"),
        ("id;name;segment\n4821;Rashad Herring;enterprise", "Rashad Herring"),
        ("Please forward the revised contract to Faulhaber before noon.", "Faulhaber"),
        ("Sæbjartur asked whether the invoice can be split.", "Sæbjartur"),
        ("Draft a letter confirming that Giorgos Athanasiadis will start on Monday.", "Giorgos Athanasiadis"),
        ("Credits. Design: Agapeto Corsentino. Testing: Aemilio Traverso.", "Agapeto Corsentino"),
        # names no list knows that the small NER calls a firm or a place
        ("Draft a letter confirming that Natashia Burks will start as Senior Buyer.", "Natashia Burks"),
        ("Draft a letter confirming that Nakke Lerche will start as Field Engineer.", "Nakke Lerche"),
        ("Add a credits line. Design: Nakke Lerche. Testing: Toka Ebbesen.", "Nakke Lerche"),
        ("Please forward the revised contract to Lerche before noon.", "Lerche"),
        ("Vodotrav asked whether the invoice can be split over two months.", "Vodotrav"),
    ],
)
def test_names_from_where_they_stand(detector: PiiDetector, text: str, name: str) -> None:
    assert covered(detector, text, name, {"PERSON"})


@pytest.mark.parametrize(
    "text",
    [
        "[09:14] agent: sorry about that",
        "[09:14] jenkins: build #452 started",
        "[09:14] github-actions: all checks passed",
        "10:02 server started: ok",
        "Haskell features a type system with type inference and lazy evaluation.",
        "Type classes first appeared in the Haskell programming language.",
        "Erlang is a general-purpose, concurrent, functional programming language.",
        "Design: Material Components",
        "Summarise the pros and cons of MySQL versus Kubernetes for a small team.",
        "I visited Agios Nikolaos last year.",
        # one word before a plural verb is no person
        "Tuples are containers for a fixed number of Erlang data types.",
        "Atoms are used within a program to denote distinguished values.",
    ],
)
def test_roles_log_lines_and_software_are_not_people(detector: PiiDetector, text: str) -> None:
    assert not [h for h in detector.detect(text) if h.entity == "PERSON"]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("the plumber's number is 12 34 56, add it", "12 34 56"),
        ("the plumber's number is 47-23-35, add it", "47-23-35"),
        ("Anna's no. 445 1234", "445 1234"),
        ("call me on 123-4567", "123-4567"),
    ],
)
def test_short_local_numbers_after_a_phone_word(detector: PiiDetector, text: str, number: str) -> None:
    assert covered(detector, text, number, {"PHONE_NUMBER"})


@pytest.mark.parametrize(
    "text",
    [
        "the order number is 12 34 56",
        "meet on 12-03-35",
        "version 12 34 56",
        "Order's number is 45 67 89",
        "their number is 2024-05-06",
    ],
)
def test_short_numbers_without_a_phone_word_are_not_phones(detector: PiiDetector, text: str) -> None:
    assert not [h for h in detector.detect(text) if h.entity == "PHONE_NUMBER"]


def test_field_separators_split_tokens(detector: PiiDetector) -> None:
    tokens = [t.text for t in detector._model.current().tokenizer("4821;Rashad|Herring")]
    assert tokens == ["4821", ";", "Rashad", "|", "Herring"]
    assert string.punctuation  # the tokenizer keeps its other rules: see test_pii_nlp


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            "id;name;segment\n2054;Seleso di Boscarato;enterprise\n2055;anna berg;smb",
            ["Seleso di Boscarato", "anna berg"],
        ),
        ("ticket\tassignee\tstatus\n4411\tVellamo Tiilikainen\topen", ["Vellamo Tiilikainen"]),
    ],
)
def test_values_under_a_name_column_are_people(detector: PiiDetector, text: str, names: list[str]) -> None:
    for name in names:
        assert covered(detector, text, name, {"PERSON"}), name


@pytest.mark.parametrize(
    "text",
    ["name,qty,price\napples,3,1.20\npears,2,0.90", "product|owner|status\nDashboard|Platform Team|open"],
)
def test_everyday_values_under_a_name_column_are_not_people(detector: PiiDetector, text: str) -> None:
    assert not [h for h in detector.detect(text) if h.entity == "PERSON"]
