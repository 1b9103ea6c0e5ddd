"""A local destination that is an OpenAI-compatible server of your own (vLLM, Ollama, llama-server):
readiness, and every way it can fail, with the offshore providers as spies.

The local server is the OpenAI fake; its model name picks a failure mode (``...-hang``, ``...-cut``).
The local destination sets no ``model`` here, so the requested name reaches it and picks the mode.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway
from tests.fakes.spy import TcpSpy, assert_untouched, spy_destinations

TIMEOUTS = {"read_timeout": 1.0, "total_timeout": 3.0}
SECRET = "CONFIDENTIAL: the board approved the merger with Northwind on Friday."


def with_local(fakes: Fakes, spy: TcpSpy, **local: Any) -> dict[str, Any]:
    destinations = {
        **spy_destinations(spy, ["gpt-4o*"], ["claude-*"]),
        **gateway_config(fakes, "sqlite://")["destinations"],
    }
    destinations["local"] = {
        "type": "local",
        "base_url": f"{fakes.local_url}/v1",
        "api_key_env": "FAKE_LOCAL_KEY",
        "jurisdiction": "LOCAL",
        "probe_interval": 3600,
        **local,
    }
    return destinations


@pytest.fixture(scope="module")
def spy() -> Iterator[TcpSpy]:
    with TcpSpy() as spy:
        yield spy


@pytest.fixture(scope="module")
def remote_gw(fakes: Fakes, spy: TcpSpy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("remote") / "g.db"
    gw = start_gateway(fakes, f"sqlite:///{db}", destinations=with_local(fakes, spy), upstream=TIMEOUTS)
    gw.spy = spy  # type: ignore[attr-defined]
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def offshore_untouched(gw: Gateway) -> None:
    assert_untouched(gw.spy)  # type: ignore[attr-defined]
    assert gw.fakes.openai.received == [] and gw.fakes.anthropic.received == []


def refused(gw: Gateway, model: str, *, stream: bool = False) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as info:
        gw.openai().chat.completions.create(
            model=model, messages=[{"role": "user", "content": SECRET}], stream=stream
        )
    return info.value


@pytest.mark.parametrize("mode", ["hang", "fail500", "cut"])
def test_a_failing_local_server_is_503_local_unavailable(remote_gw: Gateway, mode: str) -> None:
    err = refused(remote_gw, f"gpt-4o-{mode}")
    assert err.status_code == 503 and err.code == "local_unavailable"  # type: ignore[attr-defined]
    assert "local model 'local'" in err.message and "not sent to any other destination" in err.message
    assert len(remote_gw.fakes.local.received) == 1
    offshore_untouched(remote_gw)
    row = remote_gw.audit(err.response.headers["x-request-id"])
    assert (row["status"], row["error"], row["destination"], row["action"]) == (
        503,
        "local_unavailable",
        "local",
        "route_local",
    )


@pytest.mark.parametrize("mode", ["cut", "midstreamerror", "slow"])
def test_a_local_stream_that_breaks_ends_with_an_error_event(remote_gw: Gateway, mode: str) -> None:
    stream = remote_gw.openai().chat.completions.create(
        model=f"gpt-4o-{mode}", messages=[{"role": "user", "content": SECRET}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    offshore_untouched(remote_gw)


def test_a_local_servers_error_event_becomes_one_local_unavailable_event(remote_gw: Gateway) -> None:
    with remote_gw.http().stream(
        "POST",
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {remote_gw.key}"},
        json={
            "model": "gpt-4o-midstreamerror",
            "messages": [{"role": "user", "content": SECRET}],
            "stream": True,
        },
    ) as reply:
        events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    errors = [json.loads(e)["error"] for e in events if e.startswith('{"error"')]
    assert len(errors) == 1 and errors[0]["code"] == "local_unavailable"
    assert "reported an error mid-stream" in errors[0]["message"] and events[-1].startswith('{"error"')
    offshore_untouched(remote_gw)


def test_an_anthropic_client_gets_its_own_error_shape(remote_gw: Gateway) -> None:
    with pytest.raises(anthropic.APIStatusError) as info:
        remote_gw.anthropic().messages.create(
            model="claude-fail500", max_tokens=5, messages=[{"role": "user", "content": SECRET}]
        )
    assert info.value.status_code == 503
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    offshore_untouched(remote_gw)


def start_with(fakes: Fakes, spy: TcpSpy, tmp_path: Path, **local: Any) -> Gateway:
    db = f"sqlite:///{tmp_path / 'g.db'}"
    gw = start_gateway(fakes, db, destinations=with_local(fakes, spy, **local), upstream=TIMEOUTS)
    gw.spy = spy  # type: ignore[attr-defined]
    return gw


def stop(gw: Gateway) -> None:
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def test_a_server_without_the_configured_model_is_not_ready(
    fakes: Fakes, spy: TcpSpy, tmp_path: Path
) -> None:
    gw = start_with(fakes, spy, tmp_path, model="qwen3-30b-a3b")
    try:
        probes = [(r.method, r.path) for r in fakes.local.received]
        assert probes == [("GET", "/v1/models")], "the probe stops at the model list"
        fakes.reset()
        err = refused(gw, "gpt-4o-mini")
        assert err.status_code == 503 and err.code == "local_unavailable"  # type: ignore[attr-defined]
        assert "'qwen3-30b-a3b' is not listed" in err.message
        assert fakes.local.received == [], "a request reached a server that is not ready"
        offshore_untouched(gw)
    finally:
        stop(gw)


def test_an_unreachable_server_is_not_ready_and_nothing_goes_offshore(
    fakes: Fakes, spy: TcpSpy, tmp_path: Path
) -> None:
    gw = start_with(fakes, spy, tmp_path, base_url="http://127.0.0.1:9/v1")
    try:
        err = refused(gw, "gpt-4o-mini", stream=True)
        assert err.status_code == 503 and "unreachable" in err.message
        offshore_untouched(gw)
        body = gw.http().get("/readyz").json()
        assert (body["status"], body["local_ready"], body["local_not_ready"]) == ("ready", 0, 1)
    finally:
        stop(gw)


def test_a_ready_server_was_probed_with_one_token(fakes: Fakes, spy: TcpSpy, tmp_path: Path) -> None:
    gw = start_with(fakes, spy, tmp_path, model="local-moe")
    try:
        listing, probe = fakes.local.received
        assert (listing.method, listing.path, probe.path) == ("GET", "/v1/models", "/v1/chat/completions")
        assert probe.json is not None and (probe.json["model"], probe.json["max_tokens"]) == ("local-moe", 1)
        assert probe.headers["authorization"] == "Bearer sk-fake-local-engine-key"
    finally:
        stop(gw)


def test_requests_beyond_max_in_flight_are_refused_not_queued(
    fakes: Fakes, spy: TcpSpy, tmp_path: Path
) -> None:
    gw = start_with(fakes, spy, tmp_path, max_in_flight=1)
    try:
        fakes.reset()
        hung = threading.Thread(target=lambda: refused(gw, "gpt-4o-hang"), daemon=True)
        # The first request holds the only place (its upstream hangs until the read timeout).
        hung.start()
        assert fakes.local.wait_for_requests(1)
        err = refused(gw, "gpt-4o-mini")
        assert err.status_code == 503 and "at capacity" in err.message
        assert err.response.headers["retry-after"] == "1"
        assert len(fakes.local.received) == 1
        offshore_untouched(gw)
        hung.join(timeout=10)
    finally:
        stop(gw)
