"""The lean fake upstream and one ``gateway serve`` in front of it, as the load scripts run them:
default policy, SQLite audit in a temporary directory, gateway keys made by the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.overhead import bench_key, free_port, wait_up

# The gateway does not start without a secret of its own (outside development mode).
BENCH_SECRET = "hex:" + "be" * 32

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Stack:
    port: int  # the gateway's
    up_port: int  # the fake upstream's
    keys: list[str]
    pid: int  # the gateway process
    db_url: str
    env: dict[str, str]  # runs the gateway CLI against this stack's config


@contextmanager
def gateway_stack(tmp: Path, *, extra: str = "", keys: int = 1) -> Iterator[Stack]:
    """Start both, with ``keys`` gateway keys and ``extra`` config lines; stop both (SIGTERM) on exit."""
    up_port, port = free_port(), free_port()
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    config = tmp / "gateway.yaml"
    config.write_text(
        f"server: {{port: {port}}}\n"
        f"database_url: {db_url}\n"
        f"policies: ['{ROOT / 'policies' / 'default.yaml'}']\n"
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
    made = [bench_key(env) for _ in range(keys)]
    upstream = subprocess.Popen([sys.executable, "-m", "bench.fake_upstream", str(up_port)])
    log = open(tmp / "gateway.log", "wb")  # noqa: SIM115
    gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], env=env, stdout=log, stderr=log)
    try:
        wait_up(f"http://127.0.0.1:{up_port}/received", upstream)
        wait_up(f"http://127.0.0.1:{port}/healthz", gateway)
        yield Stack(port, up_port, made, gateway.pid, db_url, env)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=60)
        log.close()
        upstream.send_signal(signal.SIGTERM)
        upstream.wait(timeout=30)
