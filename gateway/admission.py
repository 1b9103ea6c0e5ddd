"""Admission: what one gateway process takes on, decided before the work starts.

The answer to a request past a limit comes at once (no queue that a client waits in without knowing),
in the client's wire format, with ``Retry-After``:

- 503 ``overloaded``: the process has ``limits.max_active`` model requests in flight (streams
  included), or the request bodies it holds would pass ``limits.max_body_bytes_in_flight``;
- 503 ``shutting_down``: the process is draining (SIGTERM), with ``Connection: close``;
- 429 ``rate_limit_exceeded``: one gateway key has ``limits.per_key_active`` requests in flight, or
  has used its token bucket (``per_key_rate`` per second, ``per_key_burst`` at most).

Scanning has its own admission (``gateway.scan.service``): its threads are the scarce part.
Event-loop only: no locks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.errors import Overloaded, RateLimited, ShuttingDown
from gateway.settings import LimitsSettings

log = logging.getLogger("gateway")


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    active: int = 0


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
            bucket.tokens = min(
                float(self.limits.per_key_burst), bucket.tokens + (now - bucket.updated) * rate
            )
            bucket.updated = now
        if bucket.active >= self.limits.per_key_active:
            self.shed["key_active"] += 1
            raise RateLimited(
                f"This key has {self.limits.per_key_active} requests in flight, its limit; nothing was "
                "sent. Wait for one to finish.",
                headers={"retry-after": "1"},
            )
        if rate is not None:
            if bucket.tokens < 1.0:
                self.shed["key_rate"] += 1
                wait = max(1, math.ceil((1.0 - bucket.tokens) / rate))
                raise RateLimited(
                    f"This key is limited to {rate:g} requests per second; nothing was sent. Retry after "
                    f"{wait} s.",
                    headers={"retry-after": str(wait)},
                )
            bucket.tokens -= 1.0
        bucket.active += 1
        ticket.key_id = key_id

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
