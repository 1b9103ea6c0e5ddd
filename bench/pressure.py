"""The gateway under pressure: heavy bodies beside small requests, and a crowd past its admission.

Starts the lean fake upstream (``bench/fake_upstream.py``) and one ``gateway serve`` with the default
policy and SQLite audit, as ``bench/overhead.py`` does, then runs one scenario:

``heavy``  -- ``--bodies`` concurrent requests of ``--body-mb`` MB of prose text each (under
              ``max_body_bytes``), while a small fresh-scan request is sent every 0.25 s from before
              they start until after they end.  Reports the gateway's RSS before, its peak (VmHWM) and
              after; each heavy request's status and time; the small requests' statuses, p50 and max.
              ``--max-text-chars`` raises ``scan.max_text_chars`` so the heavy bodies are scanned
              (to their deadline) instead of refused with 413 at once.
``crowd``  -- ``--clients`` concurrent clients sending distinct fresh-scan prompts (each client with
              its own key, as employees have), ``--requests`` in all.  Reports how many were answered
              and shed (503, or 429 for a key past its share of the scan queue, with Retry-After), the
              answered p50/p99, the time to a shed answer (p50,
              max), and requests/s answered; ``--max-queued`` sets ``scan.max_queued``.

    python -m bench.pressure heavy
    python -m bench.pressure heavy --max-text-chars 12000000
    python -m bench.pressure crowd --clients 64 --requests 1500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fresh import fresh_prompt
from bench.loadgen import build_request
from bench.stack import gateway_stack


def _rss_mib(pid: int, field: str = "VmRSS:") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def _body(text: str) -> bytes:
    return json.dumps({"model": "gpt-bench", "messages": [{"role": "user", "content": text}]}).encode()


async def _call(port: int, payload: bytes) -> tuple[int, float, dict[str, str]]:
    """One request on its own connection: (status, seconds, headers)."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            if b":" in line:
                name, _, value = line.partition(b":")
                headers[name.decode().lower()] = value.decode().strip()
        length = int(headers.get("content-length", "0"))
        await reader.readexactly(length)
        return int(head[9:12]), time.perf_counter() - t0, headers
    finally:
        writer.close()


def _prose(size: int, first: int) -> str:
    parts: list[str] = []
    total = 0
    i = first
    while total < size:
        parts.append(fresh_prompt(i))
        total += len(parts[-1]) + 2
        i += 1
    return "\n\n".join(parts)[: size - 200]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


async def _heavy(args: argparse.Namespace, port: int, key: str, pid: int) -> dict[str, Any]:
    auth = {"authorization": f"Bearer {key}"}
    # Distinct prose with personal data in every body and every window: no scan-cache hit.
    heavies = [
        build_request("/v1/chat/completions", _body(_prose(args.body_mb * 1_000_000, 10_000 * (n + 1))), auth)
        for n in range(args.bodies)
    ]
    small: list[tuple[int, float]] = []
    stop = asyncio.Event()

    async def smalls() -> None:
        i = 0
        while not stop.is_set():
            status, seconds, _ = await _call(
                port, build_request("/v1/chat/completions", _body(fresh_prompt(900_000 + i)), auth)
            )
            small.append((status, seconds))
            i += 1
            await asyncio.sleep(0.25)

    rss_before = _rss_mib(pid)
    ticker = asyncio.ensure_future(smalls())
    await asyncio.sleep(2.0)
    before_small = len(small)
    started = time.perf_counter()
    answers = await asyncio.gather(*(_call(port, heavy) for heavy in heavies))
    heavy_done = time.perf_counter() - started
    await asyncio.sleep(2.0)
    stop.set()
    await ticker
    during = small[before_small:]
    return {
        "rss_before_mib": round(rss_before, 1),
        "rss_peak_mib": round(_rss_mib(pid, "VmHWM:"), 1),
        "rss_after_mib": round(_rss_mib(pid), 1),
        "heavy": [(status, round(seconds, 2)) for status, seconds, _ in answers],
        "heavy_wall_s": round(heavy_done, 2),
        "small_before_p50_ms": round(statistics.median(s for _, s in small[:before_small]) * 1000, 1),
        "small_during_count": len(during),
        "small_during_statuses": sorted({status for status, _ in during}),
        "small_during_p50_ms": round(statistics.median(s for _, s in during) * 1000, 1),
        "small_during_max_ms": round(max(s for _, s in during) * 1000, 1),
    }


async def _crowd(args: argparse.Namespace, port: int, keys: list[str]) -> dict[str, Any]:
    remaining = args.requests
    answered: list[float] = []
    shed: list[float] = []
    other: dict[int, int] = {}
    refused: dict[int, int] = {}
    counter = 0

    async def client(key: str) -> None:
        nonlocal remaining, counter
        auth = {"authorization": f"Bearer {key}"}
        while remaining > 0:
            remaining -= 1
            counter += 1
            payload = build_request("/v1/chat/completions", _body(fresh_prompt(2_000_000 + counter)), auth)
            status, seconds, headers = await _call(port, payload)
            if status == 200:
                answered.append(seconds)
            elif status in (429, 503) and "retry-after" in headers:
                shed.append(seconds)
                refused[status] = refused.get(status, 0) + 1
                await asyncio.sleep(float(headers["retry-after"]))  # as the SDKs do
            else:
                other[status] = other.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(client(keys[i % len(keys)]) for i in range(args.clients)))
    elapsed = time.perf_counter() - started
    return {
        "clients": args.clients,
        "answered": len(answered),
        "shed": len(shed),
        "shed_by_status": refused,
        "other": other,
        "answered_p50_ms": round(_pct(answered, 0.5), 1),
        "answered_p99_ms": round(_pct(answered, 0.99), 1),
        "shed_p50_ms": round(_pct(shed, 0.5), 1),
        "shed_max_ms": round(max(shed) * 1000, 1) if shed else None,
        "answered_per_s": round(len(answered) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=("heavy", "crowd"))
    parser.add_argument("--bodies", type=int, default=3)
    parser.add_argument("--body-mb", type=int, default=9)
    parser.add_argument("--max-text-chars", type=int)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--max-queued", type=int)
    args = parser.parse_args()

    scan: dict[str, int] = {}
    if args.max_text_chars is not None:
        scan["max_text_chars"] = args.max_text_chars
    if args.max_queued is not None:
        scan["max_queued"] = args.max_queued
    tmp = Path(tempfile.mkdtemp(prefix="gw-pressure-"))
    keys = 8 if args.scenario == "crowd" else 1
    with gateway_stack(tmp, extra=f"scan: {json.dumps(scan)}\n", keys=keys) as stack:
        if args.scenario == "heavy":
            figures = asyncio.run(_heavy(args, stack.port, stack.keys[0], stack.pid))
        else:
            figures = asyncio.run(_crowd(args, stack.port, stack.keys))
    print(json.dumps({"scenario": args.scenario, "scan": scan, **figures}, indent=2))


if __name__ == "__main__":
    main()
