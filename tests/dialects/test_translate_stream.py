from __future__ import annotations

import json
from typing import Any

import anthropic.types
import openai.types.chat
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from pydantic import TypeAdapter

from gateway.dialects.sse import SSEEvent, SSEParser, json_event
from gateway.dialects.translate_stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream

DONE = SSEEvent(data="[DONE]")
RAW_EVENT = TypeAdapter(anthropic.types.RawMessageStreamEvent)


def translate(
    translator: OpenAIToAnthropicStream | AnthropicToOpenAIStream, events: list[SSEEvent]
) -> list[SSEEvent]:
    out: list[SSEEvent] = []
    for event in events:
        out.extend(translator.feed(event))
    out.extend(translator.finish())
    return out


def assert_reparses(events: list[SSEEvent]) -> None:
    """What we emit must come back out of an SSE parser unchanged, however it is chunked."""
    wire = b"".join(event.encode() for event in events)
    for offset in range(len(wire) + 1):
        parser = SSEParser()
        assert parser.feed(wire[:offset]) + parser.feed(wire[offset:]) == events, offset
        assert not parser.pending
    parser = SSEParser()
    assert [e for i in range(len(wire)) for e in parser.feed(wire[i : i + 1])] == events


# --------------------------------------------------------------------------------------
# OpenAI -> Anthropic
# --------------------------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish_reason: str | None = None, **extra: Any) -> SSEEvent:
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
    )
    payload = {
        "id": "chatcmpl-s1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o",
        "choices": choices,
        **extra,
    }
    openai.types.chat.ChatCompletionChunk.model_validate(payload)
    return json_event(payload)


def usage_chunk(prompt: int, completion: int) -> SSEEvent:
    return chunk(
        usage={"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    )


def call(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment |= {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return fragment


def anthropic_payloads(events: list[SSEEvent]) -> list[dict[str, Any]]:
    payloads = []
    for event in events:
        payload = event.json()
        assert event.event == payload["type"]
        assert event.id is None
        if payload["type"] == "error":
            anthropic.types.ErrorResponse.model_validate(payload)
        else:
            RAW_EVENT.validate_python(payload)
        payloads.append(payload)
    return payloads


def accumulate_anthropic(events: list[SSEEvent]) -> anthropic.types.Message:
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for event in events:
        raw = RAW_EVENT.validate_python(event.json())
        snapshot = accumulate_event(event=raw, current_snapshot=snapshot, json_bufs=json_bufs)
    assert snapshot is not None
    return anthropic.types.Message.model_validate(snapshot.model_dump())


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_s1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "gpt-4o",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    },
}

TEXT_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hel"}),
    chunk({"content": None}),
    chunk({"content": "lo ✓\nbye"}),
    chunk({}, "stop"),
    usage_chunk(9, 3),
    DONE,
]

TEXT_EXPECTED = [
    MESSAGE_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo ✓\nbye"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 3, "input_tokens": 9},
    },
    {"type": "message_stop"},
]

TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk({"content": "Let me check."}),
    chunk({"tool_calls": [call(0, "", "call_1", "get_weather")]}),
    chunk({"tool_calls": [call(0, '{"city":')]}),
    chunk({"tool_calls": [call(0, '"Oslo"}')]}),
    chunk({"tool_calls": [call(1, "{}", "call_2", "get_time")]}),
    chunk({}, "tool_calls"),
    usage_chunk(40, 22),
    DONE,
]

TOOL_EXPECTED = [
    MESSAGE_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check."}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{}"}},
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 22, "input_tokens": 40},
    },
    {"type": "message_stop"},
]


@pytest.mark.parametrize(
    ("stream", "expected"),
    [(TEXT_STREAM, TEXT_EXPECTED), (TOOL_STREAM, TOOL_EXPECTED)],
    ids=["text", "tools"],
)
def test_o2a_stream(stream: list[SSEEvent], expected: list[dict[str, Any]]) -> None:
    translator = OpenAIToAnthropicStream()
    out = translate(translator, stream)
    assert anthropic_payloads(out) == expected
    assert translator.finished
    assert_reparses(out)


def test_o2a_tool_stream_accumulates_in_the_sdk() -> None:
    message = accumulate_anthropic(translate(OpenAIToAnthropicStream(), TOOL_STREAM))
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert message.stop_reason == "tool_use"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (40, 22)


def test_o2a_usage_properties() -> None:
    translator = OpenAIToAnthropicStream()
    assert (translator.input_tokens, translator.output_tokens) == (None, None)
    translate(translator, TEXT_STREAM[:-2])
    assert (translator.input_tokens, translator.output_tokens) == (None, None)
    translator.feed(TEXT_STREAM[-2])
    assert (translator.input_tokens, translator.output_tokens) == (9, 3)


@pytest.mark.parametrize("cut", [0, 1, 4, 6], ids=["nothing", "after-role", "after-finish", "after-usage"])
def test_o2a_truncated_stream_gets_no_ending(cut: int) -> None:
    translator = OpenAIToAnthropicStream()
    out = [e for event in TEXT_STREAM[:cut] for e in translator.feed(event)]
    assert translator.finish() == []
    assert translator.finish() == []
    assert not translator.finished
    types = [p["type"] for p in anthropic_payloads(out)]
    assert "message_stop" not in types
    assert "message_delta" not in types
    assert translator.output_tokens == (3 if cut == 6 else None)


def test_o2a_done_is_terminal_and_idempotent() -> None:
    translator = OpenAIToAnthropicStream()
    translate(translator, TEXT_STREAM)
    assert translator.feed(DONE) == []
    assert translator.feed(chunk({"content": "late"})) == []
    assert translator.finish() == []


def test_o2a_done_without_chunks_still_forms_a_message() -> None:
    out = anthropic_payloads(translate(OpenAIToAnthropicStream(), [DONE]))
    assert [p["type"] for p in out] == ["message_start", "message_delta", "message_stop"]
    assert out[1]["usage"] == {"output_tokens": 0}


def test_o2a_finish_reason_length_and_filter() -> None:
    for reason, expected in [("length", "max_tokens"), ("content_filter", "refusal")]:
        out = anthropic_payloads(
            translate(OpenAIToAnthropicStream(), [chunk({"content": "x"}, reason), DONE])
        )
        assert out[-2]["delta"]["stop_reason"] == expected


def test_o2a_error_event() -> None:
    translator = OpenAIToAnthropicStream()
    error = json_event({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}})
    out = translate(translator, [chunk({"content": "Hi"}), error])
    payloads = anthropic_payloads(out)
    assert payloads[-1] == {"type": "error", "error": {"type": "api_error", "message": "Rate limit reached"}}
    assert not translator.finished
    assert_reparses(out)


def test_o2a_error_event_first_and_without_message() -> None:
    out = anthropic_payloads(translate(OpenAIToAnthropicStream(), [json_event({"error": {}})]))
    assert out == [
        {"type": "error", "error": {"type": "api_error", "message": "the upstream reported an error"}}
    ]


def test_o2a_refusal_delta_is_text() -> None:
    out = anthropic_payloads(
        translate(OpenAIToAnthropicStream(), [chunk({"refusal": "No."}, "content_filter"), DONE])
    )
    assert out[2]["delta"] == {"type": "text_delta", "text": "No."}


def test_o2a_keepalive_and_other_choices_are_ignored() -> None:
    translator = OpenAIToAnthropicStream()
    translator.feed(chunk({"role": "assistant"}))
    assert translator.feed(SSEEvent(data="")) == []
    other = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    other["choices"] = [{"index": 1, "delta": {"content": "n=2"}, "finish_reason": None}]
    assert translator.feed(json_event(other)) == []


def test_o2a_tool_calls_all_numbered_zero_split_on_id() -> None:
    stream = [
        chunk({"tool_calls": [call(0, '{"a":1}', "call_a", "f")]}),
        chunk({"tool_calls": [call(0, '{"b":2}', "call_b", "g")]}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    message = accumulate_anthropic(translate(OpenAIToAnthropicStream(), stream))
    assert [(b.type, getattr(b, "id", None), getattr(b, "input", None)) for b in message.content] == [
        ("tool_use", "call_a", {"a": 1}),
        ("tool_use", "call_b", {"b": 2}),
    ]


def test_o2a_tool_call_id_repeated_on_every_fragment() -> None:
    stream = [
        chunk({"tool_calls": [call(0, '{"a":', "call_a", "f")]}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        DONE,
    ]
    message = accumulate_anthropic(translate(OpenAIToAnthropicStream(), stream))
    assert [b.model_dump(exclude_none=True) for b in message.content] == [
        {"type": "tool_use", "id": "call_a", "name": "f", "input": {"a": 1}}
    ]


def test_o2a_tool_call_without_id_gets_one() -> None:
    # Some OpenAI-compatible servers omit tool-call ids; Anthropic clients need one to reply.
    stream = [
        chunk(
            {"tool_calls": [{"index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
        ),
        chunk({}, "tool_calls"),
        DONE,
    ]
    message = accumulate_anthropic(translate(OpenAIToAnthropicStream(), stream))
    block = message.content[0]
    assert block.type == "tool_use" and block.name == "f" and block.id.startswith("toolu_")


@pytest.mark.parametrize(
    "events",
    [
        [SSEEvent(data="{not json")],
        [SSEEvent(data="[1, 2]")],
        [chunk({"tool_calls": [call(0, '{"a":')]})],
        [
            chunk({"tool_calls": [call(0, "{", "c0", "f")]}),
            chunk({}, "tool_calls"),
            chunk({"tool_calls": [call(0, "}")]}),
        ],
        [chunk({"tool_calls": [call(0, "{", "c0", "f")]}), chunk({"tool_calls": [call(1, "{")]})],
    ],
    ids=["bad-json", "not-object", "fragment-without-start", "fragment-after-close", "fragment-without-id"],
)
def test_o2a_malformed_upstream_raises(events: list[SSEEvent]) -> None:
    with pytest.raises(ValueError, match="upstream"):
        translate(OpenAIToAnthropicStream(), events)


# --------------------------------------------------------------------------------------
# Anthropic -> OpenAI
# --------------------------------------------------------------------------------------


def ant(payload: dict[str, Any]) -> SSEEvent:
    if payload["type"] != "error":
        RAW_EVENT.validate_python(payload)
    return json_event(payload, event=payload["type"])


def ant_start(usage: dict[str, Any]) -> SSEEvent:
    message: dict[str, Any] = {
        "id": "msg_01XYZ",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return ant({"type": "message_start", "message": message})


def block_start(index: int, block: dict[str, Any]) -> SSEEvent:
    return ant({"type": "content_block_start", "index": index, "content_block": block})


def block_delta(index: int, delta: dict[str, Any]) -> SSEEvent:
    return ant({"type": "content_block_delta", "index": index, "delta": delta})


def block_stop(index: int) -> SSEEvent:
    return ant({"type": "content_block_stop", "index": index})


def message_delta(stop_reason: str, **usage: int) -> SSEEvent:
    return ant(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": usage,
        }
    )


PING = json_event({"type": "ping"}, event="ping")
MESSAGE_STOP = ant({"type": "message_stop"})

ANT_TEXT_STREAM = [
    ant_start({"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 100}),
    block_start(0, {"type": "text", "text": ""}),
    PING,
    block_delta(0, {"type": "text_delta", "text": "Hi"}),
    block_delta(0, {"type": "text_delta", "text": " there ✓"}),
    block_stop(0),
    message_delta("end_turn", output_tokens=12),
    MESSAGE_STOP,
]

ANT_TOOL_STREAM = [
    ant_start({"input_tokens": 50, "output_tokens": 1}),
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    block_delta(0, {"type": "thinking_delta", "thinking": "Need weather."}),
    block_delta(0, {"type": "signature_delta", "signature": "sig"}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    block_delta(1, {"type": "text_delta", "text": "Checking."}),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ""}),
    block_delta(2, {"type": "input_json_delta", "partial_json": '{"city":'}),
    block_delta(2, {"type": "input_json_delta", "partial_json": ' "Oslo"}'}),
    block_stop(2),
    block_start(3, {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}),
    block_delta(3, {"type": "input_json_delta", "partial_json": "{}"}),
    block_stop(3),
    message_delta("tool_use", output_tokens=30),
    MESSAGE_STOP,
]


def oai_chunk(delta: dict[str, Any], finish_reason: str | None = None, created: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-msg_01XYZ",
        "object": "chat.completion.chunk",
        "created": created,
        "model": "claude-sonnet-4-5",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


def openai_payloads(events: list[SSEEvent]) -> list[dict[str, Any] | str]:
    out: list[dict[str, Any] | str] = []
    for event in events:
        assert event.event is None
        assert event.id is None
        if event.data == "[DONE]":
            out.append("[DONE]")
            continue
        payload = event.json()
        if "error" not in payload:
            openai.types.chat.ChatCompletionChunk.model_validate(payload)
        out.append(payload)
    return out


def accumulate_openai(events: list[SSEEvent]) -> openai.types.chat.ChatCompletion:
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for event in events:
        if event.data != "[DONE]":
            list(state.handle_chunk(openai.types.chat.ChatCompletionChunk.model_validate(event.json())))
    return state.get_final_completion()


def test_a2o_text_stream_with_usage() -> None:
    translator = AnthropicToOpenAIStream(include_usage=True, created=1_700_000_000)
    out = translate(translator, ANT_TEXT_STREAM)
    usage_payload = {
        **oai_chunk({}, created=1_700_000_000),
        "choices": [],
        "usage": {"prompt_tokens": 125, "completion_tokens": 12, "total_tokens": 137},
    }
    assert openai_payloads(out) == [
        oai_chunk({"role": "assistant", "content": ""}, created=1_700_000_000),
        oai_chunk({"content": "Hi"}, created=1_700_000_000),
        oai_chunk({"content": " there ✓"}, created=1_700_000_000),
        oai_chunk({}, "stop", created=1_700_000_000),
        usage_payload,
        "[DONE]",
    ]
    assert translator.finished
    assert (translator.input_tokens, translator.output_tokens) == (125, 12)
    assert_reparses(out)


def test_a2o_text_stream_without_usage() -> None:
    out = openai_payloads(translate(AnthropicToOpenAIStream(include_usage=False), ANT_TEXT_STREAM))
    assert out == [
        oai_chunk({"role": "assistant", "content": ""}),
        oai_chunk({"content": "Hi"}),
        oai_chunk({"content": " there ✓"}),
        oai_chunk({}, "stop"),
        "[DONE]",
    ]


def test_a2o_tool_stream() -> None:
    translator = AnthropicToOpenAIStream(include_usage=False)
    out = translate(translator, ANT_TOOL_STREAM)
    assert openai_payloads(out) == [
        oai_chunk({"role": "assistant", "content": ""}),
        oai_chunk({"content": "Checking."}),
        oai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        oai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Oslo"}'}}]}),
        oai_chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    }
                ]
            }
        ),
        oai_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        oai_chunk({}, "tool_calls"),
        "[DONE]",
    ]
    assert (translator.input_tokens, translator.output_tokens) == (50, 30)
    assert_reparses(out)


def test_a2o_tool_stream_accumulates_in_the_sdk() -> None:
    completion = accumulate_openai(translate(AnthropicToOpenAIStream(include_usage=True), ANT_TOOL_STREAM))
    choice = completion.choices[0]
    assert choice.message.content == "Checking."
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    function_calls = [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in function_calls] == [
        ("toolu_1", "get_weather", {"city": "Oslo"}),
        ("toolu_2", "get_time", {}),
    ]
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (50, 30)


@pytest.mark.parametrize(
    "cut", [0, 1, 5, 7], ids=["nothing", "after-start", "mid-text", "after-message-delta"]
)
def test_a2o_truncated_stream_gets_no_done(cut: int) -> None:
    translator = AnthropicToOpenAIStream(include_usage=True)
    out = [e for event in ANT_TEXT_STREAM[:cut] for e in translator.feed(event)]
    assert translator.finish() == []
    assert translator.finish() == []
    assert not translator.finished
    assert "[DONE]" not in [e.data for e in out]
    assert all("usage" not in p for p in openai_payloads(out) if isinstance(p, dict))
    assert translator.output_tokens == {0: None, 1: 1, 5: 1, 7: 12}[cut]


def test_a2o_message_stop_is_terminal_and_idempotent() -> None:
    translator = AnthropicToOpenAIStream(include_usage=True)
    translate(translator, ANT_TEXT_STREAM)
    assert translator.feed(MESSAGE_STOP) == []
    assert translator.feed(block_delta(0, {"type": "text_delta", "text": "late"})) == []
    assert translator.finish() == []


def test_a2o_error_event() -> None:
    translator = AnthropicToOpenAIStream(include_usage=True)
    error = ant({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    out = translate(translator, [*ANT_TEXT_STREAM[:4], error])
    assert openai_payloads(out)[-1] == {
        "error": {"message": "Overloaded", "type": "overloaded_error", "param": None, "code": None}
    }
    assert not translator.finished
    assert_reparses(out)


def test_a2o_message_delta_usage_updates_input_tokens() -> None:
    translator = AnthropicToOpenAIStream(include_usage=True)
    stream = [
        ant_start({"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 7}),
        message_delta("max_tokens", input_tokens=30, output_tokens=4),
        MESSAGE_STOP,
    ]
    payloads = openai_payloads(translate(translator, stream))
    assert payloads[1] == oai_chunk({}, "length")
    assert payloads[2] == {
        **oai_chunk({}),
        "choices": [],
        "usage": {"prompt_tokens": 37, "completion_tokens": 4, "total_tokens": 41},
    }
    assert (translator.input_tokens, translator.output_tokens) == (37, 4)


def test_a2o_ignores_server_tool_input_and_unknown_events() -> None:
    stream = [
        ant_start({"input_tokens": 1, "output_tokens": 1}),
        block_start(0, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        block_delta(0, {"type": "input_json_delta", "partial_json": '{"q": "x"}'}),
        block_stop(0),
        json_event({"type": "some_future_event"}, event="some_future_event"),
    ]
    assert openai_payloads(translate(AnthropicToOpenAIStream(include_usage=False), stream)) == [
        oai_chunk({"role": "assistant", "content": ""})
    ]


@pytest.mark.parametrize(
    "event",
    [
        SSEEvent(data="{oops", event="message_start"),
        SSEEvent(data='"message_start"', event="message_start"),
        json_event({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use"}}),
    ],
    ids=["bad-json", "not-object", "tool-use-without-id"],
)
def test_a2o_malformed_upstream_raises(event: SSEEvent) -> None:
    with pytest.raises(ValueError, match="upstream"):
        AnthropicToOpenAIStream(include_usage=False).feed(event)


# --------------------------------------------------------------------------------------
# Through both translators
# --------------------------------------------------------------------------------------


def test_anthropic_stream_through_openai_and_back() -> None:
    there = translate(AnthropicToOpenAIStream(include_usage=True), ANT_TOOL_STREAM)
    back = OpenAIToAnthropicStream()
    message = accumulate_anthropic(translate(back, there))
    assert back.finished
    original = accumulate_anthropic(ANT_TOOL_STREAM)
    assert [b.model_dump(exclude_none=True) for b in message.content] == [
        b.model_dump(exclude_none=True) for b in original.content if b.type != "thinking"
    ]
    assert message.stop_reason == original.stop_reason
    assert (message.usage.input_tokens, message.usage.output_tokens) == (50, 30)


def test_openai_stream_through_anthropic_and_back() -> None:
    there = translate(OpenAIToAnthropicStream(), TOOL_STREAM)
    back = AnthropicToOpenAIStream(include_usage=True)
    completion = accumulate_openai(translate(back, there))
    original = accumulate_openai(TOOL_STREAM)
    assert back.finished
    assert completion.choices[0].message.content == original.choices[0].message.content
    assert completion.choices[0].message.tool_calls == original.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == original.choices[0].finish_reason
    assert completion.usage == original.usage
