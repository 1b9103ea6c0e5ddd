"""A soak: mixed traffic with personal data through one ``gateway serve`` for a given time.

Starts the lean fake upstream (``bench/fake_upstream.py``, which counts the bodies it receives) and one
gateway with the default policy and SQLite audit, then sends, from ``--clients`` keep-alive clients
(each with its own key),
a mix of distinct fresh-scan prompts (name, e-mail, phone: scanned and pseudonymized) answered
whole, and streams of ~1 KB prompts with personal data echoed back in 3-character deltas (tokens split
across events and restored), one stream in three.  Every ``--sample`` seconds it records the gateway's
RSS and open file descriptors.  At the end it stops the gateway with SIGTERM and reports:

- RSS and open fds at minute 5 and at the end, and the largest RSS seen;
- requests sent, answered 200, errors by status;
- audit records (phase "end") against the bodies the fake provider received: equal when nothing
  was lost;
- ``gateway audit verify`` on the trail.

    python -m bench.soak --minutes 30
    python -m bench.soak --minutes 6 --clients 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from bench.fresh import fresh_prompt
from bench.loadgen import build_request
from bench.overhead import PII_PROMPT
from bench.stack import gateway_stack
from gateway.audit.tables import audit_records


def _status_of(pid: int) -> tuple[float, int]:
    rss = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def _read(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readline()).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        start = lower.index(b"content-length:") + 15
        await reader.readexactly(int(lower[start : lower.index(b"\r\n", start)]))
    return status


async def _traffic(args: argparse.Namespace, port: int, keys: list[str], pid: int) -> dict[str, Any]:
    end = time.monotonic() + args.minutes * 60
    statuses: dict[int, int] = {}
    samples: list[tuple[float, float, int]] = []
    sent = 0

    def payload(n: int, auth: dict[str, str]) -> bytes:
        if n % 3 == 0:
            # A distinct prompt full of personal data, echoed back as a stream (tokens restored).
            text = f"Ticket {n}: " + PII_PROMPT
            body = {"model": "gpt-echo", "stream": True, "messages": [{"role": "user", "content": text}]}
        else:
            body = {
                "model": "gpt-bench",
                "messages": [{"role": "user", "content": fresh_prompt(5_000_000 + n)}],
            }
        return build_request("/v1/chat/completions", json.dumps(body).encode(), auth)

    async def client(key: str) -> None:
        nonlocal sent
        auth = {"authorization": f"Bearer {key}"}
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < end:
                sent += 1
                writer.write(payload(sent, auth))
                try:
                    status = await _read(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                statuses[status] = statuses.get(status, 0) + 1
                await asyncio.sleep(args.pause)
        finally:
            writer.close()

    async def sampler() -> None:
        started = time.monotonic()
        while time.monotonic() < end:
            rss, fds = _status_of(pid)
            samples.append((time.monotonic() - started, rss, fds))
            await asyncio.sleep(args.sample)

    await asyncio.gather(sampler(), *(client(key) for key in keys))
    at5 = next((s for s in samples if s[0] >= 300), samples[len(samples) // 2])
    last = samples[-1]
    return {
        "minutes": args.minutes,
        "requests_sent": sent,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rss_at_minute_5_mib": round(at5[1], 1),
        "rss_at_end_mib": round(last[1], 1),
        "rss_end_vs_minute_5": f"{(last[1] / at5[1] - 1) * 100:+.1f}%",
        "rss_max_mib": round(max(s[1] for s in samples), 1),
        "fds_at_minute_5": at5[2],
        "fds_at_end": last[2],
        "rss_series_mib": [round(s[1], 1) for s in samples[:: max(1, len(samples) // 12)]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds each client waits between requests"
    )
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gw-soak-"))
    # One key per client, as employees have.
    with gateway_stack(tmp, keys=args.clients) as stack:
        figures = asyncio.run(_traffic(args, stack.port, stack.keys, stack.pid))
        received = int(httpx.get(f"http://127.0.0.1:{stack.up_port}/received").text)
    engine = create_engine(stack.db_url)
    try:
        with engine.connect() as conn:
            ends = conn.execute(
                select(func.count()).select_from(audit_records).where(audit_records.c.phase == "end")
            ).scalar_one()
            egress = conn.execute(
                select(func.count())
                .select_from(audit_records)
                .where(audit_records.c.phase == "end", audit_records.c.status == 200)
            ).scalar_one()
    finally:
        engine.dispose()
    verify = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify"], env=stack.env, capture_output=True, text=True
    )
    figures.update(
        {
            "audit_end_records": ends,
            "audit_records_status_200": egress,
            "bodies_provider_received": received,
            "audit_verify_exit": verify.returncode,
            "audit_verify_says": (verify.stdout + verify.stderr).strip().splitlines()[-1:],
        }
    )
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
