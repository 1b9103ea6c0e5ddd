from __future__ import annotations

import dataclasses

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
