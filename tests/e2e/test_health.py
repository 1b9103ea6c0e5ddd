from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.e2e.conftest import Gateway


def test_healthz_needs_no_key(gateway: Gateway) -> None:
    response = gateway.http().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_database_and_destinations(gateway: Gateway) -> None:
    body = gateway.http().get("/readyz").json()
    assert body == {
        "status": "ready",
        "scan": "ok",
        "database": "ok",
        "audit": "ok",
        "destinations": 5,
        "destinations_without_credentials": 1,
        "local_ready": 1,
        "local_not_ready": 0,
    }
    assert gateway.http().post("/readyz").status_code == 405


def test_readyz_fails_when_the_database_is_unreachable(gateway: Gateway) -> None:
    runtime = gateway.app.runtime
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    gateway.app._runtime = dataclasses.replace(runtime, engine=dead)
    try:
        response = gateway.http().get("/readyz")
    finally:
        gateway.app._runtime = runtime
        dead.dispose()
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert response.json()["database"].startswith("unreachable (OperationalError)")


def _chat(gw: Gateway) -> tuple[int, dict[str, object]]:
    reply = gw.http().post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 2 + 2?"}]},
        headers={"authorization": f"Bearer {gw.key}"},
    )
    return reply.status_code, reply.json()


def test_a_store_that_takes_no_writes_refuses_traffic_fails_readiness_and_recovers(
    fresh_gateway: Gateway, tmp_path: Path
) -> None:
    """The database still answers reads (the old readiness check passed), but no record can be
    written: every model request is a 503 and nothing is sent, /readyz and the metric say so, and
    the gateway recovers by itself once the store takes writes again, with no request to prompt it."""
    gw = fresh_gateway
    assert _chat(gw)[0] == 200
    journal = tmp_path / "gateway.db-journal"
    try:
        subprocess.run(["chattr", "+i", str(journal)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root and chattr on an ext2/3/4 file system (the CI machine has both)")
    gw.fakes.reset()
    try:
        status, body = _chat(gw)
        assert status == 503 and body["error"]["code"] == "audit_unavailable"  # type: ignore[index]
        assert gw.fakes.openai.received == []
        ready = gw.http().get("/readyz")
        assert ready.status_code == 503 and ready.json()["audit"] == "unavailable"
        assert ready.json()["database"] == "ok"
        assert "gateway_audit_store_up 0" in gw.http().get("/metrics").text
    finally:
        subprocess.run(["chattr", "-i", str(journal)], check=True)
    deadline = time.monotonic() + 15
    while gw.http().get("/readyz").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gw.http().get("/readyz").json()["audit"] == "ok"
    assert "gateway_audit_store_up 1" in gw.http().get("/metrics").text
    assert _chat(gw)[0] == 200
    recovered = [r for r in gw.audit_rows() if r["endpoint"] == "audit.recovered"]
    # The refused request's own records (its start and its end) are the ones the outage lost.
    assert [r["error"] for r in recovered] == ["records lost: 2"]
