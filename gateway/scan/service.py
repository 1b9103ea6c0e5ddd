"""Runs the engine off the event loop, bounded in time, failing closed."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gateway.errors import BadRequest
from gateway.scan.engine import ScanEngine, ScanResult
from gateway.scan.findings import Finding
from gateway.scan.segments import Extracted, ExtractionLimit

log = logging.getLogger("gateway.scan")


def failed_result(detector: str) -> ScanResult:
    return ScanResult((Finding("scan_failed", "SCAN_FAILED", -1, 0, 0, 1.0, detector),), Extracted((), ()))


class Scanner:
    def __init__(self, engine: ScanEngine, *, timeout: float, workers: int = 2) -> None:
        self._engine = engine
        self._timeout = timeout
        # Own threads, sized to the cores: detection is CPU-bound, more threads only add contention,
        # and the default executor is shared with database work.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan")

    @property
    def engine(self) -> ScanEngine:
        return self._engine

    async def scan(self, endpoint: str, body: dict[str, Any], context: str = "") -> ScanResult:
        loop = asyncio.get_running_loop()
        # The engine checks the same deadline between segments, so work abandoned here also stops there.
        deadline = time.monotonic() + self._timeout
        work = functools.partial(self._engine.scan, endpoint, body, deadline=deadline, context=context)
        try:
            async with asyncio.timeout(self._timeout):
                return await loop.run_in_executor(self._pool, work)
        except TimeoutError:
            log.error("scan exceeded %.1f s; request treated as unscanned", self._timeout)
            return failed_result("timeout")
        except ExtractionLimit as exc:
            # The client's request is out of bounds, not the gateway broken: say so with a 400.
            raise BadRequest(f"The request cannot be inspected: {exc}.", code="request_too_complex") from None
        except Exception as exc:  # never "nothing found" because the scanner broke
            log.error("scan failed: %s", type(exc).__name__)
            return failed_result("engine")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
