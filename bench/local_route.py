"""The local route's cost: the embedded engine's start-up time, and the latency the gateway adds over
calling the engine directly.

    python -m bench.local_route [--starts 5] [--rounds 2] [--requests 200] [--concurrency 1 2]

Start-up: the tiny generated model is written once into a fresh cache directory (timed), then the
engine is started ``--starts`` times from cold (a new child process each time: Python, the xllamacpp
import, llama.cpp loading the GGUF, listening, /health, and a one-token probe).

Latency: one ``gateway serve`` with the embedded engine as its local destination and the default
policy, and one more engine of the same model and settings started here for the direct calls.  The
same chat request (a prompt marked CONFIDENTIAL, which the default policy routes local) goes to the
engine directly and through the gateway as a ``gpt-4o`` request, interleaved in rounds (A B A B);
the gateway's scan cache answers after the first request, as for a conversation's resent history.
Requests are temperature 0 with a fixed ``max_tokens``, so both sides generate the same tokens.

The model has random weights: the figures measure the engine and the gateway, not a language model.
A real MoE (Qwen3-30B-A3B) takes tens of milliseconds per token on a CPU, which makes the gateway's
few milliseconds a smaller share still.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.loadgen import Result, build_request, run_load
from bench.overhead import _summarise, bench_key, free_port, peak_rss_mib, wait_up
from gateway.endpoints import Destination
from gateway.local import tiny_moe
from gateway.local.engine import EmbeddedEngine
from gateway.settings import DestinationSettings, EngineSettings

# The gateway does not start without a secret of its own (outside development mode).
BENCH_SECRET = "hex:" + "be" * 32

PROMPT = "CONFIDENTIAL: summarise the board minutes on the Northwind merger in three bullet points."
ENGINE = {"context_size": 4096, "parallel": 2, "threads": 1}


async def _engine_starts(cache: Path, count: int) -> list[float]:
    settings = DestinationSettings(type="local", jurisdiction="LOCAL", engine=EngineSettings(**ENGINE))
    dest = Destination("local", settings)
    times: list[float] = []
    async with httpx.AsyncClient() as client:
        for _ in range(count):
            engine = EmbeddedEngine(dest, client, cache)
            started = time.perf_counter()
            await engine.start()
            times.append(time.perf_counter() - started)
            await engine.close()
    return times


async def _latency(args: argparse.Namespace, cache: Path, gw_port: int, key: str) -> dict[str, object]:
    settings = DestinationSettings(type="local", jurisdiction="LOCAL", engine=EngineSettings(**ENGINE))
    figures: dict[str, object] = {}
    async with httpx.AsyncClient() as client:
        engine = EmbeddedEngine(Destination("local", settings), client, cache)
        await engine.start()
        try:
            host, port = engine.base_url.removeprefix("http://").removesuffix("/v1").split(":")
            direct_headers = {"authorization": f"Bearer {engine._key}"}
            gw_headers = {"authorization": f"Bearer {key}"}
            print(
                f"{'scenario':<16}{'conc':>5}{'direct p50':>11}{'gw p50':>9}{'added p50':>10}"
                f"{'added p99':>10}{'direct rps':>11}{'gw rps':>8}{'+ttfb p50':>10}   spread(added p50)"
            )
            for name, extra in (
                ("whole-16-tokens", {"max_tokens": 16}),
                ("stream-64-tokens", {"max_tokens": 64, "stream": True}),
            ):
                body = {"messages": [{"role": "user", "content": PROMPT}], "temperature": 0, **extra}
                direct = build_request(
                    "/v1/chat/completions", json.dumps({**body, "model": "x"}).encode(), direct_headers
                )
                via = build_request(
                    "/v1/chat/completions", json.dumps({**body, "model": "gpt-4o"}).encode(), gw_headers
                )
                for conc in args.concurrency:
                    await run_load(host, int(port), direct, 20, conc)
                    await run_load("127.0.0.1", gw_port, via, 20, conc)
                    rounds: list[tuple[Result, Result]] = []
                    for _ in range(args.rounds):
                        d = await run_load(host, int(port), direct, args.requests, conc)
                        g = await run_load("127.0.0.1", gw_port, via, args.requests, conc)
                        if d.errors or g.errors:
                            raise SystemExit(f"errors in {name}: direct {d.errors}, gateway {g.errors}")
                        rounds.append((d, g))
                    row = _summarise(rounds)
                    figures[f"{name}@{conc}"] = row
                    print(
                        f"{name:<16}{conc:>5}{row['direct_p50_ms']:>11.2f}{row['gw_p50_ms']:>9.2f}"
                        f"{row['added_p50_ms']:>10.2f}{row['added_p99_ms']:>10.2f}{row['direct_rps']:>11.0f}"
                        f"{row['gw_rps']:>8.0f}{row['added_ttfb_p50_ms']:>10.2f}"
                        f"   {row['added_p50_spread_ms']}"
                    )
        finally:
            await engine.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--starts", type=int, default=5, help="cold engine starts to time")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=200, help="requests per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gw-local-bench-"))
    cache = tmp / "cache"
    started = time.perf_counter()
    tiny_moe.ensure(cache)
    generated = time.perf_counter() - started
    size_kib = (cache / tiny_moe.FILE_NAME).stat().st_size / 1024
    starts = asyncio.run(_engine_starts(cache, args.starts))
    print(f"tiny model generated in {generated * 1000:.0f} ms ({size_kib:.0f} KiB, sha256 verified)")
    print(
        f"engine cold start (spawn -> listening -> healthy -> one-token probe), {len(starts)} starts: "
        f"median {statistics.median(starts) * 1000:.0f} ms, min {min(starts) * 1000:.0f}, "
        f"max {max(starts) * 1000:.0f}"
    )

    gw_port = free_port()
    config = tmp / "gateway.yaml"
    config.write_text(
        f"server: {{port: {gw_port}}}\n"
        f"database_url: sqlite:///{tmp / 'bench.db'}\n"
        f"cache_dir: {cache}\n"
        # One key sends every request: its rate limit would measure the limit, not the route.
        "limits: {per_key_rate: null, per_key_active: 1024}\n"
        f"policies: ['{Path(__file__).resolve().parents[1] / 'policies' / 'default.yaml'}']\n"
        "destinations:\n"
        "  offshore: {type: openai, base_url: 'http://127.0.0.1:9/v1', jurisdiction: US, models: ['gpt-*']}\n"
        f"  local: {{type: local, jurisdiction: LOCAL, engine: {json.dumps(ENGINE)}}}\n"
    )
    env = {**os.environ, "GATEWAY_CONFIG": str(config), "GATEWAY_SECRET": BENCH_SECRET}
    key = bench_key(env)
    log = open(tmp / "gateway.log", "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_up(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        ready = time.perf_counter() - t0
        print(f"gateway serve -> answering with the engine ready: {ready * 1000:.0f} ms\n")
        figures = asyncio.run(_latency(args, cache, gw_port, key))
        figures["engine_start_ms"] = [round(s * 1000, 1) for s in starts]
        figures["gateway_ready_ms"] = round(ready * 1000, 1)
        figures["gateway_peak_rss_mib"] = round(peak_rss_mib(gateway.pid), 1)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=30)
        log.close()
    print(f"\ngateway peak RSS: {figures['gateway_peak_rss_mib']} MiB (the engine is a separate process)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
