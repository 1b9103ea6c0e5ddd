"""The street-address anchors (``recognizers/pii_address.py``): the suffix anchor's look-ahead only
skips where it could not match."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scan.recognizers import pii_address

WITHOUT_LOOK_AHEAD = re.compile(pii_address._ANCHORS.pattern.replace(pii_address.SUFFIX_AHEAD, "", 1))

# Street suffixes and their pieces, digits, separators and the characters names are made of.
PIECES = [
    "straße",
    "strasse",
    "str.",
    "weg",
    "gasse",
    "gata",
    "vej",
    "katu",
    "u.",
    "út",
    "soka\u011f\u0131",
    "caddesi",
]
PIECES += [
    "Haupt",
    "Am ",
    "O'",
    "Neil-",
    "Kungs",
    "nør",
    "1",
    "12",
    "345",
    "7b",
    "/3",
    " ",
    "  ",
    "\n",
    ",",
    ".",
]


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, str | None]]:
    return [(m.start(), m.end(), m.lastgroup) for m in pattern.finditer(text)]


def test_the_look_ahead_is_in_the_pattern() -> None:
    assert WITHOUT_LOOK_AHEAD.pattern != pii_address._ANCHORS.pattern


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_same_matches_as_without_the_look_ahead(text: str) -> None:
    assert _matches(pii_address._ANCHORS, text) == _matches(WITHOUT_LOOK_AHEAD, text)


def test_suffixed_streets_with_a_number() -> None:
    for text, street in [
        ("Adresse: Hauptstraße 12, 10115 Berlin.", "Hauptstraße 12"),
        ("Send it to Kungsgatan 5b in Stockholm", "Kungsgatan 5b"),
        ("Adresse: Am Mühlenweg 7", "Am Mühlenweg 7"),
    ]:
        found = [text[s:e] for s, e, kind in _matches(pii_address._ANCHORS, text) if kind == "suffix"]
        assert found == [street], (text, found)
