"""The audit trail and keys on the real PostgreSQL server."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import Fakes, start_gateway


def test_gateway_on_postgres(fakes: Fakes, postgres_url: str) -> None:
    gw = start_gateway(fakes, postgres_url)
    try:
        client = gw.openai()
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi pg"}]
        )
        ok = gw.audit(raw.headers["x-request-id"])
        assert (ok["status"], ok["destination"], ok["user"], ok["output_tokens"]) == (
            200,
            "openai",
            "alice",
            3,
        )
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        bad = gw.audit(info.value.response.headers["x-request-id"])
        assert (bad["status"], bad["error"]) == (404, "model_not_found")
        ready = gw.http().get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
