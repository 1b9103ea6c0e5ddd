"""The official openai SDK through the gateway, against a loopback fake provider."""

from __future__ import annotations

import json

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, Gateway

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there friend"}]


def _assert_clean_upstream_request(gw: Gateway, expected_auth: str) -> None:
    """The provider saw the server's key and nothing of the client's gateway key."""
    received = gw.fakes.openai.received + gw.fakes.anthropic.received
    assert len(received) == 1
    req = received[0]
    if expected_auth == "openai":
        assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert "x-api-key" not in req.headers
    else:
        assert req.headers["x-api-key"] == ANTHROPIC_KEY
        assert "authorization" not in req.headers
    flat = json.dumps(req.headers) + req.body.decode()
    assert gw.key not in flat and gw.key.split("_", 2)[2] not in flat


def test_chat_completion(gateway: Gateway) -> None:
    raw = gateway.openai().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: hello there friend"
    assert raw.headers["x-gateway-destination"] == "openai"
    _assert_clean_upstream_request(gateway, "openai")
    # Untouched bodies are forwarded byte for byte.
    assert gateway.fakes.openai.received[0].json["messages"] == MESSAGES
    row = gateway.audit(raw.headers["x-request-id"])
    assert row["user"] == "alice" and row["team"] == "research"
    assert (row["endpoint"], row["requested_model"], row["destination"], row["jurisdiction"]) == (
        "chat.completions",
        "gpt-4o-mini",
        "openai",
        "US",
    )
    assert row["status"] == 200 and row["stream"] is False and row["error"] is None
    assert row["input_tokens"] == completion.usage.prompt_tokens  # type: ignore[union-attr]
    assert row["output_tokens"] == completion.usage.completion_tokens  # type: ignore[union-attr]
    assert row["latency_ms"] > 0


def test_chat_stream_records_usage_without_showing_the_client_a_usage_chunk(gateway: Gateway) -> None:
    stream = gateway.openai().chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there friend"
    assert all(c.choices for c in chunks), "the client did not ask for a usage chunk"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert gateway.fakes.openai.received[0].json["stream_options"] == {"include_usage": True}
    _assert_clean_upstream_request(gateway, "openai")
    row = gateway.audit(stream.response.headers["x-request-id"])
    assert row["stream"] is True and row["status"] == 200 and not row["truncated"]
    assert row["input_tokens"] and row["output_tokens"] == 4


def test_chat_stream_with_usage_requested(gateway: Gateway) -> None:
    stream = gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4


def test_tool_calls_round_trip(gateway: Gateway) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = gateway.openai().chat.completions.create(model="gpt-tool", messages=MESSAGES, tools=tools)  # type: ignore[arg-type]
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]


def test_completions(gateway: Gateway) -> None:
    client = gateway.openai()
    assert (
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say hi").choices[0].text
        == "echo: say hi"
    )
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="gpt-x", prompt="a b", stream=True)
        if c.choices
    )
    assert streamed == "echo: a b"


def test_embeddings(gateway: Gateway) -> None:
    raw = gateway.openai().embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["one", "two"]
    )
    result = raw.parse()
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    assert gateway.audit(raw.headers["x-request-id"])["endpoint"] == "embeddings"


def test_responses(gateway: Gateway) -> None:
    client = gateway.openai()
    response = client.responses.create(model="gpt-4.1", input="what is up")
    assert response.output_text == "echo: what is up"
    events = list(client.responses.create(model="gpt-4.1", input="stream me", stream=True))
    assert events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: stream me"


def test_responses_stream_audit(gateway: Gateway) -> None:
    stream = gateway.openai().responses.create(model="gpt-4.1", input="count these words", stream=True)
    list(stream)
    row = gateway.audit(stream.response.headers["x-request-id"])
    assert row["endpoint"] == "responses" and row["output_tokens"] and row["input_tokens"] == 3


def test_models_list_and_retrieve(gateway: Gateway) -> None:
    client = gateway.openai()
    ids = {m.id for m in client.models.list()}
    # Upstream listings filtered by each destination's globs.
    assert {"gpt-4o-mini", "text-embedding-3-small"} <= ids
    assert any(i.startswith("claude-") for i in ids)
    owners = {m.id: m.owned_by for m in client.models.list()}
    assert owners["gpt-4o-mini"] == "openai"
    assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"


def test_openai_sdk_reaches_anthropic_destination(gateway: Gateway) -> None:
    client = gateway.openai()
    completion = client.chat.completions.create(model="claude-test-1", messages=MESSAGES, max_tokens=50)
    assert completion.choices[0].message.content == "echo: hello there friend"
    assert completion.choices[0].finish_reason == "stop"
    _assert_clean_upstream_request(gateway, "anthropic")
    sent = gateway.fakes.anthropic.received[0].json
    assert sent["system"] == "be brief" and sent["max_tokens"] == 50
    assert sent["messages"] == [{"role": "user", "content": "hello there friend"}]


def test_openai_sdk_streams_from_anthropic_destination(gateway: Gateway) -> None:
    stream = gateway.openai().chat.completions.create(
        model="claude-test-1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there friend"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    row = gateway.audit(stream.response.headers["x-request-id"])
    assert row["destination"] == "anthropic" and row["output_tokens"] == 4 and not row["truncated"]


def test_openai_sdk_tool_call_via_anthropic(gateway: Gateway) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    stream = gateway.openai().chat.completions.create(
        model="claude-tool",
        messages=MESSAGES,
        tools=tools,
        stream=True,  # type: ignore[arg-type]
    )
    args = ""
    name = None
    finish = None
    for chunk in stream:
        for delta in chunk.choices:
            for call in delta.delta.tool_calls or []:
                name = name or call.function.name  # type: ignore[union-attr]
                args += call.function.arguments or ""  # type: ignore[union-attr]
            finish = delta.finish_reason or finish
    assert name == "weather" and json.loads(args) == {"city": "Paris"} and finish == "tool_calls"
