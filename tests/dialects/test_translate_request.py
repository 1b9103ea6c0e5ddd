from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.dialects.translate_request import anthropic_request_to_openai, openai_request_to_anthropic

SECRET = "hunter2-do-not-echo"
PNG = "iVBORw0KGgo="

# --------------------------------------------------------------------------------------
# Anthropic -> OpenAI
# --------------------------------------------------------------------------------------


def a2o_messages(messages: list[dict[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    out = anthropic_request_to_openai({"model": "m", "max_tokens": 10, "messages": messages, **extra})
    result: list[dict[str, Any]] = out["messages"]
    return result


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("Be brief.", [{"role": "system", "content": "Be brief."}]),
        (
            [
                {"type": "text", "text": "One."},
                {"type": "text", "text": "Two.", "cache_control": {"type": "ephemeral"}},
            ],
            [{"role": "system", "content": "One.\n\nTwo."}],
        ),
        ("", []),
        ([], []),
    ],
)
def test_a2o_system(system: Any, expected: list[dict[str, Any]]) -> None:
    got = a2o_messages([{"role": "user", "content": "hi"}], system=system)
    assert got == [*expected, {"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param(
            {"role": "user", "content": "hello"},
            [{"role": "user", "content": "hello"}],
            id="user-string",
        ),
        pytest.param(
            {
                "role": "user",
                "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}],
            },
            [{"role": "user", "content": "hello"}],
            id="user-single-text-block-becomes-string",
        ),
        pytest.param(
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
            id="user-two-text-blocks-stay-parts",
        ),
        pytest.param(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ],
            id="user-text-and-base64-image",
        ),
        pytest.param(
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}}],
            },
            [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}}],
                }
            ],
            id="user-url-image",
        ),
        pytest.param(
            {"role": "assistant", "content": "Sure."},
            [{"role": "assistant", "content": "Sure."}],
            id="assistant-string",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            [
                {
                    "role": "assistant",
                    "content": "Let me look.",
                    "tool_calls": [
                        {
                            "id": "toolu_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                }
            ],
            id="assistant-thinking-dropped-text-and-tool-use",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "xyz"},
                    {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {}},
                    {"type": "tool_use", "id": "toolu_2", "name": "b", "input": {"n": [1, 2]}},
                ],
            },
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "toolu_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                        {
                            "id": "toolu_2",
                            "type": "function",
                            "function": {"name": "b", "arguments": '{"n": [1, 2]}'},
                        },
                    ],
                }
            ],
            id="assistant-only-tool-use-has-null-content",
        ),
        pytest.param(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Also, thanks."},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "is_error": True,
                        "content": [{"type": "text", "text": "line 1"}, {"type": "text", "text": "line 2"}],
                    },
                    {"type": "tool_result", "tool_use_id": "toolu_3"},
                ],
            },
            [
                {"role": "tool", "tool_call_id": "toolu_1", "content": "12C"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "line 1\nline 2"},
                {"role": "tool", "tool_call_id": "toolu_3", "content": ""},
                {"role": "user", "content": "Also, thanks."},
            ],
            id="user-tool-results-go-first",
        ),
        pytest.param(
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
            [{"role": "tool", "tool_call_id": "toolu_1", "content": "ok"}],
            id="user-only-tool-result-has-no-user-message",
        ),
    ],
)
def test_a2o_messages(message: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert a2o_messages([message]) == expected


def test_a2o_options() -> None:
    body = {
        "model": "claude-x",
        "max_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END", "STOP"],
        "metadata": {"user_id": "u-1"},
        "stream": True,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert anthropic_request_to_openai(body) == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END", "STOP"],
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a2o_minimal_request_has_no_extra_keys() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], "stream": False}
    expected = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "stream": False,
    }
    assert anthropic_request_to_openai(body) == expected


def test_a2o_tools() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {"name": "get_weather", "description": "Weather now", "input_schema": schema},
            {
                "type": "custom",
                "name": "noop",
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            },
        ],
    }
    out = anthropic_request_to_openai(body)
    assert out["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "description": "Weather now", "parameters": schema},
        },
        {"type": "function", "function": {"name": "noop", "parameters": {"type": "object"}}},
    ]
    assert out["tools"][0]["function"]["parameters"] is not schema


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        ({"type": "tool", "name": "f"}, {"tool_choice": {"type": "function", "function": {"name": "f"}}}),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
        ({"type": "any", "disable_parallel_tool_use": False}, {"tool_choice": "required"}),
    ],
)
def test_a2o_tool_choice(tool_choice: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    body = {"model": "m", "max_tokens": 5, "messages": [], "tools": tools, "tool_choice": tool_choice}
    out = anthropic_request_to_openai(body)
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


@pytest.mark.parametrize(
    ("tools", "tool_choice", "expected"),
    [
        ([], None, {}),
        ([], {"type": "auto", "disable_parallel_tool_use": True}, {}),
        (None, {"type": "none"}, {}),
        ([], {"type": "any"}, {"tool_choice": "required"}),
    ],
)
def test_a2o_tool_options_without_tools(tools: Any, tool_choice: Any, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 5, "messages": []}
    body |= {k: v for k, v in (("tools", tools), ("tool_choice", tool_choice)) if v is not None}
    out = anthropic_request_to_openai(body)
    assert {k: v for k, v in out.items() if k in ("tools", "tool_choice", "parallel_tool_calls")} == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": "nope"}, "messages must be an array"),
        ({"messages": [{"role": "system", "content": SECRET}]}, "messages[0].role"),
        ({"messages": [{"role": SECRET, "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {"data": SECRET}}]}]},
            "not supported",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": SECRET}],
                    }
                ]
            },
            "input must be an object",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "image", "source": {"type": "base64", "data": SECRET}}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": SECRET}}],
                    }
                ]
            },
            "image source type",
        ),
        ({"messages": [], "tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tools"),
        ({"messages": [], "tool_choice": {"type": SECRET}}, "tool_choice"),
        ({"messages": [], "system": [{"type": "image", "source": {"data": SECRET}}]}, "system[0]"),
    ],
)
def test_a2o_rejects(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=r".") as excinfo:
        anthropic_request_to_openai({"model": "m", "max_tokens": 5, **body})
    assert fragment in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_a2o_does_not_mutate_input() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "system": [{"type": "text", "text": "s"}],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "tool_result", "tool_use_id": "t"}],
            }
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object", "properties": {}}}],
    }
    before = copy.deepcopy(body)
    anthropic_request_to_openai(body)
    assert body == before


# --------------------------------------------------------------------------------------
# OpenAI -> Anthropic
# --------------------------------------------------------------------------------------


def o2a(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return openai_request_to_anthropic({"model": "m", "messages": messages, **extra})


def test_o2a_system_and_developer_are_hoisted_and_joined() -> None:
    out = o2a(
        [
            {"role": "system", "content": "Rule one."},
            {"role": "user", "content": "hi"},
            {
                "role": "developer",
                "content": [{"type": "text", "text": "Rule"}, {"type": "text", "text": "two."}],
            },
        ]
    )
    assert out["system"] == "Rule one.\n\nRule\ntwo."
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_o2a_no_system_key_without_system_messages() -> None:
    assert "system" not in o2a([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param(
            [{"role": "user", "content": "hello", "name": "bob"}],
            [{"role": "user", "content": "hello"}],
            id="user-string",
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare"},
                        {
                            "type": "image_url",
                            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"},
                        },
                        {"type": "image_url", "image_url": {"url": "https://x.test/b.webp"}},
                    ],
                }
            ],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://x.test/b.webp"}},
                    ],
                }
            ],
            id="user-parts-with-images",
        ),
        pytest.param(
            [{"role": "assistant", "content": "Sure."}],
            [{"role": "assistant", "content": "Sure."}],
            id="assistant-string",
        ),
        pytest.param(
            [
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        },
                        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}},
                    ],
                }
            ],
            [
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                        {"type": "tool_use", "id": "call_2", "name": "g", "input": {}},
                    ],
                }
            ],
            id="assistant-text-and-tool-calls",
        ),
        pytest.param(
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                }
            ],
            [
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}],
                }
            ],
            id="assistant-null-content-and-tool-call",
        ),
        pytest.param(
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}],
                }
            ],
            [
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "no"}],
                }
            ],
            id="assistant-parts-refusal-kept-as-text",
        ),
        pytest.param(
            [
                {"role": "tool", "tool_call_id": "call_1", "content": "12C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "x"}]},
                {"role": "user", "content": "thanks"},
            ],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "12C"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": "x"},
                        {"type": "text", "text": "thanks"},
                    ],
                }
            ],
            id="tool-messages-and-user-merge-into-one-turn",
        ),
        pytest.param(
            [
                {"role": "user", "content": "one"},
                {"role": "system", "content": "sys"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {"role": "assistant", "content": "a"},
                {"role": "assistant", "content": "b"},
            ],
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                },
            ],
            id="same-role-runs-merge",
        ),
    ],
)
def test_o2a_messages(messages: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert o2a(messages)["messages"] == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"max_tokens": 4096}),
        ({"max_tokens": 100}, {"max_tokens": 100}),
        ({"max_tokens": 100, "max_completion_tokens": 200}, {"max_tokens": 200}),
        ({"temperature": 1.7}, {"max_tokens": 4096, "temperature": 1}),
        ({"temperature": 0.3, "top_p": 0.5}, {"max_tokens": 4096, "temperature": 0.3, "top_p": 0.5}),
        ({"temperature": -1}, {"max_tokens": 4096, "temperature": 0}),
        ({"stop": "END"}, {"max_tokens": 4096, "stop_sequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"max_tokens": 4096, "stop_sequences": ["a", "b"]}),
        ({"user": "u-9"}, {"max_tokens": 4096, "metadata": {"user_id": "u-9"}}),
        ({"stream": True, "stream_options": {"include_usage": True}}, {"max_tokens": 4096, "stream": True}),
        (
            {
                "n": 1,
                "seed": 7,
                "presence_penalty": 0.5,
                "frequency_penalty": 0.5,
                "logit_bias": {"50256": -100},
                "response_format": {"type": "text"},
                "logprobs": False,
                "top_logprobs": 0,
                "modalities": ["text"],
            },
            {"max_tokens": 4096},
        ),
    ],
)
def test_o2a_options(options: dict[str, Any], expected: dict[str, Any]) -> None:
    out = o2a([{"role": "user", "content": "hi"}], **options)
    assert out == {"model": "m", "messages": [{"role": "user", "content": "hi"}], **expected}


def test_o2a_default_max_tokens_parameter() -> None:
    out = openai_request_to_anthropic({"model": "m", "messages": []}, default_max_tokens=123)
    assert out["max_tokens"] == 123


def test_o2a_tools() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    out = o2a(
        [{"role": "user", "content": "hi"}],
        tools=[
            {"type": "function", "function": {"name": "search", "description": "Find", "parameters": schema}},
            {"type": "function", "function": {"name": "ping"}},
        ],
    )
    assert out["tools"] == [
        {"name": "search", "description": "Find", "input_schema": schema},
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in out


TOOLS = [{"type": "function", "function": {"name": "f"}}]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, {"type": "tool", "name": "f"}),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"tool_choice": "auto", "parallel_tool_calls": True}, {"type": "auto"}),
    ],
)
def test_o2a_tool_choice(options: dict[str, Any], expected: dict[str, Any]) -> None:
    assert o2a([], tools=TOOLS, **options)["tool_choice"] == expected


def test_o2a_parallel_tool_calls_without_tools_adds_nothing() -> None:
    assert "tool_choice" not in o2a([], parallel_tool_calls=False)


def tool_call(arguments: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}],
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"n": 2}, "n other than 1"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "logprobs"),
        (
            {"response_format": {"type": "json_object"}},
            "not supported when the destination speaks the Anthropic format",
        ),
        ({"response_format": {"type": "json_schema", "json_schema": {"name": SECRET}}}, "response_format"),
        ({"functions": [{"name": SECRET}]}, "legacy"),
        ({"audio": {"voice": "alloy", "format": "wav"}, "modalities": ["text", "audio"]}, "audio"),
        ({"messages": [{"role": "function", "name": "f", "content": SECRET}]}, "messages[0].role"),
        ({"messages": [{"role": SECRET, "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [tool_call('{"a": ' + SECRET)]},
            "messages[0].tool_calls[0].function.arguments is not valid JSON",
        ),
        ({"messages": [tool_call(f'["{SECRET}"]')]}, "must encode a JSON object"),
        ({"messages": [tool_call(f'"{SECRET}"')]}, "must encode a JSON object"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": None,
                        "function_call": {"name": "f", "arguments": SECRET},
                    }
                ]
            },
            "legacy function calls",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": SECRET}}]}
                ]
            },
            "messages[0].content[0]",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": SECRET}}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": f"data:text/plain,{SECRET}"}}],
                    }
                ]
            },
            "base64",
        ),
        ({"messages": [{"role": "tool", "content": SECRET}]}, "tool_call_id"),
        ({"tools": [{"type": "custom", "custom": {"name": SECRET}}]}, "only function tools"),
        ({"tools": TOOLS, "tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}, "tool_choice"),
        ({"temperature": SECRET}, "temperature must be a number"),
    ],
)
def test_o2a_rejects(body: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match=r".") as excinfo:
        openai_request_to_anthropic({"model": "m", "messages": [], **body})
    assert fragment in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_o2a_does_not_mutate_input() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "parallel_tool_calls": False,
    }
    before = copy.deepcopy(body)
    out = openai_request_to_anthropic(body)
    assert body == before
    out["tools"][0]["input_schema"]["x"] = 1
    assert body == before


# --------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------

REPRESENTATIVE_ANTHROPIC_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "system": "You are a weather bot.",
    "temperature": 0.5,
    "top_p": 0.95,
    "stop_sequences": ["\n\nHuman:"],
    "metadata": {"user_id": "user-42"},
    "stream": True,
    "tools": [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "messages": [
        {"role": "user", "content": "Weather and time in Oslo and Bergen?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Oslo"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "4C, rain"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "14:05"},
                {"type": "text", "text": "And Bergen?"},
            ],
        },
        {"role": "assistant", "content": "Bergen is rainy too."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What does this chart say? Ünïcødé ✓"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            ],
        },
    ],
}


def test_round_trip_anthropic_openai_anthropic() -> None:
    openai_body = anthropic_request_to_openai(REPRESENTATIVE_ANTHROPIC_REQUEST)
    assert [m["role"] for m in openai_body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "user",
        "assistant",
        "user",
    ]
    assert openai_request_to_anthropic(openai_body) == REPRESENTATIVE_ANTHROPIC_REQUEST


def test_round_trip_openai_anthropic_openai() -> None:
    openai_body = anthropic_request_to_openai(REPRESENTATIVE_ANTHROPIC_REQUEST)
    assert anthropic_request_to_openai(openai_request_to_anthropic(openai_body)) == openai_body
