from __future__ import annotations

from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from gateway.dialects.translate_response import anthropic_response_to_openai, openai_response_to_anthropic

SECRET = "hunter2-do-not-echo"


def completion(message: dict[str, Any], finish_reason: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        **extra,
    }


def o2a(body: dict[str, Any]) -> dict[str, Any]:
    out = openai_response_to_anthropic(body)
    anthropic.types.Message.model_validate(out)
    return out


# --------------------------------------------------------------------------------------
# OpenAI -> Anthropic
# --------------------------------------------------------------------------------------


def test_o2a_text() -> None:
    assert o2a(completion({"content": "Hello there.", "refusal": None})) == {
        "id": "msg_abc123",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4o-2024-08-06",
        "content": [{"type": "text", "text": "Hello there."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 7},
    }


def test_o2a_text_and_two_tool_calls() -> None:
    body = completion(
        {
            "content": "Looking up.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        finish_reason="tool_calls",
    )
    out = o2a(body)
    assert out["content"] == [
        {"type": "text", "text": "Looking up."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert out["stop_reason"] == "tool_use"


def test_o2a_tool_calls_only() -> None:
    message = {
        "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    out = o2a(completion(message, finish_reason="tool_calls"))
    assert out["content"] == [{"type": "tool_use", "id": "c", "name": "f", "input": {}}]


def test_o2a_refusal() -> None:
    out = o2a(
        completion({"content": None, "refusal": "I can't help with that."}, finish_reason="content_filter")
    )
    assert out["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert out["stop_reason"] == "refusal"


def test_o2a_empty_content_gives_no_blocks() -> None:
    assert o2a(completion({"content": ""}))["content"] == []


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_o2a_finish_reasons(finish_reason: str | None, stop_reason: str) -> None:
    assert o2a(completion({"content": "x"}, finish_reason=finish_reason))["stop_reason"] == stop_reason


@pytest.mark.parametrize(
    ("openai_id", "anthropic_id"),
    [("chatcmpl-XYZ", "msg_XYZ"), ("resp-7", "msg_resp-7"), ("chatcmpl-chatcmpl-1", "msg_chatcmpl-1")],
)
def test_o2a_id(openai_id: str, anthropic_id: str) -> None:
    assert o2a({**completion({"content": "x"}), "id": openai_id})["id"] == anthropic_id


def test_o2a_missing_usage_is_zero() -> None:
    body = completion({"content": "x"})
    del body["usage"]
    assert o2a(body)["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_o2a_uses_only_first_choice() -> None:
    body = completion({"content": "first"})
    body["choices"].append(
        {"index": 1, "message": {"role": "assistant", "content": "second"}, "finish_reason": "length"}
    )
    out = o2a(body)
    assert out["content"] == [{"type": "text", "text": "first"}]
    assert out["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            completion(
                {
                    "tool_calls": [
                        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{" + SECRET}}
                    ]
                }
            ),
            "choices[0].message.tool_calls[0].function.arguments is not valid JSON",
        ),
        (
            completion(
                {
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": f'["{SECRET}"]'},
                        }
                    ]
                }
            ),
            "JSON object",
        ),
        ({**completion({"content": SECRET}), "choices": []}, "no choices"),
        ({"id": "x"}, "no choices"),
    ],
)
def test_o2a_rejects(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=r".") as excinfo:
        openai_response_to_anthropic(body)
    assert fragment in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


# --------------------------------------------------------------------------------------
# Anthropic -> OpenAI
# --------------------------------------------------------------------------------------


def message(
    content: list[dict[str, Any]], stop_reason: str | None = "end_turn", **usage: int
) -> dict[str, Any]:
    return {
        "id": "msg_01ABC",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 20, "output_tokens": 5},
    }


def a2o(body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    out = anthropic_response_to_openai(body, **kwargs)
    openai.types.chat.ChatCompletion.model_validate(out)
    return out


def test_a2o_text() -> None:
    body = message([{"type": "text", "text": "Hello"}, {"type": "text", "text": " world", "citations": None}])
    assert a2o(body, created=1_700_000_123) == {
        "id": "chatcmpl-msg_01ABC",
        "object": "chat.completion",
        "created": 1_700_000_123,
        "model": "claude-sonnet-4-5",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }


def test_a2o_created_defaults_to_zero() -> None:
    assert a2o(message([{"type": "text", "text": "x"}]))["created"] == 0


def test_a2o_thinking_and_tool_use() -> None:
    body = message(
        [
            {"type": "thinking", "thinking": "Need weather.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
        ],
        stop_reason="tool_use",
    )
    choice = a2o(body)["choices"][0]
    assert choice == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        "finish_reason": "tool_calls",
        "logprobs": None,
    }


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
    ],
)
def test_a2o_stop_reasons(stop_reason: str | None, finish_reason: str) -> None:
    assert a2o(message([], stop_reason=stop_reason))["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "input_tokens": 10,
                "output_tokens": 3,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
            },
            {"prompt_tokens": 1110, "completion_tokens": 3, "total_tokens": 1113},
        ),
        (
            {
                "input_tokens": 10,
                "output_tokens": 3,
                "cache_creation_input_tokens": None,
                "cache_read_input_tokens": None,
            },
            {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
        ),
        ({"output_tokens": 2}, {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}),
    ],
)
def test_a2o_usage(usage: dict[str, Any], expected: dict[str, int]) -> None:
    body = message([{"type": "text", "text": "x"}])
    body["usage"] = usage
    assert a2o(body)["usage"] == expected


def test_a2o_rejects_tool_use_with_non_object_input() -> None:
    body = message([{"type": "tool_use", "id": "t", "name": "f", "input": SECRET}])
    with pytest.raises(ValueError, match=r"content\[0\]\.input must be an object") as excinfo:
        anthropic_response_to_openai(body)
    assert SECRET not in str(excinfo.value)


def test_round_trip_content_survives_both_directions() -> None:
    original = message(
        [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1, {"b": None}]}},
        ],
        stop_reason="tool_use",
    )
    back = o2a(a2o(original))
    assert back["content"] == original["content"]
    assert back["stop_reason"] == "tool_use"
    assert back["usage"] == {"input_tokens": 20, "output_tokens": 5}


def test_openai_tool_call_without_id_gets_one() -> None:
    from gateway.dialects.translate_response import openai_response_to_anthropic

    body = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
    }
    block = openai_response_to_anthropic(body)["content"][0]
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_") and block["name"] == "f"
