"""Surrogates: same type and layout as the original, valid checksums, deterministic per seed."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transform.surrogates import Surrogates

SURROGATES = Surrogates()
SEED = b"seed-one"
OTHER_SEED = b"seed-two"


def make(entity: str, value: str, seed: bytes = SEED) -> str:
    out = SURROGATES.make(entity, value, seed)
    assert out is not None, entity
    return out


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    compact = re.sub(r"\s", "", iban)
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def layout(value: str) -> str:
    """Every digit as 9, every letter as A: what must survive a surrogate."""
    return re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", value))


def test_reference_checkers() -> None:
    assert luhn_ok("4111 1111 1111 1111")
    assert not luhn_ok("4111 1111 1111 1112")
    assert iban_ok("DE89 3704 0044 0532 0130 00")
    assert not iban_ok("DE88 3704 0044 0532 0130 00")


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005", "6011 0009 9013 9424"]
)
@pytest.mark.parametrize("seed", [SEED, OTHER_SEED, b"", b"\x00" * 32])
def test_card(card: str, seed: bytes) -> None:
    out = make("CREDIT_CARD", card, seed)
    assert luhn_ok(out), out
    assert len(out) == len(card)
    assert layout(out) == layout(card)
    assert out[0] == card[0]
    assert out != card


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 9), min_size=13, max_size=19),
    st.sampled_from([" ", "-", ""]),
    st.binary(max_size=16),
)
def test_card_property(digits: list[int], sep: str, seed: bytes) -> None:
    raw = "".join(map(str, digits))
    card = sep.join(raw[i : i + 4] for i in range(0, len(raw), 4))
    out = make("CREDIT_CARD", card, seed)
    assert luhn_ok(out)
    assert layout(out) == layout(card)
    assert out[0] == card[0]


@pytest.mark.parametrize(
    "iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"]
)
@pytest.mark.parametrize("seed", [SEED, OTHER_SEED])
def test_iban(iban: str, seed: bytes) -> None:
    out = make("IBAN_CODE", iban, seed)
    assert iban_ok(out), out
    assert out[:2] == iban[:2]
    assert layout(out) == layout(iban)
    assert out != iban


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=16))
def test_iban_property(seed: bytes) -> None:
    out = make("IBAN_CODE", "GB82 WEST 1234 5698 7654 32", seed)
    assert iban_ok(out)
    assert re.fullmatch(r"GB\d\d [A-Z]{4} \d{4} \d{4} \d{4} \d\d", out), out


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["123-45-6789", "123 45 6789", "123456789"]), st.binary(max_size=16))
def test_ssn(ssn: str, seed: bytes) -> None:
    out = make("US_SSN", ssn, seed)
    assert layout(out) == layout(ssn)
    digits = re.sub(r"\D", "", out)
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    assert area != "000"
    assert area != "666"
    assert not area.startswith("9")
    assert group != "00"
    assert serial != "0000"


def test_ssn_literal_is_deterministic() -> None:
    assert make("US_SSN", "123-45-6789") == make("US_SSN", "123-45-6789")
    assert make("US_SSN", "123-45-6789") != make("US_SSN", "123-45-6789", OTHER_SEED)


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "+1 (415) 555-0100", "+353-1-234-5678"])
@pytest.mark.parametrize("seed", [SEED, OTHER_SEED])
def test_phone_keeps_country_prefix_and_layout(phone: str, seed: bytes) -> None:
    out = make("PHONE_NUMBER", phone, seed)
    prefix = re.match(r"\+\d+", phone)
    assert prefix is not None
    assert out.startswith(prefix.group())
    assert layout(out) == layout(phone)
    assert out != phone


def test_phone_without_prefix_keeps_layout() -> None:
    out = make("PHONE_NUMBER", "(415) 555-0100")
    assert layout(out) == "(999) 999-9999"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=16))
def test_email(seed: bytes) -> None:
    out = make("EMAIL_ADDRESS", "ada@lovelace.io", seed)
    assert re.fullmatch(r"[a-z]+\.[a-z]+@example\.(com|org|net)", out), out


def test_ip_addresses_are_documentation_ranges() -> None:
    v4 = ipaddress.ip_address(make("IP_ADDRESS", "10.1.2.3"))
    assert any(v4 in ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
    v6 = ipaddress.ip_address(make("IP_ADDRESS", "fe80::1"))
    assert v6 in ipaddress.ip_network("2001:db8::/32")


@pytest.mark.parametrize("entity", ["PERSON", "LOCATION", "ORGANIZATION"])
def test_names_are_deterministic_per_seed(entity: str) -> None:
    first = make(entity, "Ada Lovelace", SEED)
    assert first == make(entity, "Ada Lovelace", SEED)
    assert first == Surrogates().make(entity, "Ada Lovelace", SEED)  # not state of one instance
    assert first != make(entity, "Ada Lovelace", OTHER_SEED)
    assert first.strip() == first
    assert first


def test_person_is_first_and_last_name() -> None:
    out = make("PERSON", "Ada Lovelace")
    assert re.fullmatch(r"\S+ \S+", out), out


def test_every_generator_is_deterministic() -> None:
    values = {
        "CREDIT_CARD": "4111 1111 1111 1111",
        "IBAN_CODE": "DE89 3704 0044 0532 0130 00",
        "US_SSN": "123-45-6789",
        "PHONE_NUMBER": "+1 415 555 0100",
        "EMAIL_ADDRESS": "a@b.com",
        "IP_ADDRESS": "10.0.0.1",
    }
    for entity, value in values.items():
        assert make(entity, value) == Surrogates().make(entity, value, SEED), entity
        assert make(entity, value) != make(entity, value, OTHER_SEED), entity


@pytest.mark.parametrize("entity", ["AWS_ACCESS_KEY_ID", "TERM:project", "URL", ""])
def test_unknown_entity_has_no_surrogate(entity: str) -> None:
    assert SURROGATES.make(entity, "anything", SEED) is None
