"""Restorer: streamed token -> value replacement equals the whole-text form, with a bounded hold-back."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transform.restore import Restorer, restore_text

# Tokens chosen to be awkward: prefixes of one another, shared prefixes, placeholders, surrogates.
TOKEN_POOL = (
    "<PERSON_1a2b3c4d>",
    "<PERSON_1a2b3c4e>",
    "<PERSON_1a>",
    "<EMAIL_ADDRESS_00ff00ff>",
    "Kimberly Miller",
    "Kimberly",
    "Kim",
    "Miller Ltd",
    "ab",
    "abc",
    "abcd",
    "bc",
    "cde",
    "x",
    "4929 1345 0987 6541",
    "4929",
)
VALUES = st.text(
    alphabet=st.sampled_from(list("Ab<>\"'\\é😀 zK4")) | st.characters(codec="utf-8"), max_size=12
)
NOISE = st.text(alphabet=st.sampled_from(list('abcdeKimMl<>_ 1249xyz\n"é')), max_size=6)


@st.composite
def token_maps(draw: st.DrawFn) -> dict[str, str]:
    tokens = draw(st.lists(st.sampled_from(TOKEN_POOL), min_size=1, max_size=8, unique=True))
    return {t: draw(VALUES) for t in tokens}


@st.composite
def texts_for(draw: st.DrawFn, mapping: dict[str, str]) -> str:
    tokens = sorted(mapping) + [t[:i] for t in mapping for i in range(1, len(t))]
    parts = draw(st.lists(st.sampled_from(tokens) | NOISE, max_size=12))
    return "".join(parts)


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    mapping = draw(token_maps())
    return mapping, draw(texts_for(mapping))


def stream(restorer: Restorer, pieces: list[str]) -> str:
    out = []
    for piece in pieces:
        out.append(restorer.feed(piece))
        assert restorer.held <= restorer.max_hold, (piece, restorer.held, restorer.max_hold)
    out.append(restorer.flush())
    assert restorer.held == 0
    return "".join(out)


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 4)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_two_piece_split_matches_the_whole_text(case: tuple[dict[str, str], str]) -> None:
    mapping, text = case
    expected = restore_text(text, mapping)
    for cut in range(len(text) + 1):
        got = stream(Restorer(mapping), [text[:cut], text[cut:]])
        assert got == expected, (cut, text)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_chunkings_match_the_whole_text(data: st.DataObject) -> None:
    mapping, text = data.draw(cases())
    pieces = data.draw(chunkings(text))
    assert "".join(pieces) == text
    assert stream(Restorer(mapping), pieces) == restore_text(text, mapping)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_one_character_pieces_match_the_whole_text(case: tuple[dict[str, str], str]) -> None:
    mapping, text = case
    pieces = [p for c in text for p in (c, "")]
    assert stream(Restorer(mapping), pieces) == restore_text(text, mapping)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=8), max_size=10))
def test_no_tokens_is_identity_without_hold(pieces: list[str]) -> None:
    restorer = Restorer({})
    assert restorer.max_hold == 0
    for piece in pieces:
        assert restorer.feed(piece) == piece
        assert restorer.held == 0
    assert restorer.flush() == ""


def test_empty_token_is_ignored() -> None:
    restorer = Restorer({"": "boom"})
    assert restorer.feed("abc") == "abc"
    assert restorer.held == 0
    assert restore_text("abc", {"": "boom"}) == "abc"


def test_placeholder_split_across_three_events() -> None:
    restorer = Restorer({"<PERSON_1a2b3c4d>": "Ada Lovelace"})
    assert restorer.feed("Dear <PER") == "Dear "
    assert restorer.held == 4
    assert restorer.feed("SON_1a2b") == ""
    assert restorer.held == 12
    assert restorer.feed("3c4d>, hello") == "Ada Lovelace, hello"
    assert restorer.held == 0
    assert restorer.flush() == ""


def test_angle_bracket_released_once_it_cannot_start_a_token() -> None:
    restorer = Restorer({"<PERSON_1a2b3c4d>": "Ada"})
    assert restorer.feed("a <b") == "a <b"
    assert restorer.held == 0
    assert restorer.feed("a <") == "a "
    assert restorer.held == 1
    assert restorer.feed("=b") == "<=b"
    assert restorer.held == 0


def test_unfinished_token_is_released_verbatim_at_flush() -> None:
    restorer = Restorer({"<PERSON_1a2b3c4d>": "Ada"})
    assert restorer.feed("see <PERSON_1a") == "see "
    assert restorer.flush() == "<PERSON_1a"


def test_complete_token_that_prefixes_a_longer_one_waits() -> None:
    restorer = Restorer({"Kim": "K1", "Kimberly": "K2"})
    assert restorer.feed("Kim") == ""
    assert restorer.feed("b") == ""
    assert restorer.feed("x") == "K1bx"
    assert restorer.feed("Kimberly!") == "K2!"
    assert restorer.feed("Kim") == ""
    assert restorer.flush() == "K1"


def test_surrogate_with_space_split_mid_name() -> None:
    restorer = Restorer({"Kimberly Miller": "Ada Lovelace"})
    assert restorer.feed("Hi Kimberly") == "Hi "
    assert restorer.feed(" Mil") == ""
    assert restorer.feed("ler.") == "Ada Lovelace."


def test_unicode_values_with_quotes() -> None:
    mapping = {"<PERSON_00000001>": 'Zoë "the Ω" O\'Brien 😀', "<LOCATION_00000002>": "Zürich\\n"}
    restorer = Restorer(mapping)
    pieces = ["«", "<PERSON_0000", "0001> from <LOC", "ATION_00000002>»"]
    out = "".join(restorer.feed(p) for p in pieces) + restorer.flush()
    assert out == '«Zoë "the Ω" O\'Brien 😀 from Zürich\\n»'
    assert restore_text("".join(pieces), mapping) == out


def test_values_are_not_restored_again() -> None:
    mapping = {"<A_1>": "<B_2>", "<B_2>": "b"}
    assert restore_text("<A_1><B_2>", mapping) == "<B_2>b"
    restorer = Restorer(mapping)
    assert restorer.feed("<A_1>") + restorer.feed("<B_2>") + restorer.flush() == "<B_2>b"


@pytest.mark.parametrize(
    ("mapping", "max_hold"),
    [({"<PERSON_1a2b3c4d>": "v"}, 16), ({"ab": "v", "x": "w"}, 1), ({"x": "v"}, 0)],
)
def test_max_hold_is_longest_token_minus_one(mapping: dict[str, str], max_hold: int) -> None:
    assert Restorer(mapping).max_hold == max_hold
