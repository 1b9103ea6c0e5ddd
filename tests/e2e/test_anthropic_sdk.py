"""The official anthropic SDK through the gateway, against a loopback fake provider."""

from __future__ import annotations

import json

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, Gateway

MESSAGES = [{"role": "user", "content": "hello from anthropic land"}]
TOOLS = [{"name": "weather", "description": "w", "input_schema": {"type": "object"}}]


def test_message(gateway: Gateway) -> None:
    raw = gateway.anthropic().messages.with_raw_response.create(
        model="claude-test-1",
        max_tokens=100,
        system="be brief",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    message = raw.parse()
    assert message.content[0].text == "echo: hello from anthropic land"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    req = gateway.fakes.anthropic.received[0]
    assert req.headers["x-api-key"] == ANTHROPIC_KEY and "anthropic-version" in req.headers
    assert gateway.key not in json.dumps(req.headers) and "authorization" not in req.headers
    row = gateway.audit(raw.headers["request-id"])
    assert (row["endpoint"], row["destination"], row["status"]) == ("messages", "anthropic", 200)
    assert (row["input_tokens"], row["output_tokens"]) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )


def test_message_stream(gateway: Gateway) -> None:
    with gateway.anthropic().messages.stream(
        model="claude-test-1", max_tokens=100, messages=MESSAGES
    ) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert text == "echo: hello from anthropic land"
    assert final.stop_reason == "end_turn"
    row = gateway.audit(request_id)
    assert (
        row["stream"] is True and row["output_tokens"] == final.usage.output_tokens and not row["truncated"]
    )
    assert row["input_tokens"] == final.usage.input_tokens


def test_count_tokens(gateway: Gateway) -> None:
    count = gateway.anthropic().messages.count_tokens(model="claude-test-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert count.input_tokens == 4


def test_models_list_in_anthropic_shape(gateway: Gateway) -> None:
    ids = [m.id for m in gateway.anthropic().models.list()]
    assert any(i.startswith("claude-") for i in ids) and "gpt-4o-mini" in ids


def test_anthropic_sdk_reaches_openai_destination(gateway: Gateway) -> None:
    message = gateway.anthropic().messages.create(
        model="gpt-4o-mini",
        max_tokens=64,
        system="be brief",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert message.content[0].text == "echo: hello from anthropic land"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn" and message.usage.output_tokens == 5
    req = gateway.fakes.openai.received[0]
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}" and "x-api-key" not in req.headers
    assert req.json["messages"][0] == {"role": "system", "content": "be brief"}
    assert req.json["max_tokens"] == 64


def test_anthropic_sdk_streams_from_openai_destination(gateway: Gateway) -> None:
    with gateway.anthropic().messages.stream(model="gpt-4o-mini", max_tokens=64, messages=MESSAGES) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert text == "echo: hello from anthropic land"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 5
    row = gateway.audit(request_id)
    assert row["destination"] == "openai" and row["output_tokens"] == 5 and not row["truncated"]


def test_anthropic_sdk_tool_use_via_openai(gateway: Gateway) -> None:
    client = gateway.anthropic()
    message = client.messages.create(model="gpt-tool", max_tokens=64, messages=MESSAGES, tools=TOOLS)  # type: ignore[arg-type]
    block = message.content[-1]
    assert block.type == "tool_use" and block.name == "weather" and block.input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"
    with client.messages.stream(model="gpt-tool", max_tokens=64, messages=MESSAGES, tools=TOOLS) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    tool = next(b for b in final.content if b.type == "tool_use")
    assert tool.input == {"city": "Paris"} and final.stop_reason == "tool_use"
    # The tool result goes back in the next turn, translated into an OpenAI tool message.
    follow = client.messages.create(
        model="gpt-4o-mini",
        max_tokens=64,
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[
            *MESSAGES,
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": tool.id, "name": "weather", "input": {"city": "Paris"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny"}],
            },
        ],  # type: ignore[list-item]
    )
    sent = gateway.fakes.openai.received[-1].json["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == tool.id
    assert sent[-1] == {"role": "tool", "tool_call_id": tool.id, "content": "sunny"}
    assert follow.stop_reason == "end_turn"
