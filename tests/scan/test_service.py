"""The scanner's admission: a scan past its deadline fails closed and gives its thread back once it
has stopped; a full queue sheds at once with Retry-After; heavy scans leave a thread for small ones;
too much text is a 413, not a retry."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from gateway.errors import BadRequest, PayloadTooLarge, RateLimited, ScanBusy
from gateway.scan.engine import WINDOW, ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.service import Scanner
from tests.scan.test_engine import chat, email


class Gate:
    """Blocks every call until released (or a call's own text says ``free``)."""

    name = "gate"

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls = 0

    def detect(self, text: str) -> list[Hit]:
        self.calls += 1
        if "free" not in text:
            self.open.wait(10)
        return []


class Sleepy:
    name = "sleepy"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def detect(self, text: str) -> list[Hit]:
        self.calls += 1
        time.sleep(self.seconds)
        return []


def test_a_timed_out_scan_stops_and_the_next_request_is_scanned_normally() -> None:
    slow = Sleepy(0.05)
    scanner = Scanner(ScanEngine([slow, email()], cache_size=0), timeout=0.3, threads=1)

    async def scenario() -> None:
        long_text = "word " * (60 * WINDOW // 5)  # 60 windows of at least 50 ms
        result = await scanner.scan("chat.completions", chat(long_text))
        assert result.failed and result.findings[0].detector == "timeout"
        # The thread stops at its next window; until then it is counted running.
        deadline = time.monotonic() + 3
        while scanner.running and time.monotonic() < deadline:  # noqa: ASYNC110 (a thread's end)
            await asyncio.sleep(0.02)
        assert scanner.running == 0 and scanner.waiting == 0
        calls = slow.calls
        assert calls < 40 * 5  # views per window x windows: well short of the whole text
        await asyncio.sleep(0.3)
        assert slow.calls == calls  # nothing goes on in the background
        ok = await scanner.scan("chat.completions", chat("mail bob@example.org"))
        assert not ok.failed and [f.entity for f in ok.findings] == ["EMAIL_ADDRESS"]

    try:
        asyncio.run(scenario())
    finally:
        scanner.close()


def test_a_full_queue_sheds_at_once_with_retry_after() -> None:
    gate = Gate()
    scanner = Scanner(ScanEngine([gate], cache_size=0), timeout=5, threads=1, max_queued=2)

    async def scenario() -> None:
        running = asyncio.ensure_future(scanner.scan("chat.completions", chat("a")))
        queued = [
            asyncio.ensure_future(scanner.scan("chat.completions", chat(f"b{i}"), owner=f"key{i}"))
            for i in range(2)
        ]
        await asyncio.sleep(0.1)
        assert (scanner.running, scanner.waiting) == (1, 2)
        assert scanner.saturated()
        started = time.monotonic()
        with pytest.raises(ScanBusy) as shed:
            await scanner.scan("chat.completions", chat("c"))
        assert time.monotonic() - started < 0.1
        assert shed.value.http_status == 503 and shed.value.headers["retry-after"] == "1"
        assert scanner.shed["scan_busy"] == 1
        gate.open.set()
        for done in await asyncio.gather(running, *queued):
            assert not done.failed
        assert not scanner.saturated() and not scanner.stuck()

    try:
        asyncio.run(scenario())
    finally:
        gate.open.set()
        scanner.close()


def test_a_wait_past_the_deadline_is_busy_not_unscanned() -> None:
    gate = Gate()
    scanner = Scanner(ScanEngine([gate], cache_size=0), timeout=0.3, threads=1)

    async def scenario() -> None:
        running = asyncio.ensure_future(scanner.scan("chat.completions", chat("a")))
        await asyncio.sleep(0.05)
        with pytest.raises(ScanBusy):
            await scanner.scan("chat.completions", chat("free"))
        assert (await running).failed  # the one holding the thread ran out of time itself

    try:
        asyncio.run(scenario())
    finally:
        gate.open.set()
        scanner.close()


def test_heavy_scans_leave_a_thread_for_small_requests() -> None:
    gate = Gate()
    scanner = Scanner(ScanEngine([gate], cache_size=0), timeout=5, threads=2, heavy_bytes=1000)

    async def scenario() -> None:
        heavy = [
            asyncio.ensure_future(scanner.scan("chat.completions", chat("x" * 2000), size=2100))
            for _ in range(3)
        ]
        await asyncio.sleep(0.1)
        assert (scanner.running, scanner.waiting) == (1, 2)  # one heavy at a time
        started = time.monotonic()
        small = await scanner.scan("chat.completions", chat("free"), size=50)
        assert not small.failed and time.monotonic() - started < 1.0
        gate.open.set()
        assert not any(r.failed for r in await asyncio.gather(*heavy))

    try:
        asyncio.run(scenario())
    finally:
        gate.open.set()
        scanner.close()


def test_too_much_text_is_413_and_too_complex_is_400() -> None:
    scanner = Scanner(ScanEngine([email()], max_text_chars=100), timeout=5)

    async def scenario() -> None:
        with pytest.raises(PayloadTooLarge) as too_much:
            await scanner.scan("chat.completions", chat("a" * 101))
        assert too_much.value.http_status == 413 and too_much.value.code == "too_much_text"
        assert "retry-after" not in too_much.value.headers
        deep: object = "x"
        for _ in range(100):
            deep = [deep]
        with pytest.raises(BadRequest):
            await scanner.scan("chat.completions", {"messages": [{"role": "user", "content": deep}]})

    try:
        asyncio.run(scenario())
    finally:
        scanner.close()


def test_one_key_holds_at_most_its_share_of_the_queue() -> None:
    gate = Gate()
    scanner = Scanner(ScanEngine([gate], cache_size=0), timeout=5, threads=1, max_queued=8)

    async def scenario() -> None:
        running = asyncio.ensure_future(scanner.scan("chat.completions", chat("a"), owner="greedy"))
        mine = [
            asyncio.ensure_future(scanner.scan("chat.completions", chat(f"m{i}"), owner="greedy"))
            for i in range(4)  # with room in the queue, past its share of 2 (a quarter of 8)
        ]
        await asyncio.sleep(0.05)
        assert scanner.waiting == 4 and scanner.saturated()
        with pytest.raises(RateLimited) as refused:
            await scanner.scan("chat.completions", chat("one more"), owner="greedy")
        assert refused.value.http_status == 429 and refused.value.headers["retry-after"] == "1"
        assert scanner.shed["scan_key_share"] == 1
        others = asyncio.ensure_future(scanner.scan("chat.completions", chat("o"), owner="other"))
        await asyncio.sleep(0.05)
        assert scanner.waiting == 5  # the other key still queues
        gate.open.set()
        assert not any(r.failed for r in await asyncio.gather(running, *mine, others))
        assert scanner.waiting == 0

    try:
        asyncio.run(scenario())
    finally:
        gate.open.set()
        scanner.close()


def test_a_key_whose_scans_are_slow_moves_to_the_heavy_lane() -> None:
    slow = Sleepy(0.6)  # every scan of this engine costs more than HEAVY_SECONDS
    scanner = Scanner(ScanEngine([slow], cache_size=0), timeout=10, threads=2, heavy_bytes=10_000)

    async def scenario() -> None:
        await scanner.scan("chat.completions", chat("first"), size=100, owner="dense")
        both = [
            asyncio.ensure_future(scanner.scan("chat.completions", chat(f"d{i}"), size=100, owner="dense"))
            for i in range(2)
        ]
        await asyncio.sleep(0.05)
        assert (scanner.running, scanner.waiting) == (1, 1)  # one at a time, like a large body
        await asyncio.gather(*both)

    try:
        asyncio.run(scenario())
    finally:
        scanner.close()


def test_a_scan_running_well_past_its_deadline_is_stuck() -> None:
    gate = Gate()  # a detector that never checks the deadline: the one thing windows cannot stop
    scanner = Scanner(ScanEngine([gate], cache_size=0), timeout=0.1, threads=1)

    async def scenario() -> None:
        assert (await scanner.scan("chat.completions", chat("a"))).failed
        assert not scanner.stuck()
        deadline = time.monotonic() + 5
        while not scanner.stuck() and time.monotonic() < deadline:  # noqa: ASYNC110 (a thread's state)
            await asyncio.sleep(0.05)
        assert scanner.stuck() and scanner.running == 1
        gate.open.set()
        while scanner.running and time.monotonic() < deadline + 3:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        assert not scanner.stuck()

    try:
        asyncio.run(scenario())
    finally:
        gate.open.set()
        scanner.close()
