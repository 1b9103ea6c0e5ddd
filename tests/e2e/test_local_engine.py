"""The embedded engine, for real: llama.cpp (xllamacpp) in a child process, loading the generated tiny
DeepSeek-V3-architecture MoE, behind the real gateway, driven by the official SDKs.

The model's weights are random, so assertions are structural: status, wire format, token counts,
finish reasons, and determinism at temperature 0.  The offshore fakes are spies: every test checks
that not one request reached them, failures included.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from gateway.local import tiny_moe
from gateway.local.engine import EmbeddedEngine
from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway
from tests.fakes.spy import TcpSpy, assert_untouched, spy_destinations

SPIED_MODELS = ["gpt-4o", "gpt-4o-mini"]
SECRET_PROMPT = "CONFIDENTIAL: the board approved the merger with Northwind on Friday. Summarise it."
CLEAN_PROMPT = "What is the capital of France?"


def local_config(fakes: Fakes, spy: TcpSpy, cache: Path, **engine: Any) -> dict[str, Any]:
    spies = spy_destinations(spy, SPIED_MODELS, ["claude-sonnet-4"])
    destinations = {**spies, **gateway_config(fakes, "sqlite://")["destinations"]}
    destinations["local"] = {
        "type": "local",
        "jurisdiction": "LOCAL",
        "models": ["tiny-*"],
        # A large context, so one answer can run for seconds (the kill-mid-stream test needs that).
        "engine": {"context_size": 32768, "parallel": 2, "threads": 1, **engine},
        "probe_interval": 0.2,
    }
    return {"destinations": destinations, "cache_dir": str(cache)}


@pytest.fixture(scope="module")
def spy() -> Iterator[TcpSpy]:
    with TcpSpy() as spy:
        yield spy


@pytest.fixture(scope="module")
def local_gw(fakes: Fakes, spy: TcpSpy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    root = tmp_path_factory.mktemp("local")
    gw = start_gateway(fakes, f"sqlite:///{root / 'g.db'}", **local_config(fakes, spy, root / "cache"))
    gw.spy = spy  # type: ignore[attr-defined]
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def engine_of(gw: Gateway) -> EmbeddedEngine:
    backend = gw.app.runtime.locals["local"]
    assert isinstance(backend, EmbeddedEngine)
    return backend


def nothing_offshore(gw: Gateway) -> None:
    assert_untouched(gw.spy)  # type: ignore[attr-defined]
    assert gw.fakes.openai.received == [] and gw.fakes.anthropic.received == []


def wait_ready(engine: EmbeddedEngine, starts: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not (engine.ready and engine.starts >= starts):
        assert time.monotonic() < deadline, f"engine not back: {engine.detail}"
        time.sleep(0.05)


def test_sensitive_chat_goes_to_the_embedded_engine(local_gw: Gateway) -> None:
    raw = local_gw.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        max_tokens=12,
        temperature=0,
    )
    reply = raw.parse()
    assert raw.headers["x-gateway-route"] == "local; reason=confidential-stays-local"
    assert raw.headers["x-gateway-destination"] == "local"
    assert reply.object == "chat.completion" and len(reply.choices) == 1
    choice = reply.choices[0]
    assert choice.finish_reason in ("length", "stop") and choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert reply.usage is not None and reply.usage.prompt_tokens > 10
    assert 1 <= reply.usage.completion_tokens <= 12
    if choice.finish_reason == "length":
        assert reply.usage.completion_tokens == 12
    nothing_offshore(local_gw)
    row = local_gw.audit(raw.headers["x-request-id"])
    assert (row["destination"], row["jurisdiction"], row["action"], row["status"]) == (
        "local",
        "LOCAL",
        "route_local",
        200,
    )
    assert row["route_reason"] == "confidential-stays-local"
    assert (row["input_tokens"], row["output_tokens"]) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )


def test_temperature_zero_is_deterministic_and_streams_match(local_gw: Gateway) -> None:
    client = local_gw.openai()
    messages: Any = [{"role": "user", "content": SECRET_PROMPT}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=40, temperature=0)
    second = client.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=40, temperature=0)
    assert first.choices[0].message.content == second.choices[0].message.content
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=messages,
        max_tokens=40,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == first.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [first.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.completion_tokens == first.usage.completion_tokens  # type: ignore[union-attr]
    nothing_offshore(local_gw)


def test_the_first_delta_is_a_string_and_usage_is_not_forced_on_the_client(local_gw: Gateway) -> None:
    # llama.cpp opens a stream with {"content": null}; OpenAI sends "".  Clients that append deltas
    # should see strings only; and the usage chunk the gateway asked for itself is not passed on.
    with (
        local_gw.http() as http,
        http.stream(
            "POST",
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {local_gw.key}"},
            json={
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": SECRET_PROMPT}],
                "max_tokens": 5,
                "temperature": 0,
                "stream": True,
            },
        ) as response,
    ):
        assert response.status_code == 200
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["choices"] for c in chunks), "a usage-only chunk reached a client that did not ask"
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert all(isinstance(d.get("content", ""), str) for d in deltas)
    nothing_offshore(local_gw)


def test_an_anthropic_client_is_served_by_the_local_engine_in_its_own_format(local_gw: Gateway) -> None:
    client = local_gw.anthropic()
    raw = client.messages.with_raw_response.create(
        model="claude-sonnet-4",
        max_tokens=10,
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        extra_body={"temperature": 0},
    )
    message = raw.parse()
    assert raw.headers["x-gateway-route"] == "local; reason=confidential-stays-local"
    assert message.type == "message" and message.role == "assistant"
    assert message.stop_reason in ("max_tokens", "end_turn")
    assert message.usage.input_tokens > 10 and 1 <= message.usage.output_tokens <= 10
    assert [b.type for b in message.content] in (["text"], [])
    with client.messages.stream(
        model="claude-sonnet-4",
        max_tokens=10,
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        extra_body={"temperature": 0},
    ) as stream:
        final = stream.get_final_message()
    whole = "".join(b.text for b in message.content if b.type == "text")
    assert "".join(b.text for b in final.content if b.type == "text") == whole
    assert final.stop_reason == message.stop_reason
    assert final.usage.output_tokens == message.usage.output_tokens
    nothing_offshore(local_gw)


def test_the_local_model_can_be_asked_for_by_name(local_gw: Gateway) -> None:
    reply = local_gw.openai().chat.completions.create(
        model="tiny-moe", messages=[{"role": "user", "content": CLEAN_PROMPT}], max_tokens=4, temperature=0
    )
    assert reply.usage is not None and reply.usage.completion_tokens <= 4
    nothing_offshore(local_gw)


def test_a_killed_engine_is_refused_then_restarted(local_gw: Gateway) -> None:
    engine = engine_of(local_gw)
    starts, pid = engine.starts, engine.pid
    assert pid is not None
    # The model file is altered first, so the watcher's restarts fail (a changed model is never run)
    # and the engine stays down for as long as this test needs; restored, the next restart works.
    model = local_gw.app.runtime.settings.cache_dir / tiny_moe.FILE_NAME
    good = model.read_bytes()
    model.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    os.kill(pid, signal.SIGKILL)
    # Whatever the watcher has noticed yet, the request is never sent offshore: either refused by
    # admission (not ready) or failing to connect to the dead engine, both 503 local_unavailable.
    with pytest.raises(openai.InternalServerError) as info:
        local_gw.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=4
        )
    assert info.value.status_code == 503
    assert info.value.code == "local_unavailable"  # type: ignore[attr-defined]
    with pytest.raises(anthropic.InternalServerError) as ainfo:
        local_gw.anthropic().messages.create(
            model="claude-sonnet-4", max_tokens=4, messages=[{"role": "user", "content": SECRET_PROMPT}]
        )
    assert ainfo.value.status_code == 503
    assert ainfo.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    nothing_offshore(local_gw)
    row = local_gw.audit(info.value.response.headers["x-request-id"])
    assert (row["status"], row["error"], row["destination"]) == (503, "local_unavailable", "local")
    deadline = time.monotonic() + 10
    while "failed to restart (ModelIntegrityError)" not in engine.detail:
        assert time.monotonic() < deadline, engine.detail
        time.sleep(0.05)
    model.write_bytes(good)
    wait_ready(engine, starts + 1)
    assert engine.pid != pid
    reply = local_gw.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": SECRET_PROMPT}], max_tokens=4
    )
    assert reply.choices[0].finish_reason in ("length", "stop")
    nothing_offshore(local_gw)


def test_an_engine_killed_mid_stream_ends_the_stream_with_an_error(local_gw: Gateway) -> None:
    engine = engine_of(local_gw)
    wait_ready(engine, engine.starts)
    starts, pid = engine.starts, engine.pid
    assert pid is not None
    stream = local_gw.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": SECRET_PROMPT}],
        max_tokens=30000,
        temperature=0,
        stream=True,
    )
    iterator = iter(stream)
    next(iterator)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(openai.APIError) as info:
        for _ in iterator:
            pass
    assert "local model" in info.value.message
    nothing_offshore(local_gw)
    wait_ready(engine, starts + 1)


def test_anthropic_stream_killed_mid_way_gets_an_error_event(local_gw: Gateway) -> None:
    engine = engine_of(local_gw)
    wait_ready(engine, engine.starts)
    starts, pid = engine.starts, engine.pid
    assert pid is not None
    with local_gw.anthropic().messages.stream(
        model="claude-sonnet-4",
        max_tokens=30000,
        # Greedy, as in the OpenAI twin above: sampled, the random-weight model sometimes ends its
        # answer within a few tokens, before the engine is killed, and there is no mid-way to test.
        extra_body={"temperature": 0},
        messages=[{"role": "user", "content": SECRET_PROMPT}],
    ) as stream:
        events = iter(stream)
        next(events)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(anthropic.APIStatusError) as info:
            for _ in events:
                pass
    assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    nothing_offshore(local_gw)
    wait_ready(engine, starts + 1)


def test_a_clean_conversation_is_not_routed_local(local_gw: Gateway) -> None:
    raw = local_gw.openai().chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=[{"role": "user", "content": CLEAN_PROMPT}]
    )
    assert "x-gateway-route" not in raw.headers
    assert len(local_gw.fakes.openai.received) == 1


def test_readyz_reports_the_engine(local_gw: Gateway) -> None:
    engine = engine_of(local_gw)
    wait_ready(engine, engine.starts)
    body = httpx.get(f"{local_gw.url}/readyz").json()
    assert body["local_ready"] == 1 and body["local_not_ready"] == 0


def test_the_responses_api_is_served_locally(local_gw: Gateway) -> None:
    raw = local_gw.openai().responses.with_raw_response.create(
        model="gpt-4o", input=SECRET_PROMPT, max_output_tokens=8, temperature=0
    )
    response = raw.parse()
    assert raw.headers["x-gateway-route"] == "local; reason=confidential-stays-local"
    assert response.object == "response" and response.status in ("completed", "incomplete")
    assert response.usage is not None and 1 <= response.usage.output_tokens <= 8
    stream = local_gw.openai().responses.create(
        model="gpt-4o", input=SECRET_PROMPT, max_output_tokens=8, temperature=0, stream=True
    )
    kinds = [event.type for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    nothing_offshore(local_gw)
