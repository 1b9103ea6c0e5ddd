"""Added latency and throughput of the gateway over calling the upstream directly.

Starts, in one process tree on loopback: a lean fake OpenAI upstream
(``bench/fake_upstream.py``), one ``gateway serve`` process in front of it (SQLite
audit by default, ``--database postgres`` for the local PostgreSQL), and this
process as the load generator.  For each scenario it runs the same requests
(1 KB prompts) straight to the upstream and through the gateway, interleaved in
rounds (A B A B), and prints medians over the rounds: latency p50/p99, added
p50/p99, requests/s and the gateway/direct ratio; for streams also time to first
byte.  See ../shared/BENCHMARKING.md for why it is shaped this way.

    python -m bench.overhead                    # default scenarios, SQLite
    python -m bench.overhead --database postgres --rounds 3 --requests 2000
    python -m bench.overhead --pii --concurrency 1    # pseudonymize + restore (implies --scan)
    python -m bench.overhead --scan --concurrency 1 8 # fresh scans: the product's real path
    python -m bench.overhead --scan --concurrency 8 --baseline /tmp/old   # old and new, interleaved

With ``--scan`` the scenario is ``fresh-scan``: a distinct ~1 KB prose prompt per request with a
name, an e-mail address and a phone number (``bench/fresh.py``), so every request is scanned in full
and pseudonymized; the table adds the gateway's CPU milliseconds per request (its user + system time
over the measured runs, from /proc).  ``--baseline TREE`` also starts a second gateway from another
checkout (``git worktree add /tmp/old <commit>``) with the same config, and interleaves it in the
rounds (direct, new, old, direct, new, old, ...), so that before and after come from one run.

With ``--pii`` the scenarios are streams of a 1 KB prompt full of personal data that the default
policy pseudonymizes and the upstream echoes back in 3-character deltas, so every answer has its
tokens split across events and restored by the gateway.  ``stream-pii-repeat`` sends the same prompt
every time (the scan cache answers, as for the history a chat client resends), which isolates what
pseudonymizing, restoring and the answer guard add; ``stream-pii-new`` sends a new prompt every
time, so it includes a full scan.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.fresh import fresh_prompt
from bench.loadgen import Result, build_request, run_load

# The gateway does not start without a secret of its own (outside development mode).
BENCH_SECRET = "hex:" + "be" * 32

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROMPT = ("The quarterly report covers revenue, churn and hiring plans for the next year. " * 13)[:1024]
PII_PROMPT = (
    "Please draft a reply to Maria Garcia (maria.garcia@example.org, +1 415 555 0134) about the "
    "refund of her order; her card 4111 1111 1111 1111 was charged twice. Copy John Miller at "
    "john.miller@example.com and mention that the account holder's phone is +44 20 7946 0958. "
) * 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for {url} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def bench_key(env: dict[str, str], cwd: Path | None = None) -> str:
    """A gateway key for the load generator, made by the CLI against the benchmark's config."""
    created = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "create", "--user", "bench"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1500, help="requests per run (non-stream)")
    parser.add_argument("--stream-requests", type=int, default=300, help="requests per run (stream)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--scan",
        action="store_true",
        help="run with detection on and a distinct prompt per request (default: detection off, "
        "which measures the proxy itself)",
    )
    parser.add_argument(
        "--baseline",
        metavar="TREE",
        help="a checkout of another commit: its gateway runs beside this one, interleaved in the rounds",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        metavar="N",
        help="instead of --baseline: one gateway per N (server.workers), interleaved in the rounds; "
        "CPU and RSS are summed over each gateway's processes",
    )
    parser.add_argument(
        "--pii",
        action="store_true",
        help="pseudonymize-and-restore streaming scenarios instead of the default ones (implies --scan)",
    )
    args = parser.parse_args()
    args.scan = args.scan or args.pii

    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.fake_upstream", str(up_port)])
    # One key sends every request: its rate limit would measure the limit, not the gateway.
    unlimited = "limits: {per_key_rate: null, per_key_active: 1024}\n"
    if args.workers:
        gateways = [
            BenchGateway.start(f"w{n}", None, tmp / f"w{n}", up_port, args, unlimited, workers=n)
            for n in args.workers
        ]
    else:
        gateways = [BenchGateway.start("new", None, tmp / "new", up_port, args, unlimited)]
    if args.baseline and not args.workers:
        old = Path(args.baseline).resolve()
        # A baseline from before admission control (issue 17) has no ``limits`` section to switch off.
        knows_limits = "class LimitsSettings" in (old / "gateway" / "settings.py").read_text(encoding="utf-8")
        gateways.append(
            BenchGateway.start("old", old, tmp / "old", up_port, args, unlimited if knows_limits else "")
        )
    try:
        wait_up(f"http://127.0.0.1:{up_port}/", upstream)
        for gw in gateways:
            wait_up(f"http://127.0.0.1:{gw.port}/healthz", gw.proc)
        figures = asyncio.run(_scenarios(args, up_port, gateways))
        for gw in gateways:
            figures[f"{gw.label}_peak_rss_mib"] = round(sum(peak_rss_mib(pid) for pid in gw.pids()), 1)
    finally:
        for gw in gateways:
            gw.stop()
        upstream.send_signal(signal.SIGTERM)
        upstream.wait(timeout=30)
    rss = "   ".join(
        f"{gw.label} gateway peak RSS: {figures[f'{gw.label}_peak_rss_mib']} MiB" for gw in gateways
    )
    print(
        f"\n{rss}   audit database: {args.database}   "
        f"detection: {'on, distinct prompts' if args.scan else 'off'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


class BenchGateway:
    """One ``gateway serve`` process; ``tree`` runs another checkout's code (PYTHONPATH) instead."""

    def __init__(self, label: str, port: int, key: str, proc: subprocess.Popen[bytes], log: Any) -> None:
        self.label, self.port, self.key, self.proc, self._log = label, port, key, proc, log

    @classmethod
    def start(
        cls,
        label: str,
        tree: Path | None,
        tmp: Path,
        up_port: int,
        args: argparse.Namespace,
        extra: str = "",
        workers: int = 1,
    ) -> BenchGateway:
        """``extra``: more config lines (this checkout's keys; a baseline tree may not know them)."""
        tmp.mkdir(parents=True)
        port = free_port()
        db_url = f"sqlite:///{tmp / 'bench.db'}" if args.database == "sqlite" else POSTGRES_URL
        config = tmp / "gateway.yaml"
        # Only when several: a baseline tree may not know server.workers.
        server = (
            f"server: {{port: {port}, workers: {workers}}}\n"
            if workers > 1
            else f"server: {{port: {port}}}\n"
        )
        config.write_text(
            server + f"database_url: {db_url}\n"
            f"scan: {{enabled: {'true' if args.scan else 'false'}}}\n"
            # Each checkout's own default policy: an older one may not know a newer data class.
            f"policies: ['{(tree or Path(__file__).resolve().parents[1]) / 'policies' / 'default.yaml'}']\n"
            "destinations:\n"
            f"  bench: {{type: openai, base_url: 'http://127.0.0.1:{up_port}/v1', api_key_env: BENCH_KEY,"
            " jurisdiction: US, models: ['gpt-*']}\n" + extra
        )
        env = {
            **os.environ,
            "BENCH_KEY": "sk-bench",
            "GATEWAY_CONFIG": str(config),
            "GATEWAY_SECRET": BENCH_SECRET,
        }
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        # ``python -m`` puts the working directory first on the path: run the other checkout from there.
        key = bench_key(env, tree)
        log = open(tmp / "gateway.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve"], env=env, stdout=log, stderr=log, cwd=tree
        )
        return cls(label, port, key, proc, log)

    def pids(self) -> list[int]:
        """The process and its children (the workers of ``--workers``), from /proc."""
        found, pending = [], [self.proc.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                pending.extend(int(child) for child in task.read_text().split())
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its workers so far (Linux /proc)."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self._log.close()


async def _scenarios(
    args: argparse.Namespace, up_port: int, gateways: list[BenchGateway]
) -> dict[str, object]:
    body = {"model": "gpt-bench", "messages": [{"role": "user", "content": PROMPT}]}
    plain = json.dumps(body).encode()
    streamed = json.dumps({**body, "stream": True}).encode()
    direct_headers = {"authorization": "Bearer sk-bench"}
    figures: dict[str, object] = {}
    tags = itertools.count()
    print(
        f"{'scenario':<18}{'gw':>4}{'conc':>5}{'direct p50':>11}{'gw p50':>9}{'added p50':>10}"
        f"{'added p99':>10}{'direct rps':>11}{'gw rps':>8}{'ratio':>7}{'+ttfb p50':>10}{'cpu ms/req':>11}"
        "   spread(added p50)"
    )
    scenarios: list[tuple[str, bytes, int]] = [
        ("non-stream", plain, args.requests),
        ("stream-340-events", streamed, args.stream_requests),
    ]
    if args.scan:
        # The product's real path: every request a new prompt with personal data, scanned in full.
        scenarios = [("fresh-scan", plain, args.requests)]
    if args.pii:
        echo = {"model": "gpt-echo", "stream": True, "messages": [{"role": "user", "content": PII_PROMPT}]}
        pii = json.dumps(echo).encode()
        scenarios = [
            ("stream-pii-repeat", pii, args.stream_requests),
            ("stream-pii-new", pii, args.stream_requests),
        ]
    for name, payload, total in scenarios:
        for conc in args.concurrency:
            direct_req = build_request("/v1/chat/completions", payload, direct_headers)

            def requests(
                gw: BenchGateway, count: int, payload: bytes = payload, name: str = name
            ) -> bytes | list[bytes]:
                headers = {"authorization": f"Bearer {gw.key}"}
                if name == "fresh-scan":
                    return _fresh(headers, count, tags)
                if args.scan and name != "stream-pii-repeat":
                    return _distinct(payload, headers, count, tags)
                return build_request("/v1/chat/completions", payload, headers)

            # Warm both paths (connections, caches, the key cache) before measuring.
            await run_load("127.0.0.1", up_port, direct_req, 50, min(conc, 8))
            for gw in gateways:
                await run_load("127.0.0.1", gw.port, requests(gw, 50), 50, min(conc, 8))
            rounds: dict[str, list[tuple[Result, Result, float]]] = {gw.label: [] for gw in gateways}
            for _ in range(args.rounds):
                for gw in gateways:
                    d = await run_load("127.0.0.1", up_port, direct_req, total, conc)
                    gw_req = requests(gw, total)
                    cpu = gw.cpu_seconds()
                    g = await run_load("127.0.0.1", gw.port, gw_req, total, conc)
                    cpu_ms = (gw.cpu_seconds() - cpu) * 1000.0 / total
                    if d.errors or g.errors:
                        raise SystemExit(
                            f"errors during {name} c={conc}: direct {d.errors}, gateway {g.errors}"
                        )
                    rounds[gw.label].append((d, g, cpu_ms))
            for gw in gateways:
                row = _summarise(rounds[gw.label])
                figures[f"{name}@{conc}" if gw.label == "new" else f"{name}@{conc}/{gw.label}"] = row
                print(
                    f"{name:<18}{gw.label:>4}{conc:>5}{row['direct_p50_ms']:>11.2f}{row['gw_p50_ms']:>9.2f}"
                    f"{row['added_p50_ms']:>10.2f}{row['added_p99_ms']:>10.2f}{row['direct_rps']:>11.0f}"
                    f"{row['gw_rps']:>8.1f}{row['ratio']:>7.2f}{row['added_ttfb_p50_ms']:>10.2f}"
                    f"{row['cpu_ms_per_request']:>11.2f}   {row['added_p50_spread_ms']}"
                )
    return figures


def _fresh(headers: dict[str, str], count: int, tags: Iterator[int]) -> list[bytes]:
    return [
        build_request(
            "/v1/chat/completions",
            json.dumps(
                {"model": "gpt-bench", "messages": [{"role": "user", "content": fresh_prompt(next(tags))}]}
            ).encode(),
            headers,
        )
        for _ in range(count)
    ]


def _distinct(payload: bytes, headers: dict[str, str], count: int, tags: Iterator[int]) -> list[bytes]:
    """A new prompt for every request: chat clients resend history, but each turn brings new text, and
    the scan cache must not make the figures look better than a real turn costs."""
    return [
        build_request(
            "/v1/chat/completions",
            payload.replace(b"revenue", b"revenue %d" % next(tags), 1).replace(
                b"refund", b"refund %d" % next(tags), 1
            ),
            headers,
        )
        for _ in range(count)
    ]


def _summarise(rounds: list[tuple[Result, Result, float]]) -> dict[str, float | list[float]]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    added_p50 = [_pct(g.latencies, 0.5) - _pct(d.latencies, 0.5) for d, g, _ in rounds]
    added_p99 = [_pct(g.latencies, 0.99) - _pct(d.latencies, 0.99) for d, g, _ in rounds]
    added_ttfb = [_pct(g.ttfb, 0.5) - _pct(d.ttfb, 0.5) for d, g, _ in rounds]
    return {
        "direct_p50_ms": med([_pct(d.latencies, 0.5) for d, _, _ in rounds]),
        "gw_p50_ms": med([_pct(g.latencies, 0.5) for _, g, _ in rounds]),
        "direct_p99_ms": med([_pct(d.latencies, 0.99) for d, _, _ in rounds]),
        "gw_p99_ms": med([_pct(g.latencies, 0.99) for _, g, _ in rounds]),
        "added_p50_ms": med(added_p50),
        "added_p99_ms": med(added_p99),
        "added_ttfb_p50_ms": med(added_ttfb),
        "direct_rps": med([d.rps for d, _, _ in rounds]),
        "gw_rps": med([g.rps for _, g, _ in rounds]),
        "ratio": med([g.rps / d.rps for d, g, _ in rounds]),
        "added_p50_spread_ms": [round(v, 2) for v in added_p50],
        "cpu_ms_per_request": med([cpu for _, _, cpu in rounds]),
    }


if __name__ == "__main__":
    main()
