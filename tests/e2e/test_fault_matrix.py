"""The fault matrix: each fault the gateway must survive, run through the real server, and the same
three things asserted for every one of them.

1. What the client gets: the status and the error code (in the body, or in the stream's last event).
2. Nothing unscanned left: every prompt carries a planted e-mail address and card number, which must
   never reach any provider verbatim, and an answer the gateway could not inspect never reaches the
   client.
3. The audit records equal the egress: every request the providers received has a record committed
   before it left ("start"), no request that was refused before egress has one, and every request
   ends with exactly one final record whose status is what the client got.

Faults covered elsewhere, with the same three checks in their own words: the audit store read-only
(tests/e2e/test_health.py, tests/audit/test_store.py), SIGTERM with open streams
(tests/e2e/test_shutdown.py), a broken local model server (tests/e2e/test_local_remote.py), invalid
policy and term-list reloads (tests/e2e/test_policy_reload.py, tests/e2e/test_rule_reload.py), and
kill -9 under load (test_kill_9_under_load_leaves_a_trail_that_verifies_and_covers_every_egress, below).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from gateway.audit.tables import audit_records
from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway

EMAIL, CARD = "fm.canary@example.org", "4111 1111 1111 1111"
CARD_DIGITS = CARD.replace(" ", "")


@dataclass(frozen=True)
class Outcome:
    status: int
    code: str | None  # the error code the client saw (body or last stream event); None: a clean answer
    request_id: str
    text: str  # everything the client received


def _prompt(case: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"[{case}] Write to {EMAIL} about card {CARD}, please."}]


def _send(gw: Gateway, model: str, case: str, *, stream: bool = False, timeout: float = 30) -> Outcome:
    body = {"model": model, "messages": _prompt(case), "stream": stream}
    headers = {"authorization": f"Bearer {gw.key}"}
    with httpx.Client(base_url=gw.url, timeout=timeout) as http:
        if not stream:
            reply = http.post("/v1/chat/completions", json=body, headers=headers)
            code = reply.json().get("error", {}).get("code") if reply.status_code != 200 else None
            return Outcome(reply.status_code, code, reply.headers["x-request-id"], reply.text)
        with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as reply:
            lines = [line for line in reply.iter_lines() if line]
        text = "\n".join(lines)
        code = None
        if reply.status_code != 200:
            code = json.loads(text)["error"]["code"]
        else:
            last = json.loads(lines[-1].removeprefix("data: ")) if lines[-1] != "data: [DONE]" else {}
            code = last.get("error", {}).get("code")
        return Outcome(reply.status_code, code, reply.headers["x-request-id"], text)


def _egress(fakes: Fakes) -> list[str]:
    """Every request body the providers (and the local model) received."""
    return [json.dumps(r.json) for p in (fakes.openai, fakes.anthropic, fakes.local) for r in p.received]


def _rows(gw: Gateway, request_id: str) -> list[dict[str, Any]]:
    assert gw.app.runtime.audit.flush(timeout=10)
    with gw.engine.connect() as conn:
        stmt = select(audit_records).where(audit_records.c.request_id == request_id)
        return [dict(r) for r in conn.execute(stmt).mappings()]


def _check(gw: Gateway, outcomes: list[Outcome], status: int, code: str | None, egress: int) -> None:
    """The three checks, over the requests one case sent."""
    for out in outcomes:
        assert (out.status, out.code) == (status, code), out.text[-400:]
    sent = _egress(gw.fakes)
    for body in sent:
        assert EMAIL not in body and CARD_DIGITS not in body.replace(" ", ""), "a planted value left"
    assert len(sent) == egress * len(outcomes)
    deadline = time.monotonic() + 10
    for out in outcomes:
        while True:
            rows = _rows(gw, out.request_id)
            finals = [r for r in rows if r["phase"] != "start"]
            if finals or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        starts = [r for r in rows if r["phase"] == "start"]
        assert len(starts) == egress, f"{len(starts)} start records for {egress} egress"
        assert len(finals) == 1 and finals[0]["status"] == out.status
        if code is not None:
            assert finals[0]["error"] == code
        assert EMAIL not in json.dumps(rows, default=str)


# --- the destination misbehaves --------------------------------------------------------------------

UPSTREAM = [
    # (case, model, stream, status, code)
    ("5xx", "gpt-4o-fail500", False, 502, "upstream_status"),
    ("429", "gpt-4o-fail429", False, 429, "rate_limit_exceeded"),
    ("hang", "gpt-4o-hang", False, 504, "upstream_timeout"),
    ("hang-stream", "gpt-4o-hang", True, 504, "upstream_timeout"),
    ("drip", "gpt-4o-slow", True, 200, "upstream_deadline"),
    ("truncated-json", "gpt-4o-cut", False, 502, "upstream_disconnected"),
    ("reset-mid-stream", "gpt-4o-cut", True, 200, "upstream_disconnected"),
    ("error-mid-stream", "gpt-4o-midstreamerror", True, 200, "upstream_truncated"),
]


@pytest.mark.parametrize(
    ("case", "model", "stream", "status", "code"), UPSTREAM, ids=[u[0] for u in UPSTREAM]
)
def test_the_destination_fails(
    gateway: Gateway, case: str, model: str, stream: bool, status: int, code: str
) -> None:
    times = 3 if case == "5xx" else 1  # a burst
    outcomes = [_send(gateway, model, f"{case}-{i}", stream=stream) for i in range(times)]
    _check(gateway, outcomes, status, code, egress=1)


# --- the scanner fails -------------------------------------------------------------------------------


class _Raises:
    name = "matrix-raises"

    def detect(self, text: str) -> list[Hit]:
        raise RuntimeError("scanner fault")


class _Sleeps:
    name = "matrix-sleeps"

    def detect(self, text: str) -> list[Hit]:
        time.sleep(1.0)
        return []


@contextmanager
def _with_detector(gw: Gateway, detector: object) -> Iterator[None]:
    engine = gw.app.runtime.scanner.engine  # type: ignore[union-attr]
    saved = engine._detectors
    engine._detectors = (*saved, detector)  # type: ignore[assignment]
    try:
        yield
    finally:
        engine._detectors = saved


def test_the_request_scanner_raises(gateway: Gateway) -> None:
    with _with_detector(gateway, _Raises()):
        outcomes = [_send(gateway, "gpt-4o-mini", "scan-raises", stream=s) for s in (False, True)]
    _check(gateway, outcomes, 503, "scan_failed", egress=0)


def test_the_request_scanner_runs_out_of_time(fakes: Fakes, tmp_path: Path) -> None:
    gw = _own(fakes, tmp_path, scan={"timeout": 0.3})
    try:
        with _with_detector(gw, _Sleeps()):
            outcomes = [_send(gw, "gpt-4o-mini", "scan-timeout")]
        _check(gw, outcomes, 503, "scan_failed", egress=0)
    finally:
        _stop(gw)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_the_answer_scanner_raises(gateway: Gateway, monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    engine: ScanEngine = gateway.app.runtime.scanner.engine  # type: ignore[union-attr]

    def fail(text: str) -> list[Hit]:
        raise RuntimeError("answer scanner fault")

    monkeypatch.setattr(engine, "scan_answer", fail)
    out = _send(gateway, "gpt-4o-mini", f"answer-raises-{stream}", stream=stream)
    # The answer was not inspected, so none of it is released: not the echo, not the restored values.
    assert "echo:" not in out.text and EMAIL not in out.text
    _check(gateway, [out], 200 if stream else 503, "answer_scan_failed", egress=1)


# --- stores the request path needs ------------------------------------------------------------------


@contextmanager
def _black_hole() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers: a Redis that is slow."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    finally:
        sock.close()


def _closed_port() -> str:
    return "redis://127.0.0.1:1/0"


STORES: list[tuple[str, Callable[[str], dict[str, Any]], str]] = [
    ("sticky", lambda url: {"sticky_local": {"url": url}}, "sticky_unavailable"),
    ("vault", lambda url: {"vault": {"url": url}}, "vault_unavailable"),
]


@pytest.mark.parametrize("how", ["down", "slow"])
@pytest.mark.parametrize(("store", "config", "code"), STORES, ids=[s[0] for s in STORES])
def test_a_redis_store_is_down_or_slow(
    fakes: Fakes,
    tmp_path: Path,
    store: str,
    config: Callable[[str], dict[str, Any]],
    code: str,
    how: str,
) -> None:
    with _black_hole() as slow:
        url = _closed_port() if how == "down" else slow
        gw = _own(fakes, tmp_path, **config(url))
        try:
            started = time.monotonic()
            if store == "vault":  # only stateful conversations (the Responses API) keep pseudonyms
                outcomes = [_responses(gw, f"{store}-{how}")]
            else:
                outcomes = [_send(gw, "gpt-4o-mini", f"{store}-{how}")]
            assert time.monotonic() - started < 15  # bounded by the store's timeout, not hung
            _check(gw, outcomes, 503, code, egress=0)
        finally:
            _stop(gw)


def _responses(gw: Gateway, case: str) -> Outcome:
    body = {"model": "gpt-4o-mini", "input": _prompt(case)[0]["content"]}
    with httpx.Client(base_url=gw.url, timeout=30) as http:
        reply = http.post("/v1/responses", json=body, headers={"authorization": f"Bearer {gw.key}"})
    return Outcome(
        reply.status_code, reply.json()["error"]["code"], reply.headers["x-request-id"], reply.text
    )


def test_the_local_model_is_down_and_nothing_goes_offshore(fakes: Fakes, tmp_path: Path) -> None:
    local = gateway_config(fakes, "")["destinations"]["local"]
    destinations = {
        **gateway_config(fakes, "")["destinations"],
        "local": {**local, "base_url": "http://127.0.0.1:9/v1"},
    }
    gw = _own(fakes, tmp_path, destinations=destinations)
    try:
        # A key in the prompt keeps it local (the default policy); the local model is unreachable.
        body = {"model": "gpt-4o-mini", "messages": _prompt("local-down")}
        body["messages"][0]["content"] += " Key: AKIAZ7QK3XW5PLM2RT4N"
        with httpx.Client(base_url=gw.url, timeout=30) as http:
            reply = http.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gw.key}"}
            )
        out = Outcome(
            reply.status_code, reply.json()["error"]["code"], reply.headers["x-request-id"], reply.text
        )
        _check(gw, [out], 503, "local_unavailable", egress=0)
    finally:
        _stop(gw)


# --- the client goes away ----------------------------------------------------------------------------


def test_a_client_that_disconnects_mid_stream_cancels_the_upstream(gateway: Gateway) -> None:
    body = {"model": "gpt-4o-slow", "messages": _prompt("disconnect"), "stream": True}
    with (
        httpx.Client(base_url=gateway.url, timeout=30) as http,
        http.stream(
            "POST", "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gateway.key}"}
        ) as reply,
    ):
        request_id = reply.headers["x-request-id"]
        lines = reply.iter_lines()
        next(lines)  # the stream has started
    assert gateway.fakes.openai.wait_for_disconnects(1, timeout=10), "the upstream request lingered"
    deadline = time.monotonic() + 10
    while not [r for r in _rows(gateway, request_id) if r["phase"] != "start"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    rows = _rows(gateway, request_id)
    assert [r["phase"] for r in rows].count("start") == 1 == len(_egress(gateway.fakes))
    final = next(r for r in rows if r["phase"] != "start")
    assert final["disconnected"] is True or final["disconnected"] == 1
    for sent in _egress(gateway.fakes):
        assert EMAIL not in sent


# --- the process is killed -----------------------------------------------------------------------------


def test_kill_9_under_load_leaves_a_trail_that_verifies_and_covers_every_egress(
    fakes: Fakes, tmp_path: Path
) -> None:
    from tests.e2e.test_cli_serve import _free_port, _serve, _wait_healthy, openai_only_config

    port = _free_port()
    db = tmp_path / "gw.db"
    config = openai_only_config(fakes, tmp_path, port)
    env, key, proc = _serve(config)
    base = f"http://127.0.0.1:{port}"
    fakes.openai.slow_seconds = 0.3
    statuses: list[int | str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            i = 0
            while not stop.is_set():
                model = "gpt-4o-slow" if i % 2 else "gpt-4o-mini"
                body = {"model": model, "messages": _prompt(f"kill-{n}-{i}"), "stream": bool(i % 3 == 0)}
                try:
                    reply = http.post(
                        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
                    )
                    statuses.append(reply.status_code)
                except httpx.HTTPError as exc:
                    statuses.append(type(exc).__name__)
                i += 1

    try:
        _wait_healthy(proc, base)
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(fakes.openai.received) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert 200 in statuses and any(isinstance(s, str) for s in statuses)  # load, then the cut
    sent = _egress(fakes)
    assert len(sent) >= 12 and all(EMAIL not in body for body in sent)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            starts = conn.execute(
                select(audit_records.c.request_id).where(audit_records.c.phase == "start")
            ).all()
    finally:
        engine.dispose()
    # No record, no egress: every request the provider saw was on record before it was sent.
    assert len(starts) >= len(sent)
    verified = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail intact" in verified.stdout


def _own(fakes: Fakes, tmp_path: Path, **overrides: Any) -> Gateway:
    """A gateway of the test's own; what its start-up sent (the local model's probe) is not egress."""
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'g.db'}", **overrides)
    fakes.reset()
    return gw


def _stop(gw: Gateway) -> None:
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()
