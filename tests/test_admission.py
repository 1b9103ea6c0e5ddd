"""Admission with literal limits and a clock the test moves: each limit refuses at once, in order, with
``Retry-After``, and what a request held is given back."""

from __future__ import annotations

import asyncio

import pytest

from gateway.admission import Admission, Drain
from gateway.errors import Overloaded, RateLimited, ShuttingDown
from gateway.settings import LimitsSettings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _admission(**limits: object) -> tuple[Admission, Clock]:
    clock = Clock()
    return Admission(LimitsSettings.model_validate(limits), clock=clock), clock


def test_max_active_refuses_with_retry_after_and_recovers() -> None:
    adm, _ = _admission(max_active=2)
    first, second = adm.admit(10), adm.admit(10)
    with pytest.raises(Overloaded) as refused:
        adm.admit(10)
    assert refused.value.http_status == 503
    assert refused.value.headers["retry-after"] == "1"
    assert adm.shed["max_active"] == 1
    adm.release(first)
    adm.release(first)  # twice is harmless
    assert adm.active == 1
    adm.release(adm.admit(10))
    adm.release(second)
    assert adm.active == 0 and adm.body_bytes == 0


def test_body_bytes_in_flight_are_bounded() -> None:
    adm, _ = _admission(max_body_bytes_in_flight=1000)
    held = adm.admit(600)
    with pytest.raises(Overloaded):
        adm.admit(500)
    assert adm.shed["body_bytes"] == 1
    small = adm.admit(400)
    adm.release(held)
    adm.release(small)
    assert adm.body_bytes == 0


def test_per_key_concurrency_is_429_and_other_keys_pass() -> None:
    adm, _ = _admission(per_key_active=1, per_key_rate=None)
    a = adm.admit(0)
    adm.admit_key(a, "key_a")
    b = adm.admit(0)
    with pytest.raises(RateLimited) as refused:
        adm.admit_key(b, "key_a")
    assert refused.value.http_status == 429 and refused.value.headers["retry-after"] == "1"
    adm.admit_key(b, "key_b")
    adm.release(a)
    c = adm.admit(0)
    adm.admit_key(c, "key_a")  # a's slot was given back


def test_token_bucket_burst_then_rate_with_honest_retry_after() -> None:
    adm, clock = _admission(per_key_rate=0.5, per_key_burst=3, per_key_active=100)
    for _ in range(3):
        adm.release(_keyed(adm, "k"))
    with pytest.raises(RateLimited) as refused:
        _keyed(adm, "k")
    # One token takes 2 s at 0.5 per second.
    assert refused.value.headers["retry-after"] == "2"
    assert adm.shed["key_rate"] == 1
    clock.now += 1.0
    with pytest.raises(RateLimited) as again:
        _keyed(adm, "k")
    assert again.value.headers["retry-after"] == "1"
    clock.now += 1.0
    adm.release(_keyed(adm, "k"))
    # The bucket never holds more than the burst, however long the key was idle.
    clock.now += 10_000
    for _ in range(3):
        adm.release(_keyed(adm, "k"))
    with pytest.raises(RateLimited):
        _keyed(adm, "k")
    assert adm.active == 0  # refused requests gave their global share back


def _keyed(adm: Admission, key: str) -> object:
    ticket = adm.admit(0)
    try:
        adm.admit_key(ticket, key)
    except RateLimited:
        adm.release(ticket)
        raise
    return ticket


def test_drain_refuses_new_requests_then_sets_cut() -> None:
    async def scenario() -> None:
        adm, _ = _admission()
        drain = Drain(adm, seconds=0.05)
        held = adm.admit(0)
        drain.begin()
        drain.begin()  # idempotent
        with pytest.raises(ShuttingDown) as refused:
            adm.admit(0)
        assert refused.value.headers == {"retry-after": "1", "connection": "close"}
        assert not drain.cut.is_set()
        await asyncio.wait_for(drain.cut.wait(), 2)
        adm.release(held)

    asyncio.run(scenario())


def test_one_key_holds_at_most_a_quarter_of_the_bodies_in_flight() -> None:
    adm, _ = _admission(max_body_bytes_in_flight=1000, per_key_rate=None)
    held = []
    for _ in range(2):
        ticket = adm.admit(120)
        adm.admit_key(ticket, "squatter")
        held.append(ticket)
    third = adm.admit(120)
    with pytest.raises(RateLimited):
        adm.admit_key(third, "squatter")  # 360 > 250
    adm.release(third)
    assert adm.shed["key_body_bytes"] == 1
    other = adm.admit(240)
    adm.admit_key(other, "other")  # another key is not affected
    big = adm.admit(300)
    adm.admit_key(big, "alone")  # larger than a share, but the key holds nothing else
    for ticket in (*held, other, big):
        adm.release(ticket)
    assert adm.body_bytes == 0


def test_failed_authentications_past_the_bucket_are_429_and_audited_once_per_interval() -> None:
    adm, clock = _admission(auth_failures_per_second=1.0, auth_failures_burst=3)
    assert [adm.auth_failed("10.0.0.1") for _ in range(3)] == [None, None, None]
    throttled = adm.auth_failed("10.0.0.1")
    assert throttled is not None and throttled.http_status == 429 and throttled.code == "auth_throttled"
    assert throttled.headers["retry-after"] == "1"
    assert adm.auth_failed("10.0.0.2") is None  # another address has its own bucket
    assert adm.audit_throttled("10.0.0.1") and not adm.audit_throttled("10.0.0.1")
    clock.now += 10.0
    assert adm.audit_throttled("10.0.0.1")
    assert adm.auth_failed("10.0.0.1") is None  # refilled
    assert adm.shed["auth_throttled"] == 1


def test_failures_against_one_key_id_are_throttled_whatever_the_address() -> None:
    adm, _ = _admission(auth_failures_per_second=1.0, auth_failures_burst=3)
    # A guesser spread over many addresses: each address is fresh, the key id is not.
    outcomes = [adm.auth_failed(f"10.0.1.{i}", "00112233aabbccdd") for i in range(4)]
    assert outcomes[:3] == [None, None, None]
    throttled = outcomes[3]
    assert throttled is not None and throttled.code == "auth_throttled" and "key" in throttled.message
    assert adm.auth_failed("10.0.1.9", "ffeeddccbbaa9988") is None  # another key id has its own bucket
    assert adm.auth_failed("10.0.1.10") is None  # no key id tried: the address alone counts


def test_workers_share_the_per_key_and_authentication_limits() -> None:
    from gateway.admission import shared_by

    limits = LimitsSettings(per_key_active=32, per_key_rate=20.0, per_key_burst=200, auth_failures_burst=20)
    assert shared_by(limits, 1) is limits
    half = shared_by(limits, 2)
    assert (half.per_key_active, half.per_key_rate, half.per_key_burst) == (16, 10.0, 100)
    assert (half.auth_failures_per_second, half.auth_failures_burst) == (2.5, 10)
    assert half.max_active == limits.max_active
    assert half.max_body_bytes_in_flight == limits.max_body_bytes_in_flight
    # Never below one, and no rate limit stays none.
    ones = LimitsSettings(per_key_active=1, per_key_rate=None, per_key_burst=1, auth_failures_burst=1)
    tiny = shared_by(ones, 4)
    assert (tiny.per_key_active, tiny.per_key_rate, tiny.per_key_burst, tiny.auth_failures_burst) == (
        1,
        None,
        1,
        1,
    )
    # Together, two workers' buckets let through no more guesses than the configured burst.
    admissions = [Admission(half, clock=lambda: 0.0) for _ in range(2)]
    tries = [a.auth_failed(f"198.51.100.{i % 5}", "k" * 16) for i in range(40) for a in admissions]
    assert sum(t is None for t in tries) == limits.auth_failures_burst
