"""Realistic surrogates: a fake value of the same type and format, in place of a placeholder.

The model reads "Kimberly Miller" or "4929 1345 0987 6541" more naturally than ``<PERSON_1a2b3c4d>``,
at a cost written up in the README: a surrogate can be mistaken for real data by the model, and
it restores only if the model repeats it exactly.  Every surrogate is derived from a seed (an HMAC
of the value and the conversation key), so the same value always gets the same surrogate.

* structured numbers keep their layout (separators, length) and stay valid: a card passes Luhn
  and keeps its first digit (the scheme), an IBAN keeps its country and gets correct check digits,
  an SSN avoids the ranges never issued, a phone number keeps its ``+country`` prefix;
* e-mail addresses use the reserved ``example.com``/``.org``/``.net`` domains, so a model that
  "sends" one reaches nobody;
* names, places and companies come from Faker's ``en_US`` lists;
* IP addresses come from the documentation ranges (RFC 5737, RFC 3849).

Entities without a generator get a typed placeholder instead (``None`` here).
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from typing import Any

_DIGIT = re.compile(r"\d")


class Surrogates:
    """Build once (Faker's lists load in ~0.1 s); thread-safe."""

    def __init__(self) -> None:
        self._faker: Any = None
        self._lock = threading.Lock()
        self._generators: dict[str, Callable[[str, random.Random], str]] = {
            "CREDIT_CARD": _card,
            "US_SSN": _ssn,
            "PHONE_NUMBER": _phone,
            "IBAN_CODE": _iban,
            "EMAIL_ADDRESS": self._email,
            "PERSON": self._person,
            "LOCATION": self._city,
            "ORGANIZATION": self._company,
            "IP_ADDRESS": _ip,
        }

    def make(self, entity: str, value: str, seed: bytes) -> str | None:
        generate = self._generators.get(entity)
        if generate is None:
            return None
        return generate(value, random.Random(seed))  # noqa: S311 - a disguise, not a secret

    def _fake(self, rng: random.Random, method: str) -> str:
        with self._lock:
            if self._faker is None:
                from faker import Faker

                self._faker = Faker("en_US")
            self._faker.seed_instance(rng.getrandbits(64))
            return str(getattr(self._faker, method)())

    def _person(self, value: str, rng: random.Random) -> str:
        return f"{self._fake(rng, 'first_name')} {self._fake(rng, 'last_name')}"

    def _city(self, value: str, rng: random.Random) -> str:
        return self._fake(rng, "city")

    def _company(self, value: str, rng: random.Random) -> str:
        return self._fake(rng, "company")

    def _email(self, value: str, rng: random.Random) -> str:
        first = re.sub(r"[^a-z]", "", self._fake(rng, "first_name").lower())
        last = re.sub(r"[^a-z]", "", self._fake(rng, "last_name").lower())
        return f"{first}.{last}@example.{rng.choice(('com', 'org', 'net'))}"


def _digits(value: str, rng: random.Random, keep: int = 0) -> str:
    """``value`` with every digit after the first ``keep`` digits replaced at random."""
    seen = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group() if seen <= keep else str(rng.randrange(10))

    return _DIGIT.sub(swap, value)


def _card(value: str, rng: random.Random) -> str:
    drawn = _digits(value, rng, keep=1)
    digits = [int(c) for c in drawn if c.isdigit()]
    digits[-1] = _luhn_check(digits[:-1])
    it = iter(digits)
    return _DIGIT.sub(lambda _: str(next(it)), drawn)


def _luhn_check(payload: list[int]) -> int:
    total = 0
    for i, d in enumerate(reversed(payload)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def _ssn(value: str, rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    digits = f"{area:03d}{rng.randrange(1, 100):02d}{rng.randrange(1, 10000):04d}"
    it = iter(digits)
    out = _DIGIT.sub(lambda _: next(it, "0"), value)
    return out if sum(c.isdigit() for c in value) == 9 else _digits(value, rng)


def _phone(value: str, rng: random.Random) -> str:
    prefix = re.match(r"\s*\+\d{1,3}", value)
    keep = sum(c.isdigit() for c in prefix.group()) if prefix else 0
    return _digits(value, rng, keep=keep)


def _iban(value: str, rng: random.Random) -> str:
    compact = re.sub(r"\s", "", value).upper()
    if len(compact) < 5 or not compact[:2].isalpha():
        return _digits(value, rng)
    bban = "".join(
        str(rng.randrange(10)) if c.isdigit() else chr(65 + rng.randrange(26)) if c.isalpha() else c
        for c in compact[4:]
    )
    numeric = "".join(str(int(c, 36)) for c in bban + compact[:2] + "00")
    check = 98 - int(numeric) % 97
    new = f"{compact[:2]}{check:02d}{bban}"
    # Put the original spacing back.
    it = iter(new)
    return "".join(c if c.isspace() else next(it) for c in value.strip())


def _ip(value: str, rng: random.Random) -> str:
    if ":" in value:
        return f"2001:db8::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"
