"""SIGTERM to a real ``gateway serve``: readiness fails and new requests are refused at once, answers
in flight get the drain window, streams still open then end with an error event in the client's
format, their audit records say so, and the process exits within drain + 5 s."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from sqlalchemy import create_engine, select

from gateway.audit.tables import audit_records
from tests.e2e.conftest import ANTHROPIC_KEY, Fakes
from tests.e2e.test_cli_serve import _free_port, _serve, _wait_healthy

DRAIN = 2.0


def test_sigterm_drains_then_ends_streams_with_an_error_event(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", ANTHROPIC_KEY)
    port = _free_port()
    db = tmp_path / "gw.db"
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
server: {{port: {port}, drain_seconds: {DRAIN}}}
database_url: sqlite:///{db}
destinations:
  openai: {{type: openai, base_url: "{fakes.openai_url}/v1", api_key_env: FAKE_KEY, jurisdiction: US,
            models: ["gpt-*"]}}
  anthropic: {{type: anthropic, base_url: "{fakes.anthropic_url}", api_key_env: FAKE_ANTHROPIC_KEY,
               jurisdiction: US, models: ["claude-*"]}}
"""
    )
    _, key, proc = _serve(config)
    base = f"http://127.0.0.1:{port}"
    outcome: dict[str, Any] = {}
    fakes.openai.slow_seconds = 1.0  # a plain answer that finishes inside the drain window
    try:
        _wait_healthy(proc, base)
        oai = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=30)
        ant = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=30)

        def openai_stream() -> None:
            chunks = 0
            try:
                stream = oai.chat.completions.create(
                    model="gpt-4o-slow", messages=[{"role": "user", "content": "go on"}], stream=True
                )
                for _ in stream:
                    chunks += 1
                    outcome.setdefault("openai_first", time.monotonic())
            except openai.APIError as exc:
                outcome["openai_error"] = (exc.message, time.monotonic())
            outcome["openai_chunks"] = chunks

        def anthropic_stream() -> None:
            try:
                with ant.messages.stream(
                    model="claude-3-5-sonnet-slow",
                    max_tokens=100,
                    messages=[{"role": "user", "content": "go on"}],
                ) as stream:
                    for _ in stream:
                        outcome.setdefault("anthropic_first", time.monotonic())
            except anthropic.APIError as exc:
                outcome["anthropic_error"] = (exc.message, time.monotonic())

        def plain() -> None:
            answer = oai.chat.completions.with_raw_response.create(
                model="gpt-4o-slow", messages=[{"role": "user", "content": "take your time"}]
            )
            outcome["plain_status"] = answer.status_code

        def dripping_body() -> None:
            # Still sending its body when the drain ends: refused with 503, never a 500.
            with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                    + f"authorization: Bearer {key}\r\n".encode()
                    + b"content-length: 500\r\n\r\n{"
                )
                raw = b""
                with contextlib.suppress(OSError):
                    for _ in range(200):
                        sock.sendall(b" ")
                        sock.settimeout(0.1)
                        with contextlib.suppress(TimeoutError):
                            raw += sock.recv(65536)
                        if raw:
                            break
                    sock.settimeout(5)
                    while chunk := sock.recv(65536):
                        raw += chunk
            outcome["dripping"] = raw

        threads = [threading.Thread(target=f) for f in (openai_stream, anthropic_stream, dripping_body)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15
        while not ("openai_first" in outcome and "anthropic_first" in outcome):
            assert time.monotonic() < deadline, f"the streams did not start: {outcome}"
            time.sleep(0.05)
        plain_thread = threading.Thread(target=plain)
        plain_thread.start()
        time.sleep(0.3)

        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        # New connections are refused at once (the listener is closed).
        try:
            refused = httpx.get(f"{base}/readyz", timeout=2).status_code
        except httpx.TransportError:
            refused = 0
        assert refused in (0, 503)

        for t in (*threads, plain_thread):
            t.join(DRAIN + 10)
        code = proc.wait(DRAIN + 6)
        exited = time.monotonic() - signalled
    finally:
        fakes.openai.slow_seconds = 30.0
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = ""
    if proc.stdout is not None:
        output = proc.stdout.read()
        proc.stdout.close()
    assert exited < DRAIN + 5, output
    assert code in (0, -signal.SIGTERM), output
    assert outcome.get("plain_status") == 200  # finished inside the window
    message, ended = outcome["openai_error"]
    assert "shutting down" in message and DRAIN - 0.5 < ended - signalled < DRAIN + 3
    assert outcome["openai_chunks"] > 1
    dripped = outcome["dripping"]
    assert dripped.startswith(b"HTTP/1.1 503 ") and b'"shutting_down"' in dripped
    message, ended = outcome["anthropic_error"]
    assert "shutting down" in message and DRAIN - 0.5 < ended - signalled < DRAIN + 3

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(audit_records).where(
                        audit_records.c.phase == "end", audit_records.c.stream.is_(True)
                    )
                ).mappings()
            ]
    finally:
        engine.dispose()
    assert len(rows) == 2
    for row in rows:
        assert (row["status"], row["error"], row["truncated"]) == (200, "shutting_down", True)
