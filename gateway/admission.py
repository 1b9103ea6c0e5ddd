"""Admission: what one gateway process takes on, decided before the work starts.

The answer to a request past a limit comes at once (no queue that a client waits in without knowing),
in the client's wire format, with ``Retry-After``:

- 503 ``overloaded``: the process has ``limits.max_active`` model requests in flight (streams
  included), or the request bodies it holds would pass ``limits.max_body_bytes_in_flight``;
- 503 ``shutting_down``: the process is draining (SIGTERM), with ``Connection: close``;
- 429 ``auth_throttled``: an address, or a key id, past ``limits.auth_failures_per_second`` failed
  authentications
  (audited once per ``THROTTLED_AUDIT_INTERVAL`` per address, counted always);
- 429 ``rate_limit_exceeded``: one gateway key has ``limits.per_key_active`` requests in flight,
  holds a quarter of ``max_body_bytes_in_flight`` (a request of its own larger than that still
  passes alone), or has used its token bucket (``per_key_rate`` per second, ``per_key_burst`` at most).

Scanning has its own admission (``gateway.scan.service``): its threads are the scarce part.
Event-loop only: no locks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import Overloaded, RateLimited, ShuttingDown
from gateway.settings import LimitsSettings

log = logging.getLogger("gateway")

THROTTLED_AUDIT_INTERVAL = 10.0  # seconds
_ADDRESSES_KEPT = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    active: int = 0
    body_bytes: int = 0

    def refill(self, now: float, rate: float, burst: int) -> None:
        self.tokens = min(float(burst), self.tokens + (now - self.updated) * rate)
        self.updated = now

    def wait(self, rate: float) -> int:
        """Whole seconds until the next token (at least 1): the Retry-After of a refusal."""
        return max(1, math.ceil((1.0 - self.tokens) / rate))


@dataclass(slots=True)
class Ticket:
    """One admitted request: what it holds, given back by :meth:`Admission.release`."""

    body_bytes: int
    key_id: str | None = None
    released: bool = False


@dataclass
class Admission:
    limits: LimitsSettings
    clock: Callable[[], float] = time.monotonic
    active: int = 0
    body_bytes: int = 0
    draining: bool = False
    # Refusals by reason, for /metrics.
    shed: Counter[str] = field(default_factory=Counter)
    _keys: dict[str, _Bucket] = field(default_factory=dict)
    # Failed authentications by client address (a token bucket each), and when a throttled address
    # was last put on the audit trail.
    _failures: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    _key_failures: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    _noted: dict[str, float] = field(default_factory=dict)

    def admit(self, body_bytes: int) -> Ticket:
        """Admit a request that will hold up to ``body_bytes`` of body, or raise."""
        if self.draining:
            self.shed["shutting_down"] += 1
            raise ShuttingDown(
                "This gateway is shutting down; nothing was sent. Retry: another instance takes it.",
                headers={"retry-after": "1", "connection": "close"},
            )
        if self.active >= self.limits.max_active:
            self.shed["max_active"] += 1
            raise Overloaded(
                f"The gateway has {self.limits.max_active} requests in flight, its limit; nothing was "
                "sent. Try again shortly.",
                headers={"retry-after": "1"},
            )
        if self.body_bytes + body_bytes > self.limits.max_body_bytes_in_flight:
            self.shed["body_bytes"] += 1
            raise Overloaded(
                "The gateway holds as many request bodies as it takes at once; nothing was sent. "
                "Try again shortly.",
                headers={"retry-after": "1"},
            )
        self.active += 1
        self.body_bytes += body_bytes
        return Ticket(body_bytes)

    def admit_key(self, ticket: Ticket, key_id: str) -> None:
        """Count ``ticket`` against its gateway key, or raise 429 (the global share stays held until
        :meth:`release`)."""
        now = self.clock()
        bucket = self._keys.get(key_id)
        if bucket is None:
            bucket = self._keys[key_id] = _Bucket(float(self.limits.per_key_burst), now)
        rate = self.limits.per_key_rate
        if rate is not None:
            bucket.refill(now, rate, self.limits.per_key_burst)
        if bucket.active >= self.limits.per_key_active:
            self.shed["key_active"] += 1
            raise RateLimited(
                f"This key has {self.limits.per_key_active} requests in flight, its limit; nothing was "
                "sent. Wait for one to finish.",
                headers={"retry-after": "1"},
            )
        share = self.limits.max_body_bytes_in_flight // 4
        if bucket.body_bytes and bucket.body_bytes + ticket.body_bytes > share:
            # One key may hold a quarter of the bodies in flight: it cannot lock the others out by
            # declaring large bodies it never sends.
            self.shed["key_body_bytes"] += 1
            raise RateLimited(
                "This key holds as many request bodies as one key may at once; nothing was sent. "
                "Wait for one to finish.",
                headers={"retry-after": "1"},
            )
        if rate is not None:
            if bucket.tokens < 1.0:
                self.shed["key_rate"] += 1
                wait = bucket.wait(rate)
                raise RateLimited(
                    f"This key is limited to {rate:g} requests per second; nothing was sent. Retry after "
                    f"{wait} s.",
                    headers={"retry-after": str(wait)},
                )
            bucket.tokens -= 1.0
        bucket.active += 1
        bucket.body_bytes += ticket.body_bytes
        ticket.key_id = key_id

    def auth_failed(self, address: str | None, key_id: str | None = None) -> RateLimited | None:
        """Count a failed authentication from ``address``, and against the key id it tried.  Past
        ``limits.auth_failures_per_second`` (burst ``auth_failures_burst``) for either, it is answered
        429 instead of 401: the error to raise.  Only failures are counted, after the secret was
        checked, so the right secret for a key id under attack still gets in."""
        now = self.clock()
        by_address = self._spend(self._failures, address or "-", now)
        by_key = self._spend(self._key_failures, key_id, now) if key_id else None
        empty = by_address if by_address is not None else by_key
        if empty is None:
            return None
        self.shed["auth_throttled"] += 1
        which = "address" if by_address is not None else "key"
        return RateLimited(
            f"Too many failed authentications from this {which}; try again later.",
            code="auth_throttled",
            headers={"retry-after": str(empty.wait(self.limits.auth_failures_per_second))},
        )

    def _spend(self, buckets: OrderedDict[str, _Bucket], name: str, now: float) -> _Bucket | None:
        """Take a token from ``name``'s failure bucket; the bucket if it had none left."""
        bucket = buckets.pop(name, None) or _Bucket(float(self.limits.auth_failures_burst), now)
        buckets[name] = bucket
        if len(buckets) > _ADDRESSES_KEPT:
            buckets.popitem(last=False)
        bucket.refill(now, self.limits.auth_failures_per_second, self.limits.auth_failures_burst)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return bucket

    def audit_throttled(self, address: str | None) -> bool:
        """Whether a throttled refusal for ``address`` goes on the audit trail: the first in each
        THROTTLED_AUDIT_INTERVAL (the rest are counted in /metrics), so that a flood of bad keys
        cannot bury the audit writer and delay every real request's record."""
        now = self.clock()
        name = address or "-"
        if now - self._noted.get(name, -math.inf) < THROTTLED_AUDIT_INTERVAL:
            return False
        self._noted[name] = now
        if len(self._noted) > _ADDRESSES_KEPT:
            self._noted = {k: v for k, v in self._noted.items() if now - v < THROTTLED_AUDIT_INTERVAL}
        return True

    def release(self, ticket: Ticket) -> None:
        if ticket.released:
            return
        ticket.released = True
        self.active -= 1
        self.body_bytes -= ticket.body_bytes
        if ticket.key_id is not None:
            bucket = self._keys.get(ticket.key_id)
            if bucket is not None:
                bucket.active -= 1
                bucket.body_bytes -= ticket.body_bytes


@dataclass
class Drain:
    """The shutdown drain: from :meth:`begin` new requests are refused (``Admission.draining``) and
    readiness fails; ``seconds`` later ``cut`` is set, and what is still running ends (streams with
    an error event in the client's format)."""

    admission: Admission
    seconds: float
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    _timer: asyncio.TimerHandle | None = None

    @property
    def draining(self) -> bool:
        return self.admission.draining

    def begin(self) -> None:
        """Start draining (idempotent); on the event loop."""
        if self.admission.draining:
            return
        self.admission.draining = True
        log.info("shutting down: new requests refused, %g s for those in flight", self.seconds)
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._cut)

    def _cut(self) -> None:
        self._timer = None
        if self.admission.active:
            log.warning("drain window over: ending %d requests still in flight", self.admission.active)
        self.cut.set()


def shared_by(limits: LimitsSettings, workers: int) -> LimitsSettings:
    """Each worker's share of the per-key and failed-authentication limits, so that together the
    workers of one ``gateway serve --workers N`` never allow more than the configured limits (the
    kernel spreads a client's connections over the workers; one connection alone gets one share).
    The process-wide limits (``max_active``, bodies in flight) are each worker's own."""
    if workers <= 1:
        return limits
    return limits.model_copy(
        update={
            "per_key_active": max(1, limits.per_key_active // workers),
            "per_key_rate": None if limits.per_key_rate is None else limits.per_key_rate / workers,
            "per_key_burst": max(1, limits.per_key_burst // workers),
            "auth_failures_per_second": limits.auth_failures_per_second / workers,
            "auth_failures_burst": max(1, limits.auth_failures_burst // workers),
        }
    )
