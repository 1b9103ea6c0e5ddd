"""PiiDetector: each entity family on literal text, checksums, offline operation, and dev-set recall."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.scan.findings import Hit, ViewText
from gateway.scan.pii import ENTITIES, PiiDetector


@pytest.fixture(scope="module")
def detector() -> Iterator[PiiDetector]:
    # Building loads and verifies the model and the name lists (seconds): once for the module.
    yield PiiDetector()


def found(detector: PiiDetector, text: str, entity: str) -> list[str]:
    return [text[h.start : h.end] for h in detector.detect(text) if h.entity == entity]


# --- offline ------------------------------------------------------------------------------------


def test_builds_and_detects_with_the_network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted during detection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    offline = PiiDetector()  # model, name lists and every recognizer, e-mail validation included
    text = "Please email Maria Garcia at maria.garcia@example.co.uk or call +34 612 345 678."
    entities = {h.entity for h in offline.detect(text)}
    assert {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"} <= entities


# --- shape of the output ------------------------------------------------------------------------


def test_hits_are_pii_hits_with_scores(detector: PiiDetector) -> None:
    text = "Contact John Smith, john.smith@example.com, card 4111 1111 1111 1111."
    hits = detector.detect(text)
    assert hits
    for hit in hits:
        assert isinstance(hit, Hit)
        assert hit.kind == "pii"
        assert hit.entity in ENTITIES
        assert 0 < hit.score <= 1
        assert hit.detector
        assert 0 <= hit.start < hit.end <= len(text)
    assert detector.name == "pii"


def test_detect_many_matches_detect(detector: PiiDetector) -> None:
    texts = ["My name is Ingrid Bergström.", "", "nothing to see here", "IBAN DE89 3704 0044 0532 0130 00"]
    assert detector.detect_many(texts) == [detector.detect(t) for t in texts]


def test_clean_text_has_no_findings(detector: PiiDetector) -> None:
    clean = [
        "The meeting is on 14 March 2024 at 10am; please bring the quarterly numbers.",
        "for i in range(10):\n    total += values[i] * 2\nprint(total)",
        "Can you explain how a hash map handles collisions, with an example?",
        "Version 3.12.4 fixed 27 bugs and added 3 new endpoints.",
    ]
    for text in clean:
        assert detector.detect(text) == [], text


# --- contact data -------------------------------------------------------------------------------


def test_email(detector: PiiDetector) -> None:
    assert found(detector, "write to jane.doe+news@mail.example.org today", "EMAIL_ADDRESS") == [
        "jane.doe+news@mail.example.org"
    ]


@pytest.mark.parametrize(
    "number",
    [
        "+1-212-555-0187",
        "(212) 555-0187",
        "+44 20 7946 0958",
        "07700 900123",
        "+49 30 901820",
        "+33 1 42 68 53 00",
        "06 12 34 56 78",
        "+46 (0)8 928 571 38",
        "0490 75 40 81",
        "+81 3-1234-5678",
        "+61 2 9876 5432",
    ],
)
def test_phone_numbers_in_many_formats(detector: PiiDetector, number: str) -> None:
    assert found(detector, f"You can reach me on {number} after six.", "PHONE_NUMBER") == [number]


def test_a_bare_number_is_not_a_phone_without_a_phone_word(detector: PiiDetector) -> None:
    assert found(detector, "Order 4402 9871 shipped in 3 boxes.", "PHONE_NUMBER") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ship it to 1600 Pennsylvania Avenue NW, Washington, DC 20500", "1600 Pennsylvania Avenue NW"),
        ("My address: 221B Baker Street, London", "221B Baker Street"),
        ("Ich wohne in der Friedrichstraße 43, 10117 Berlin", "Friedrichstraße 43"),
        ("Envoyez-le au 26 rue des Lilas, 75011 Paris", "26 rue des Lilas"),
        ("Kantoor: Populierenstraat 374, 3012 AB Rotterdam", "Populierenstraat 374"),
        ("Send mail to P.O. Box 1042, Springfield", "P.O. Box 1042"),
    ],
)
def test_street_addresses(detector: PiiDetector, text: str, expected: str) -> None:
    addresses = found(detector, text, "STREET_ADDRESS")
    assert len(addresses) == 1 and expected in addresses[0], addresses


def test_multi_line_address_block_is_one_finding(detector: PiiDetector) -> None:
    text = "Deliver to:\n14 Crown Street\nSuite 321\nLondon\nUnited Kingdom 75419\n\nThanks!"
    assert found(detector, text, "STREET_ADDRESS") == [
        "14 Crown Street\nSuite 321\nLondon\nUnited Kingdom 75419"
    ]


def test_date_of_birth_needs_its_context(detector: PiiDetector) -> None:
    assert found(detector, "Patient DOB: 03/14/1985, seen today.", "DATE_OF_BIRTH") == ["03/14/1985"]
    assert found(detector, "She was born on 14 March 1985 in Leeds.", "DATE_OF_BIRTH") == ["14 March 1985"]
    assert found(detector, "Date of birth 1985-03-14", "DATE_OF_BIRTH") == ["1985-03-14"]
    assert found(detector, "The invoice is due on 03/14/2025.", "DATE_OF_BIRTH") == []


# --- financial identifiers (checksums) -----------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6304000000000000", "2223003122003222"],
)
def test_luhn_valid_cards(detector: PiiDetector, card: str) -> None:
    assert found(detector, f"my card is {card}", "CREDIT_CARD") == [card]


@pytest.mark.parametrize(
    "text",
    [
        "base 4660487647593823 64",  # glued to a short number on either side, the run fails Luhn whole
        "pay with 4111 1111 1111 1111 123 now",
        "exp 12 4111 1111 1111 1111",
        "4111-1111-1111-1111-77",
        "Hello4660487647593823, how are you",  # glued to a word, an id or a name
        "chatcmpl-4660487647593823",
        "card_4111111111111111",
    ],
)
def test_a_card_next_to_a_short_number_is_found(detector: PiiDetector, text: str) -> None:
    (card,) = found(detector, text, "CREDIT_CARD")
    assert card.replace(" ", "").replace("-", "") in ("4660487647593823", "4111111111111111")


@pytest.mark.parametrize(
    "text", ["IBAN GB37LTXZ84215830989318", "licence U62928788557186", "v1.2.4111111111111111"]
)
def test_a_card_shaped_tail_of_a_code_is_not_a_card(detector: PiiDetector, text: str) -> None:
    assert found(detector, text, "CREDIT_CARD") == []


def test_luhn_invalid_card_is_not_a_card(detector: PiiDetector) -> None:
    assert found(detector, "my card is 4111 1111 1111 1112", "CREDIT_CARD") == []


def test_iban_checksum(detector: PiiDetector) -> None:
    assert found(detector, "IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE") == [
        "GB82 WEST 1234 5698 7654 32"
    ]
    assert found(detector, "iban gb82west12345698765432", "IBAN_CODE") == ["gb82west12345698765432"]
    assert found(detector, "IBAN GB82 WEST 1234 5698 7654 33 please", "IBAN_CODE") == []


def test_us_ssn_and_ip(detector: PiiDetector) -> None:
    assert found(detector, "SSN: 536-90-4399", "US_SSN") == ["536-90-4399"]
    assert found(detector, "server at 203.0.113.42 is down", "IP_ADDRESS") == ["203.0.113.42"]


# --- national identifiers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("numéro de sécurité sociale 1 85 05 78 006 048 30", "FR_NIR", "1 85 05 78 006 048 30"),
        ("BSN: 111222333", "NL_BSN", "111222333"),
        ("Rijksregisternummer 85.07.30-033.28", "BE_NATIONAL_NUMBER", "85.07.30-033.28"),
        ("National Insurance number AB 12 34 56 C", "UK_NINO", "AB 12 34 56 C"),
        ("NHS number 943 476 5919", "UK_NHS", "943 476 5919"),
        ("DNI 12345678Z", "ES_NIF", "12345678Z"),
        ("NIE X1234567L", "ES_NIE", "X1234567L"),
        ("codice fiscale RSSMRA85T10A562S", "IT_FISCAL_CODE", "RSSMRA85T10A562S"),
        ("PESEL 44051401359", "PL_PESEL", "44051401359"),
        ("personnummer 19811218-9876", "SE_PERSONNUMMER", "19811218-9876"),
        ("Steuer-ID: 86095742719", "DE_TAX_ID", "86095742719"),
        ("henkilötunnus 131052-308T", "FI_PERSONAL_IDENTITY_CODE", "131052-308T"),
    ],
)
def test_national_ids(detector: PiiDetector, text: str, entity: str, value: str) -> None:
    assert found(detector, text, entity) == [value]


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("numéro de sécurité sociale 1 85 05 78 006 048 31", "FR_NIR"),  # wrong key
        ("BSN: 111222334", "NL_BSN"),  # fails the 11-check
        ("Rijksregisternummer 85.07.30-033.29", "BE_NATIONAL_NUMBER"),  # wrong mod-97 check
        ("DNI 12345678A", "ES_NIF"),  # wrong check letter
        ("PESEL 44051401358", "PL_PESEL"),  # wrong check digit
        ("personnummer 19811218-9875", "SE_PERSONNUMMER"),  # fails Luhn
    ],
)
def test_national_ids_with_bad_checksums_are_refused(detector: PiiDetector, text: str, entity: str) -> None:
    assert found(detector, text, entity) == []


# --- names, organisations, places ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("My name is Vanessa P. Hertzog and I need help.", "Vanessa P. Hertzog"),
        ("Please forward this to Dr. Okonkwo before Friday.", "Okonkwo"),
        ("Dear Siobhan,\nthanks for the update.", "Siobhan"),
        ("Best regards,\nAnna Kowalska", "Anna Kowalska"),
        ("I had lunch with Giuseppe Rossi yesterday.", "Giuseppe Rossi"),
        ("Katarzyna said the report is ready.", "Katarzyna"),
        ("my name is jan de vries", "jan de vries"),
        ("The founders are Müller, Okafor and Lindqvist.", "Okafor"),
        ("Maarten van der Berg will chair the session.", "Maarten van der Berg"),
        ("Name: Tomasz Wiśniewski\nRole: analyst", "Tomasz Wiśniewski"),
    ],
)
def test_person_names(detector: PiiDetector, text: str, name: str) -> None:
    assert name in found(detector, text, "PERSON")


def test_everyday_capitalised_words_are_not_people(detector: PiiDetector) -> None:
    text = "Summarise the Quarterly Review and send it to the Product Team. Thanks!"
    assert found(detector, text, "PERSON") == []


def test_organisation_and_location_from_the_ner(detector: PiiDetector) -> None:
    text = "I work at Microsoft in Seattle and I am French."
    assert found(detector, text, "ORGANIZATION") == ["Microsoft"]
    assert found(detector, text, "LOCATION") == ["Seattle"]
    assert found(detector, text, "NRP") == ["French"]


def test_a_name_inside_an_email_is_only_the_email(detector: PiiDetector) -> None:
    hits = detector.detect("JonathanLaursen@example.com")
    assert [h.entity for h in hits] == ["EMAIL_ADDRESS"]


# --- recall on the dev set ----------------------------------------------------------------------


def test_dev_set_recall_for_structured_classes(detector: PiiDetector) -> None:
    from bench.detect_eval import evaluate, presidio_research

    # The first 200 samples of the dev set, kept in the repository (MIT) so this runs on a clean clone.
    sample = Path(__file__).parent / "data" / "presidio_research_sample.json"
    report = evaluate(detector, presidio_research(limit=200, path=sample))
    for label in ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"):
        score = report.classes[label]
        assert score.gold > 0
        assert score.recall is not None and score.recall >= 0.99, (label, score)


def test_ner_window_docs_match_as_doc(detector: PiiDetector) -> None:
    """The fast window copy keeps words, spaces and the tokenizer's token-level norms."""
    from gateway.scan.pii_nlp import _window_doc

    nlp = detector._model.current()
    doc = nlp.tokenizer("I can't say Joe's mum didn't call  Mr. O'Neil in N.Y.\n\n ain't here ")
    for start, end in [(0, len(doc)), (2, 9), (5, len(doc))]:
        fast, slow = _window_doc(doc, start, end), doc[start:end].as_doc()
        assert fast.text == slow.text
        assert [t.norm_ for t in fast] == [t.norm_ for t in slow]


def test_lower_case_names_after_cues_and_labels(detector: PiiDetector) -> None:
    # The keyword prefilter must not hide a cue or a label line.
    assert found(detector, "hello, my name is vitoria and i need help", "PERSON") == ["vitoria"]
    assert found(detector, "ticket 12\nname:\nhyuuma maida\nthanks", "PERSON") == ["hyuuma maida"]
    assert found(detector, "people know her as patricia desrosiers here", "PERSON") == ["patricia desrosiers"]


def test_focused_view_scan_reports_only_what_is_near_the_changes(detector: PiiDetector) -> None:
    filler = "We talked about the quarterly plan and the budget for the next release. " * 30
    text = "Maria Garcia wrote this. " + filler + "Please ask John Smith, card 4111111111111111, today."
    at = text.index("John")
    changed = [(at + 1, at + 2)]  # as if the "o" had been a Cyrillic look-alike in the raw text
    hits = detector.detect_focused(text, changed)
    found = {(h.entity, text[h.start : h.end]) for h in hits}
    assert {("PERSON", "John Smith"), ("CREDIT_CARD", "4111111111111111")} <= found
    # Maria Garcia is as far from the change as can be: the raw text's scan reports her, not the view's.
    assert ("PERSON", "Maria Garcia") in {(h.entity, text[h.start : h.end]) for h in detector.detect(text)}
    assert all(h.start > at - 200 for h in hits)
    # Near the change the view's findings are the full scan's.
    near = {(h.entity, h.start, h.end) for h in detector.detect(text) if h.start > at - 100}
    assert {(h.entity, h.start, h.end) for h in hits} == near


def test_greedy_ner_decoding_matches_spacys_pipe() -> None:
    """``pii_ner._greedy_parse`` (the NER's transition loop driven with the GIL held, all docs in one
    batch) must give exactly the entities spaCy's own ``pipe`` gives, on short windows and long docs."""
    from gateway.scan.model_files import load_nlp
    from gateway.scan.pii_ner import pipe_components

    nlp = load_nlp()
    texts = [
        "Maria Gonzalez moved from Lisbon to Toronto to work for Shopify in 2019.",
        "Ask Dr. Okafor at St. Mary's Hospital, or the Ministry of Health in Nairobi.",
        "The quarterly review moves to next week.",
        "",
        "x",
        " ".join(["Jean-Pierre Dubois of Renault met Angela Merkel in Berlin."] * 120),
        "Then Kofi Annan flew to Geneva.",
    ]  # the long one is over GREEDY_BATCH_TOKENS: the docs are decoded in several batches
    ours = list(pipe_components(nlp, [nlp.make_doc(t) for t in texts]))
    theirs = list(nlp.pipe([nlp.make_doc(t) for t in texts]))
    assert any(doc.ents for doc in ours)
    for a, b in zip(ours, theirs, strict=True):
        assert [(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]


def test_detect_views_matches_one_call_per_view(detector: PiiDetector) -> None:
    text = "Call Jos\u00e9 Garc\u00eda on +44 20 7946 0958. " * 3 + "Maria Lopez lives in Madrid."
    folded = text.replace("\u00e9", "e").replace("\u00ed", "i")
    changed = [(i, i + 1) for i, (a, b) in enumerate(zip(text, folded, strict=True)) if a != b]
    together = detector.detect_views([ViewText(text, None), ViewText(folded, changed)])
    assert together == [detector.detect(text), detector.detect_focused(folded, changed)]
    assert any(h.entity == "PERSON" for h in together[1])


def test_shallow_changes_are_read_for_patterns_only(detector: PiiDetector) -> None:
    text = "Please ask John Smith, card 4111111111111111, today."
    at = text.index("4111") + 4
    view = ViewText(text, [], shallow=[(at, at)])  # as where a separator went from the card number
    found = {(h.entity, text[h.start : h.end]) for h in detector.detect_views([view])[0]}
    assert found == {("CREDIT_CARD", "4111111111111111")}  # John Smith is raw's to find, not this view's
    # The same change read as deep finds both.
    deep = {(h.entity, text[h.start : h.end]) for h in detector.detect_views([ViewText(text, [(at, at)])])[0]}
    assert {("CREDIT_CARD", "4111111111111111"), ("PERSON", "John Smith")} <= deep


def test_accent_in_a_name_is_read_with_words(detector: PiiDetector) -> None:
    folded = "Yesterday I met Jose Garcia at the station."
    at = folded.index("Jose") + 3
    hits = detector.detect_views([ViewText(folded, [], accents=[(at, at + 1)])])[0]
    assert ("PERSON", "Jose Garcia") in {(h.entity, folded[h.start : h.end]) for h in hits}
