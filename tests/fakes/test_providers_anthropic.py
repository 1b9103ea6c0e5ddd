"""Tests of FakeAnthropic driven by the official SDK."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.conftest import AnthropicEnv

MODEL = "claude-sonnet-4-6"
USER: Any = [{"role": "user", "content": "hello big world"}]
TOOLS: Any = [
    {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}},
    {"name": "other", "input_schema": {"type": "object", "properties": {}}},
]
KEY = {"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"}


def test_messages_non_stream_and_recording(ant: AnthropicEnv) -> None:
    messages: Any = [
        {"role": "user", "content": "first words"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "big world"}],
        },
    ]
    raw = ant.client.messages.with_raw_response.create(
        model=MODEL, max_tokens=50, system="be nice", messages=messages
    )
    msg = raw.parse()
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: hello big world"
    assert msg.stop_reason == "end_turn" and msg.role == "assistant"
    assert (msg.usage.input_tokens, msg.usage.output_tokens) == (8, 4)
    (rec,) = ant.fake.received
    assert (rec.method, rec.path) == ("POST", "/v1/messages")
    assert rec.headers["anthropic-version"] and rec.json is not None and rec.json["max_tokens"] == 50
    assert raw.headers["request-id"] == rec.request_id


def test_messages_stream_sequence(ant: AnthropicEnv) -> None:
    events = list(ant.client.messages.create(model=MODEL, max_tokens=50, messages=USER, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [
        e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"
    ]
    assert "".join(deltas) == "echo: hello big world" and all(len(d) <= 3 for d in deltas)
    delta = events[-2]
    assert (
        delta.type == "message_delta"
        and delta.delta.stop_reason == "end_turn"
        and delta.usage.output_tokens == 4
    )

    with ant.client.messages.stream(model=MODEL, max_tokens=50, messages=USER) as stream:
        assert "".join(stream.text_stream) == "echo: hello big world"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 4 and final.stop_reason == "end_turn"

    raw = ant.http.post(
        "/v1/messages", headers=KEY, json={"model": MODEL, "max_tokens": 5, "messages": USER, "stream": True}
    )
    names = [line.removeprefix("event: ") for line in raw.text.split("\n") if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"] and names[-1] == "message_stop"
    assert raw.headers["content-type"].startswith("text/event-stream")


def test_tool_use(ant: AnthropicEnv) -> None:
    msg = ant.client.messages.create(model="claude-tool", max_tokens=50, messages=USER, tools=TOOLS)
    block = msg.content[0]
    assert msg.stop_reason == "tool_use" and block.type == "tool_use"
    assert block.name == "get_weather" and block.input == {"city": "Paris"} and block.id.startswith("toolu_")

    events = list(
        ant.client.messages.create(
            model="claude-tool", max_tokens=50, messages=USER, tools=TOOLS, stream=True
        )
    )
    parts = [
        e.delta.partial_json
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    ]
    assert "".join(parts) == '{"city": "Paris"}' and all(len(p) <= 5 for p in parts)
    with ant.client.messages.stream(model="claude-tool", max_tokens=50, messages=USER, tools=TOOLS) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"

    follow_up: Any = [
        *USER,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": block.id, "name": "get_weather", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "sunny"}]},
    ]
    answer = ant.client.messages.create(model="claude-tool", max_tokens=50, messages=follow_up, tools=TOOLS)
    assert answer.content[0].type == "text" and answer.content[0].text == "echo: sunny"


def test_count_tokens_and_models(ant: AnthropicEnv) -> None:
    count = ant.client.messages.count_tokens(model=MODEL, system="one two", messages=USER)
    assert count.input_tokens == 5
    page = ant.client.models.list()
    assert [m.id for m in page.data] == ["claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7"]
    assert (
        page.has_more is False and page.first_id == "claude-sonnet-4-6" and page.last_id == "claude-opus-4-7"
    )
    assert all(m.type == "model" and m.display_name for m in page.data)


def test_auth_and_not_found(ant: AnthropicEnv) -> None:
    bad = anthropic.Anthropic(base_url=ant.url, api_key="sk-ant-wrong", max_retries=0)
    with bad, pytest.raises(anthropic.AuthenticationError) as err:
        bad.models.list()
    body: Any = err.value.body
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error" and body["request_id"]
    assert err.value.response.headers["request-id"] == body["request_id"]
    assert ant.http.get("/v1/models", headers=KEY).status_code == 200  # x-api-key works as well as Bearer
    assert ant.http.get("/v1/models", headers={"anthropic-version": "2023-06-01"}).status_code == 401
    no_version = ant.http.get("/v1/models", headers={"x-api-key": "sk-ant-fake"})
    assert no_version.status_code == 400 and no_version.json()["error"]["type"] == "invalid_request_error"
    nf = ant.http.post("/v1/complete", headers=KEY, json={})
    assert nf.status_code == 404 and nf.json()["error"] == {"type": "not_found_error", "message": "Not Found"}
    missing = ant.http.post("/v1/messages", headers=KEY, json={"model": MODEL, "messages": USER})
    assert missing.status_code == 400 and "max_tokens" in missing.json()["error"]["message"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("model", "exc", "etype"),
    [
        ("claude-fail500", anthropic.InternalServerError, "api_error"),
        ("claude-fail429", anthropic.RateLimitError, "rate_limit_error"),
        ("claude-fail400", anthropic.BadRequestError, "invalid_request_error"),
    ],
)
def test_http_failures(
    ant: AnthropicEnv, model: str, exc: type[anthropic.APIStatusError], etype: str, stream: bool
) -> None:
    with pytest.raises(exc) as err:
        ant.client.messages.create(model=model, max_tokens=5, messages=USER, stream=stream)
    body: Any = err.value.body
    assert body["error"]["type"] == etype
    if etype == "rate_limit_error":
        assert err.value.response.headers["retry-after"] == "1"
    if etype == "invalid_request_error":
        assert body["error"]["message"] == "bad parameter from fake"


def test_cut_connection(ant: AnthropicEnv) -> None:
    seen: list[str] = []
    with pytest.raises(Exception) as err:  # the SDK lets the transport error through on streams
        for event in ant.client.messages.create(model="claude-cut", max_tokens=5, messages=USER, stream=True):
            seen.append(event.type)
    assert type(err.value).__name__ == "RemoteProtocolError"
    assert "content_block_delta" in seen and "message_stop" not in seen
    with pytest.raises(anthropic.APIConnectionError):
        ant.client.messages.create(model="claude-cut", max_tokens=5, messages=USER)
    with pytest.raises(httpx.RemoteProtocolError):
        ant.http.post(
            "/v1/messages",
            headers=KEY,
            json={"model": "cut", "max_tokens": 5, "messages": USER, "stream": True},
        )


def test_midstream_error(ant: AnthropicEnv) -> None:
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as err:
        for event in ant.client.messages.create(
            model="claude-midstreamerror", max_tokens=5, messages=USER, stream=True
        ):
            seen.append(event.type)
    body: Any = err.value.body
    assert body == {"type": "error", "error": {"type": "overloaded_error", "message": "upstream exploded"}}
    assert seen[-1] == "content_block_delta"
    raw = ant.http.post(
        "/v1/messages",
        headers=KEY,
        json={"model": "midstreamerror", "max_tokens": 5, "messages": USER, "stream": True},
    )
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "upstream exploded"}}
    assert raw.text.endswith(f"event: error\ndata: {json.dumps(error, separators=(',', ':'))}\n\n")


def test_slow_hang_and_drip_record_disconnects(ant: AnthropicEnv) -> None:
    ant.fake.slow_seconds = 0.2
    start = time.monotonic()
    msg = ant.client.messages.create(model="claude-slow", max_tokens=5, messages=USER)
    assert msg.content[0].type == "text" and time.monotonic() - start >= 0.2
    with pytest.raises(anthropic.APITimeoutError):
        ant.client.messages.create(model="claude-hang", max_tokens=5, messages=USER, timeout=0.3)
    assert ant.fake.wait_for_disconnects(1)

    ant.fake.drip_interval = 0.05
    with ant.client.messages.stream(model="claude-slow", max_tokens=5, messages=USER) as stream:
        texts = []
        for text in stream.text_stream:
            texts.append(text)
            if len(texts) == 4:
                break
    assert texts == ["."] * 4
    assert ant.fake.wait_for_disconnects(2)
    assert json.loads(ant.fake.received[-1].body)["stream"] is True
