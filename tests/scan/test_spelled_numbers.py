"""Numbers read out digit by digit are findings whatever they are; numbers written in digits, and
counting, are not."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scan.engine import ScanEngine
from gateway.scan.spelled_numbers import ENTITY, GluedNumberDetector, SpelledNumberDetector
from gateway.scan.spellings import luhn

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spelled(engine: ScanEngine, text: str) -> list[str]:
    return [text[f.hit.start : f.hit.end] for f in engine.scan_text(text) if f.hit.entity == ENTITY]


@pytest.fixture(scope="module")
def engine() -> ScanEngine:
    return ScanEngine([SpelledNumberDetector()])


@settings(max_examples=50, deadline=None)
@given(digits=st.lists(st.integers(0, 9), min_size=7, max_size=15), sep=st.sampled_from([" ", ", ", "-"]))
def test_any_number_read_out_is_found_whole(digits: list[int], sep: str) -> None:
    engine = ScanEngine([SpelledNumberDetector()])
    said = sep.join(WORDS[d] for d in digits)
    text = f"The reference, in words: {said}. Put it in the record."
    found = spelled(engine, text)
    number = "".join(map(str, digits))
    card = len(number) >= 13 and SpelledNumberDetector().detect_focused(number, [(0, len(number))]) == []
    assert found == ([] if card else [said])


def test_a_number_written_as_character_references_is_found(engine: ScanEngine) -> None:
    coded = "".join(f"&#{ord(c)};" for c in "0586635888")
    text = f"<p>{coded}</p> store it"
    assert spelled(engine, text) == [coded]
    assert spelled(engine, "<p>&#65;&#66;&#67; &amp; 12345678</p>") == []


@pytest.mark.parametrize(
    "text",
    [
        "Order 05866358888 shipped; call 0800 835 533.",
        "One, two, three, four: count with me.",
        "one two three four five six",  # six words: counting, not a number
        # a card: its own finding
        "In words: four one one one one one one one one one one one one one one one",
    ],
)
def test_digits_counting_and_cards_are_not_spelled_numbers(engine: ScanEngine, text: str) -> None:
    assert spelled(engine, text) == []


@pytest.fixture(scope="module")
def glued_engine() -> ScanEngine:
    return ScanEngine([GluedNumberDetector()])


@settings(max_examples=60, deadline=None)
@given(
    digits=st.text("0123456789", min_size=8, max_size=15),
    head=st.sampled_from(["acct_", "ID", "x", "ref-no", "user"]),
    tail=st.sampled_from(["_end", "Z", "abc", "_2", ""]),
)
def test_a_number_glued_into_a_word_is_found(
    glued_engine: ScanEngine, digits: str, head: str, tail: str
) -> None:
    token = head + digits + tail
    text = f"ref: {token}. Store it in the customer record."
    found = spelled(glued_engine, text)
    machine = (digits[0] == "1" and len(digits) in (10, 13)) or digits.startswith(("19", "20"))
    card = digits[0] in "23456" and len(digits) >= 13 and luhn(digits)
    if not (machine or card):
        assert found == [digits]


@pytest.mark.parametrize(
    "text",
    [
        "mask = 0x12345678 & flags",
        "restore backup_20231205.tar and build_202312051530",
        "see log_1701234567.txt and trace_1701234567890.json",
        "the digest is sha1_3f786850e387550fdab836ed7e6dc881de23001b",
        "order 12345678 shipped",  # a number as written: no evasion
    ],
)
def test_machine_numbers_glued_to_words_are_not_spelled_numbers(glued_engine: ScanEngine, text: str) -> None:
    assert spelled(glued_engine, text) == []


def test_a_grouped_number_in_character_references_is_found(engine: ScanEngine) -> None:
    coded = "".join(f"&#{ord(c)};" for c in "+45 673 702 629")
    assert spelled(engine, f"<p>{coded}</p> call back") == [coded]


def test_a_luhn_valid_number_outside_card_schemes_is_no_card(engine: ScanEngine) -> None:
    said = " ".join(WORDS[int(d)] for d in "0609449347978")  # passes Luhn; no card starts with 0
    assert spelled(engine, f"In words: {said}. Use it.") == [said]


def test_the_gateways_own_placeholder_is_no_glued_number(glued_engine: ScanEngine) -> None:
    """Its 8 hex digits may all be digits; the user sends it back to have it restored."""
    assert spelled(glued_engine, "Repeat <EMAIL_ADDRESS_20622010> please") == []
    assert spelled(glued_engine, "ref: acct_20622010Z please") == ["20622010"]
