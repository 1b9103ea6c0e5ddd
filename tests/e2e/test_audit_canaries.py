"""No raw value reaches the audit trail, the database files or the logs.

Canary values are planted in every text-bearing part of requests of every kind (each endpoint,
streamed and not, allowed, pseudonymized, routed local, blocked, refused as malformed, failing
upstream); then the SQLite database file and its journal, every log record the gateway wrote, and the
export are searched for them, byte for byte.  The requested model name is an identifier the record
keeps on purpose, so it carries no canary.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.cli import main as cli_main
from tests.e2e.conftest import Fakes, Gateway, start_gateway

CANARIES = {
    "plain": "zebracanary81q",
    "email": "canary.x81@example.org",
    "secret": "AKIACANARY81QZXWVUTS",
    "marker": "CONFIDENTIAL canarymerger81",
}


def _prompt(i: int) -> str:
    return (
        f"Item {i}: mail {CANARIES['email']} about {CANARIES['plain']}; "
        f"key {CANARIES['secret']}; {CANARIES['marker']}."
    )


@pytest.fixture
def canary_gw(fakes: Fakes, tmp_path: Path) -> Iterator[Gateway]:
    gw = start_gateway(
        fakes, f"sqlite:///{tmp_path / 'gw.db'}", upstream={"read_timeout": 2.0, "total_timeout": 4.0}
    )
    gw.db_dir = tmp_path  # type: ignore[attr-defined]
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _requests(key: str) -> list[tuple[str, dict[str, str], bytes]]:
    bearer = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    anthropic = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}
    tool = {"type": "function", "function": {"name": "lookup", "description": _prompt(0), "parameters": {}}}
    chat: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": _prompt(1)},
            {"role": "user", "content": _prompt(2)},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": json.dumps({"q": _prompt(3)})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": _prompt(4)},
            {"role": "user", "content": [{"type": "text", "text": _prompt(5)}]},
        ],
        "tools": [tool],
    }
    out: list[tuple[str, dict[str, str], bytes]] = []

    def add(path: str, headers: dict[str, str], body: Any) -> None:
        out.append((path, headers, body if isinstance(body, bytes) else json.dumps(body).encode()))

    add("/v1/chat/completions", bearer, chat)
    add("/v1/chat/completions", bearer, {**chat, "stream": True})
    # Clean of markers and keys: pseudonymized and sent offshore, answers restored.
    clean = [{"role": "user", "content": f"Write to {CANARIES['email']} about {CANARIES['plain']}"}]
    add(
        "/v1/chat/completions",
        bearer,
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Write to {CANARIES['email']}"}]},
    )
    add("/v1/completions", bearer, {"model": "gpt-3.5-turbo-instruct", "prompt": _prompt(6)})
    add("/v1/embeddings", bearer, {"model": "text-embedding-3-small", "input": [_prompt(7)]})
    add("/v1/responses", bearer, {"model": "gpt-4o-mini", "instructions": _prompt(8), "input": _prompt(9)})
    add("/v1/responses", bearer, {"model": "gpt-4o-mini", "input": _prompt(10), "stream": True})
    messages = {
        "model": "claude-test-1",
        "max_tokens": 20,
        "system": _prompt(11),
        "messages": [{"role": "user", "content": _prompt(12)}],
    }
    add("/v1/messages", anthropic, messages)
    add("/v1/messages", anthropic, {**messages, "stream": True})
    add("/v1/messages/count_tokens", anthropic, {k: v for k, v in messages.items() if k != "max_tokens"})
    # Failures: upstream errors, a refused body, malformed JSON, an unknown field type, a wrong key.
    # Without markers or keys these go offshore (pseudonymized), where the fake fails as asked.
    add("/v1/chat/completions", bearer, {"model": "gpt-fail500", "messages": clean})
    add("/v1/chat/completions", bearer, {"model": "gpt-cut", "messages": clean, "stream": True})
    add("/v1/chat/completions", bearer, b'{"model": "gpt-4o-mini", "messages": [' + _prompt(13).encode())
    add("/v1/chat/completions", bearer, {"model": "gpt-4o-mini", "messages": _prompt(14)})
    add("/v1/chat/completions", {**bearer, "authorization": f"Bearer {CANARIES['plain']}"}, chat)
    add(f"/v1/{CANARIES['plain']}", bearer, chat)
    return out


def test_no_canary_in_the_database_files_the_logs_or_the_export(
    canary_gw: Gateway, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    statuses = []
    with httpx.Client(base_url=canary_gw.url, timeout=30) as http:
        for path, headers, body in _requests(canary_gw.key):
            reply = http.post(path, headers=headers, content=body)
            statuses.append(reply.status_code)
            reply.read()
    # The requests did what they should: answered, and each kind of refusal refused.
    assert 200 in statuses and 400 in statuses and 401 in statuses and 404 in statuses
    assert any(s >= 500 for s in statuses)
    # Every request's end record (each is written in the request's finally, just after its answer).
    deadline = time.monotonic() + 10
    while len(rows := canary_gw.audit_rows()) < len(statuses) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(rows) >= len(statuses)

    db_dir: Path = canary_gw.db_dir  # type: ignore[attr-defined]
    files = {p.name: p.read_bytes() for p in db_dir.iterdir() if p.name.startswith("gw.db")}
    assert "gw.db" in files, "the database and its rollback journal are what must be clean"
    # Every record of the process but the test client's own (httpx and httpcore log the URLs it asked
    # for; the gateway's own transport logs nothing).
    logs = "\n".join(
        r.getMessage()
        for r in caplog.records
        if not (r.name.startswith(("httpx", "httpcore")) and canary_gw.url in r.getMessage())
        and not r.name.startswith("httpcore")
    )
    logs += capsys.readouterr().err

    config = db_dir / "gateway.yaml"
    config.write_text(f"database_url: sqlite:///{db_dir / 'gw.db'}\nscan: {{enabled: false}}\n")
    exported = io.StringIO()
    with redirect_stdout(exported):
        assert cli_main(["audit", "export", "--config", str(config)]) == 0
    assert exported.getvalue().count("\n") >= len(statuses)

    for name, canary in CANARIES.items():
        for variant in {canary, canary.lower(), canary.split()[-1]}:
            raw = variant.encode()
            for file, content in files.items():
                assert raw not in content, f"{name} canary in {file}"
                assert variant.encode("utf-16-le") not in content, f"{name} canary (UTF-16) in {file}"
            assert variant not in logs, f"{name} canary in the logs"
            assert variant not in exported.getvalue(), f"{name} canary in the export"
            assert variant not in json.dumps(rows, default=str), f"{name} canary in an audit row"
