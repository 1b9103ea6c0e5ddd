"""Runs the engine off the event loop: admitted, bounded in time, failing closed.

Scanning is CPU work on a few threads.  Admission keeps it from starving the process:

- a scan waits for a free thread (never in the executor's own unbounded queue); at most
  ``max_queued`` may wait, past that the request is shed at once with 503 and ``Retry-After``;
- a request with a large body (over ``heavy_bytes``), or from a key whose recent scans were slow
  (their average over ``HEAVY_SECONDS``: many parts, dense numbers), also needs the heavy lane,
  which lets one such scan run at a time (with one thread, none beside it): the other threads stay
  free for ordinary requests, and the memory that scanning takes is bounded across requests;
- once the queue is half full, one gateway key may hold at most a quarter of it (``max_queued // 4``,
  at least one): past that its request is refused with 429, so that one busy key cannot shed everyone
  else's (with room in the queue, one key may use it: a service key's burst on an idle gateway);
- the deadline covers waiting and scanning.  Past it the request is unscanned (fail closed); a scan
  that was running stops at its next check (the engine checks between segments and between windows of
  a long one), and its thread is counted busy until it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gateway.errors import BadRequest, PayloadTooLarge, RateLimited, ScanBusy
from gateway.scan.engine import ScanEngine, ScanResult, TextLimit
from gateway.scan.findings import Finding
from gateway.scan.lists import NO_LISTS, OrgLists
from gateway.scan.segments import Extracted, ExtractionLimit

log = logging.getLogger("gateway.scan")

# A running scan this long past its deadline has not stopped where it should: it is stuck.
OVERRUN_GRACE = 2.0
# A key whose scans took this long on average (recent ones weigh most) scans in the heavy lane:
# body size alone does not bound a scan's cost.
HEAVY_SECONDS = 0.5
_COST_WEIGHT = 0.5  # of the newest scan in the average
_COSTS_KEPT = 10_000  # keys remembered; the oldest is forgotten first


def failed_result(detector: str) -> ScanResult:
    return ScanResult((Finding("scan_failed", "SCAN_FAILED", -1, 0, 0, 1.0, detector),), Extracted((), ()))


class Scanner:
    def __init__(
        self,
        engine: ScanEngine,
        *,
        timeout: float,
        threads: int = 2,
        max_queued: int = 64,
        heavy_bytes: int = 65_536,
    ) -> None:
        self._engine = engine
        self._timeout = timeout
        self._max_queued = max_queued
        self._heavy_bytes = heavy_bytes
        # Own threads, sized to the cores: detection is CPU-bound, more threads only add contention,
        # and the default executor is shared with database work.
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scan")
        self._free = asyncio.Semaphore(threads)
        self._heavy = asyncio.Semaphore(max(1, threads - 1))
        self._waiting = 0
        # Deadlines of the scans running on a thread now, by id of their future.
        self._running: dict[int, float] = {}
        # Waiting scans by gateway key, and the most one key may hold.
        self._waiting_by: Counter[str] = Counter()
        self._share = max(1, max_queued // 4)
        # Scans refused, by reason: the queue was full or the wait ran out (scan_busy), one key held
        # its share of the queue (scan_key_share).
        self.shed: Counter[str] = Counter()
        # Seconds a scan of each key took, averaged (see HEAVY_SECONDS).
        self._cost: OrderedDict[str, float] = OrderedDict()

    @property
    def engine(self) -> ScanEngine:
        return self._engine

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> int:
        return len(self._running)

    def saturated(self) -> bool:
        """Whether scanning cannot keep up with what comes: the queue is half full (requests are about
        to be shed)."""
        return bool(self._max_queued) and self._waiting * 2 >= self._max_queued

    def stuck(self) -> bool:
        """Whether a scan runs on well past its deadline: it should have stopped, and its thread is
        lost until it does.  Not a matter of load: something is wrong in this process."""
        late = time.monotonic() - OVERRUN_GRACE
        return any(deadline < late for deadline in self._running.values())

    async def scan(
        self,
        endpoint: str,
        body: dict[str, Any],
        context: str = "",
        *,
        size: int = 0,
        owner: str = "",
        lists: OrgLists = NO_LISTS,
    ) -> ScanResult:
        """Scan ``body``, the organisation's ``lists`` (the request's rule set) included.  ``size``: its
        size in bytes, which decides the heavy lane before the text is extracted (text is never longer
        than the JSON that holds it).  ``owner``: the gateway key, for its share of the queue."""
        must_wait = self._free.locked() or self._heavy_needed(size, owner)
        if must_wait and self._waiting_by[owner] >= self._share and self.saturated():
            self.shed["scan_key_share"] += 1
            raise RateLimited(
                f"This key has {self._share} requests waiting to be scanned, its share; nothing was sent. "
                "Wait for one to finish.",
                headers={"retry-after": "1"},
            )
        if must_wait and self._waiting >= self._max_queued:
            raise self._busy(1)
        deadline = time.monotonic() + self._timeout
        engine = self._engine.with_lists(lists)
        work = functools.partial(engine.scan, endpoint, body, deadline=deadline, context=context)
        heavy = self._is_heavy(size, owner)
        lanes: list[asyncio.Semaphore] = []
        self._waiting += 1
        self._waiting_by[owner] += 1
        waiting = True
        try:
            async with asyncio.timeout(self._timeout):
                if heavy:
                    await self._heavy.acquire()
                    lanes.append(self._heavy)
                await self._free.acquire()
                lanes.append(self._free)
                self._stop_waiting(owner)
                waiting = False
                future = self._submit(work, deadline, lanes, owner)
                lanes = []  # released by the thread's end, not by this coroutine
                return await asyncio.wrap_future(future)
        except TimeoutError:
            if waiting:
                log.warning("scan waited %.1f s for a thread; request shed", self._timeout)
                raise self._busy(max(1, round(self._timeout / 3))) from None
            log.error("scan exceeded %.1f s; request treated as unscanned", self._timeout)
            return failed_result("timeout")
        except TextLimit as exc:
            raise PayloadTooLarge(
                f"The request holds {exc.chars} characters of text to inspect; this gateway inspects "
                f"at most {exc.limit} per request. Send less text in one request.",
                code="too_much_text",
            ) from None
        except ExtractionLimit as exc:
            # The client's request is out of bounds, not the gateway broken: say so with a 400.
            raise BadRequest(f"The request cannot be inspected: {exc}.", code="request_too_complex") from None
        except Exception as exc:  # never "nothing found" because the scanner broke
            log.error("scan failed: %s", type(exc).__name__)
            return failed_result("engine")
        finally:
            if waiting:
                self._stop_waiting(owner)
            for lane in lanes:
                lane.release()

    def _busy(self, retry_after: int) -> ScanBusy:
        self.shed["scan_busy"] += 1
        return ScanBusy(
            "The gateway is busy scanning other requests; nothing was sent. Try again shortly.",
            headers={"retry-after": str(retry_after)},
        )

    def _stop_waiting(self, owner: str) -> None:
        self._waiting -= 1
        self._waiting_by[owner] -= 1
        if not self._waiting_by[owner]:
            del self._waiting_by[owner]

    def _is_heavy(self, size: int, owner: str) -> bool:
        return size > self._heavy_bytes or self._cost.get(owner, 0.0) > HEAVY_SECONDS

    def _heavy_needed(self, size: int, owner: str) -> bool:
        return self._is_heavy(size, owner) and self._heavy.locked()

    def _record_cost(self, owner: str, seconds: float) -> None:
        previous = self._cost.pop(owner, seconds)
        self._cost[owner] = previous + (seconds - previous) * _COST_WEIGHT
        if len(self._cost) > _COSTS_KEPT:
            self._cost.popitem(last=False)

    def _submit(
        self, work: functools.partial[ScanResult], deadline: float, lanes: list[asyncio.Semaphore], owner: str
    ) -> Future[ScanResult]:
        loop = asyncio.get_running_loop()
        began = time.monotonic()
        future = self._pool.submit(work)
        key = id(future)
        self._running[key] = deadline
        held = list(lanes)

        def finished(_: Future[ScanResult]) -> None:
            # From the scan thread: hand the release to the event loop, which owns the semaphores.
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown: nothing to release
                loop.call_soon_threadsafe(release)

        def release() -> None:
            self._running.pop(key, None)
            self._record_cost(owner, time.monotonic() - began)
            for lane in held:
                lane.release()

        future.add_done_callback(finished)
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
