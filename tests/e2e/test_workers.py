"""``gateway serve --workers 2``: two processes on one port, one scrape with their totals, a chain
each that verifies, limits that are the configured ones, and a worker that dies replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from gateway.audit.tables import audit_records
from tests.e2e.conftest import Fakes
from tests.e2e.test_cli_serve import _free_port, _serve, _wait_healthy, openai_only_config
from tests.test_metrics import parse_exposition

REQUESTS = 24
Pool = tuple[str, str, Path, dict[str, str], subprocess.Popen[str]]  # url, key, database, env, supervisor


@pytest.fixture
def two_workers(fakes: Fakes, tmp_path: Path) -> Iterator[Pool]:
    port = _free_port()
    config = openai_only_config(fakes, tmp_path, port, "scan: {enabled: false}\n")
    text = config.read_text().replace(f"server: {{port: {port}}}", f"server: {{port: {port}, workers: 2}}")
    config.write_text(text)
    env, key, proc = _serve(config)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, base)
        yield base, key, tmp_path / "gw.db", env, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def _workers(proc: subprocess.Popen[str]) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _started_workers(proc: subprocess.Popen[str], timeout: float = 60) -> list[int]:
    """Both workers, once each has started (written its first metrics snapshot): a worker killed
    before that counts as one that failed to start, and stops them all, by design."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _workers(proc)
        started = []
        for pid in pids:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            shared = Path(argv[argv.index(b"--worker-dir") + 1].decode())
            if (shared / f"{pid}.prom").exists():
                started.append(pid)
        if len(started) == 2:
            return started
        assert time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.1)


def _chat(base: str, key: str, n: int) -> int:
    # A new connection each time: the kernel spreads connections, not requests, over the workers.
    with httpx.Client(base_url=base, timeout=30) as http:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {n}"}]}
        reply = http.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})
        return reply.status_code


def _writers(db: Path, at_least: int) -> list[tuple[str, int]]:
    """Final records per chain, once ``at_least`` are written (each just after its answer)."""
    engine = create_engine(f"sqlite:///{db}")
    deadline = time.monotonic() + 10
    try:
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(audit_records.c.writer, func.count())
                    .where(audit_records.c.phase == "end")
                    .group_by(audit_records.c.writer)
                ).all()
            if sum(count for _, count in rows) >= at_least or time.monotonic() > deadline:
                return [(str(w), int(c)) for w, c in rows]
            time.sleep(0.1)
    finally:
        engine.dispose()


def test_two_workers_share_the_port_and_one_scrape_counts_them_all(two_workers: Pool, fakes: Fakes) -> None:
    base, key, db, env, proc = two_workers
    assert len(_workers(proc)) == 2
    assert [_chat(base, key, n) for n in range(REQUESTS)] == [200] * REQUESTS
    assert len(fakes.openai.received) == REQUESTS
    writers = _writers(db, REQUESTS)
    assert len(writers) == 2, "both workers served"  # 24 new connections: both get some
    assert sum(count for _, count in writers) == REQUESTS
    # One scrape, whichever worker answers it, counts every worker's requests (snapshots: ~1 s).
    deadline = time.monotonic() + 10
    while True:
        scrape = parse_exposition(httpx.get(f"{base}/metrics").text)
        total = sum(scrape.series("gateway_requests_total").values())
        if total == REQUESTS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert total == REQUESTS
    assert scrape.value("gateway_audit_store_up") == 1
    assert sum(scrape.series("gateway_request_seconds_count").values()) == REQUESTS
    verify = [sys.executable, "-m", "gateway", "audit", "verify"]
    verified = subprocess.run(verify, env=env, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0 and "in 2 chains" in verified.stdout, verified.stdout


def test_a_worker_that_dies_is_replaced_and_sigterm_ends_them_all(two_workers: Pool, fakes: Fakes) -> None:
    base, key, _, _, proc = two_workers
    first = _started_workers(proc)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:
        now = _workers(proc)
        if len(now) == 2 and first[0] not in now:
            break
        assert time.monotonic() < deadline, "the dead worker was not replaced"
        time.sleep(0.2)
    deadline = time.monotonic() + 60
    while not all(_chat(base, key, n) == 200 for n in range(6)):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert _workers(proc) == []


def test_several_workers_refuse_an_embedded_engine_and_port_0(tmp_path: Path) -> None:
    from gateway.settings import ConfigError, settings_from_mapping

    with pytest.raises(ConfigError, match="embedded engine runs in one process only"):
        settings_from_mapping(
            {
                "server": {"workers": 2},
                "destinations": {"local": {"type": "local", "jurisdiction": "LOCAL", "engine": {}}},
            },
            source="g",
            environ={},
        )
    with pytest.raises(ConfigError, match="fixed port"):
        settings_from_mapping({"server": {"workers": 2, "port": 0}}, source="g", environ={})


def test_workers_that_cannot_start_stop_the_supervisor_with_their_status(
    fakes: Fakes, tmp_path: Path
) -> None:
    """A port another program holds: each worker fails before it started, and instead of restarting
    them for ever the supervisor stops and exits non-zero."""
    import socket

    port = _free_port()
    config = openai_only_config(fakes, tmp_path, port, "scan: {enabled: false}\n")
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))  # no SO_REUSEPORT: nobody else may bind it
    holder.listen(1)
    try:
        _, _, proc = _serve(config, "--workers", "2")
        output, _ = proc.communicate(timeout=120)
    finally:
        holder.close()
    assert proc.returncode not in (0, None)
    assert "failed to start" in output and "cannot listen on 127.0.0.1" in output
