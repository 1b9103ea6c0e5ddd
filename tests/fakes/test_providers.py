"""Tests of the fakes themselves: the server helper, and FakeOpenAI driven by the official SDK."""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.conftest import OpenAIEnv
from tests.fakes.providers import embedding

USER: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hello big world"}]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    },
    {"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}},
]
RESP_TOOLS: list[Any] = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]


# --- chat completions ---------------------------------------------------------------------------
def test_chat_non_stream_and_recording(oai: OpenAIEnv) -> None:
    messages: Any = [
        {"role": "system", "content": "be nice"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "big world"}],
        },
    ]
    raw = oai.client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    resp = raw.parse()
    assert resp.choices[0].message.content == "echo: hello big world"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (5, 4, 9)
    (rec,) = oai.fake.received
    assert (rec.method, rec.path) == ("POST", "/v1/chat/completions")
    assert rec.headers["authorization"] == "Bearer sk-fake-openai"
    assert rec.json is not None and rec.json["messages"] == messages and json.loads(rec.body) == rec.json
    assert raw.headers["x-request-id"] == rec.request_id


@pytest.mark.parametrize("include_usage", [True, False])
def test_chat_stream_sequence(oai: OpenAIEnv, include_usage: bool) -> None:
    opts: Any = {"include_usage": True} if include_usage else openai.omit
    chunks = list(
        oai.client.chat.completions.create(
            model="gpt-4o-mini", messages=USER, stream=True, stream_options=opts
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[0].choices[0].delta.content == ""
    text = [c.choices[0].delta.content for c in chunks[1:] if c.choices and c.choices[0].delta.content]
    assert text == ["ech", "o: ", "hel", "lo ", "big", " wo", "rld"]
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    if include_usage:
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 4
    else:
        assert all(c.choices for c in chunks)
    raw = oai.http.post(
        "/v1/chat/completions",
        headers={"authorization": "Bearer sk-fake-openai"},
        json={"model": "gpt-4o-mini", "messages": USER, "stream": True},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.text.endswith("data: [DONE]\n\n")


def test_chat_stream_helper_accumulates(oai: OpenAIEnv) -> None:
    with oai.client.chat.completions.stream(model="gpt-4o-mini", messages=USER) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "echo: hello big world"


def test_chat_tool_call_non_stream_and_stream(oai: OpenAIEnv) -> None:
    resp = oai.client.chat.completions.create(model="gpt-tool", messages=USER, tools=TOOLS)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]

    chunks = list(
        oai.client.chat.completions.create(model="gpt-tool", messages=USER, tools=TOOLS, stream=True)
    )
    first = chunks[0].choices[0].delta.tool_calls
    assert first is not None and first[0].id and first[0].function and first[0].function.name == "get_weather"
    fragments: list[str] = []
    for c in chunks[1:-1]:
        calls = c.choices[0].delta.tool_calls
        assert calls is not None and calls[0].function is not None and calls[0].function.arguments is not None
        fragments.append(calls[0].function.arguments)
    assert all(len(f) <= 5 for f in fragments) and "".join(fragments) == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    with oai.client.chat.completions.stream(model="gpt-tool", messages=USER, tools=TOOLS) as stream:
        final = stream.get_final_completion()
    final_calls = final.choices[0].message.tool_calls
    assert final_calls is not None and final_calls[0].function.arguments == '{"city": "Paris"}'


def test_chat_tool_result_round_gets_text(oai: OpenAIEnv) -> None:
    messages: Any = [
        *USER,
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "x", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    resp = oai.client.chat.completions.create(model="gpt-tool", messages=messages, tools=TOOLS)
    assert resp.choices[0].message.content == "echo: sunny"


# --- completions, embeddings, models ------------------------------------------------------------
def test_completions(oai: OpenAIEnv) -> None:
    resp = oai.client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say this")
    assert resp.object == "text_completion" and resp.choices[0].text == "echo: say this"
    assert resp.usage is not None and resp.usage.prompt_tokens == 2 and resp.usage.completion_tokens == 3
    chunks = list(
        oai.client.completions.create(
            model="gpt-3.5-turbo-instruct",
            prompt="say this",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "echo: say this"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_embeddings_float_and_base64(oai: OpenAIEnv) -> None:
    resp = oai.client.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )
    assert [d.embedding for d in resp.data] == [embedding("a b"), embedding("c")]
    assert resp.usage.prompt_tokens == 3
    resp = oai.client.embeddings.create(model="text-embedding-3-small", input="a b")  # SDK asks for base64
    assert oai.fake.received[-1].json["encoding_format"] == "base64"  # type: ignore[index]
    assert resp.data[0].embedding == pytest.approx(embedding("a b"), abs=1e-6)
    packed = base64.b64encode(struct.pack("<8f", *embedding("a b"))).decode()
    raw = oai.http.post(
        "/v1/embeddings",
        headers={"authorization": "Bearer sk-fake-openai"},
        json={"model": "m", "input": "a b", "encoding_format": "base64"},
    )
    assert raw.json()["data"][0]["embedding"] == packed


def test_models(oai: OpenAIEnv) -> None:
    models = list(oai.client.models.list(extra_query={"limit": "2"}))
    assert oai.fake.received[-1].query == "limit=2" and oai.fake.received[-1].method == "GET"
    assert [m.id for m in models] == ["gpt-4o-mini", "gpt-4.1", "text-embedding-3-small"]
    assert all(m.object == "model" and m.owned_by for m in models)


# --- responses ----------------------------------------------------------------------------------
def test_responses_non_stream_and_stream(oai: OpenAIEnv) -> None:
    resp = oai.client.responses.create(model="gpt-4.1", input="hi there", instructions="be brief")
    assert resp.output_text == "echo: hi there" and resp.status == "completed"
    assert resp.usage is not None and (resp.usage.input_tokens, resp.usage.output_tokens) == (4, 3)
    items: Any = [{"role": "user", "content": [{"type": "input_text", "text": "from items"}]}]
    assert oai.client.responses.create(model="gpt-4.1", input=items).output_text == "echo: from items"

    events = list(oai.client.responses.create(model="gpt-4.1", input="hi there", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "echo: hi there" and all(len(d) <= 3 for d in deltas)
    done = events[-1]
    assert done.type == "response.completed" and done.response.usage is not None
    assert done.response.usage.total_tokens == 5

    with oai.client.responses.stream(model="gpt-4.1", input="hi there") as stream:
        assert stream.get_final_response().output_text == "echo: hi there"
    raw = oai.http.post(
        "/v1/responses",
        headers={"authorization": "Bearer sk-fake-openai"},
        json={"model": "gpt-4.1", "input": "x", "stream": True},
    )
    assert raw.text.startswith("event: response.created\ndata: {") and "[DONE]" not in raw.text


def test_responses_tool_call(oai: OpenAIEnv) -> None:
    resp = oai.client.responses.create(model="gpt-tool", input="weather?", tools=RESP_TOOLS)
    call = resp.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    with oai.client.responses.stream(model="gpt-tool", input="weather?", tools=RESP_TOOLS) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert final.output[0].type == "function_call" and final.output[0].arguments == '{"city": "Paris"}'


# --- auth, routing, failure modes ---------------------------------------------------------------
def test_auth_and_not_found(oai: OpenAIEnv) -> None:
    bad = openai.OpenAI(base_url=f"{oai.url}/v1", api_key="sk-wrong-key", max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
    assert err.value.type == "invalid_request_error" and err.value.response.headers["x-request-id"]
    missing = oai.http.get("/v1/models")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    nf = oai.http.get("/v1/nope", headers={"authorization": "Bearer sk-fake-openai"})
    assert nf.status_code == 404
    assert nf.json() == {
        "error": {
            "message": "Invalid URL (GET /v1/nope)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("model", "exc", "status"),
    [
        ("gpt-fail500", openai.InternalServerError, 500),
        ("gpt-fail429", openai.RateLimitError, 429),
        ("gpt-fail400", openai.BadRequestError, 400),
    ],
)
def test_http_failures(
    oai: OpenAIEnv, model: str, exc: type[openai.APIStatusError], status: int, stream: bool
) -> None:
    with pytest.raises(exc) as err:
        oai.client.chat.completions.create(model=model, messages=USER, stream=stream)
    assert err.value.status_code == status
    if status == 429:
        assert err.value.response.headers["retry-after"] == "1" and err.value.code == "rate_limit_exceeded"
    if status == 400:
        assert isinstance(err.value.body, dict) and err.value.body["message"] == "bad parameter from fake"
    with pytest.raises(exc):
        oai.client.responses.create(model=model, input="x", stream=stream)


def test_cut_connection(oai: OpenAIEnv) -> None:
    with pytest.raises(openai.APIConnectionError) as err:
        list(oai.client.chat.completions.create(model="gpt-cut", messages=USER, stream=True))
    assert isinstance(err.value.__cause__, Exception) and "RemoteProtocolError" in repr(err.value.__cause__)
    with pytest.raises(openai.APIConnectionError):
        oai.client.chat.completions.create(model="gpt-cut", messages=USER)
    got: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        oai.http.stream(
            "POST",
            "/v1/responses",
            headers={"authorization": "Bearer sk-fake-openai"},
            json={"model": "gpt-cut", "input": "abc def", "stream": True},
        ) as resp,
    ):
        got.extend(resp.iter_lines())
    assert any("response.output_text.delta" in line for line in got)
    assert not any("response.completed" in line for line in got)
    with pytest.raises(httpx.RemoteProtocolError, match="expected"):
        oai.http.post(
            "/v1/completions",
            headers={"authorization": "Bearer sk-fake-openai"},
            json={"model": "cut", "prompt": "x"},
        )


def test_midstream_error(oai: OpenAIEnv) -> None:
    seen: list[Any] = []
    with pytest.raises(openai.APIError, match="upstream exploded"):
        for chunk in oai.client.chat.completions.create(
            model="gpt-midstreamerror", messages=USER, stream=True
        ):
            seen.append(chunk)
    assert len(seen) == 3
    events = list(oai.client.responses.create(model="gpt-midstreamerror", input="a b c", stream=True))
    assert events[-1].type == "error" and events[-1].message == "upstream exploded"
    assert not any(e.type == "response.completed" for e in events)


def test_slow_and_hang_record_disconnects(oai: OpenAIEnv) -> None:
    oai.fake.slow_seconds = 0.2
    start = time.monotonic()
    resp = oai.client.chat.completions.create(model="gpt-slow", messages=USER)
    assert resp.choices[0].message.content == "echo: hello big world" and time.monotonic() - start >= 0.2
    oai.fake.slow_seconds = 30
    with pytest.raises(openai.APITimeoutError):
        oai.client.chat.completions.create(model="gpt-slow", messages=USER, timeout=0.3)
    assert oai.fake.wait_for_disconnects(1)
    with pytest.raises(openai.APITimeoutError):
        oai.client.chat.completions.create(model="gpt-hang", messages=USER, stream=True, timeout=0.3)
    assert oai.fake.wait_for_disconnects(2)
    assert oai.fake.disconnects == 2


def test_slow_stream_drips_until_disconnect(oai: OpenAIEnv) -> None:
    oai.fake.drip_interval = 0.05
    stream = oai.client.chat.completions.create(model="gpt-slow", messages=USER, stream=True)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if len(chunks) == 6:
            break
    stream.close()
    assert [c.choices[0].delta.content for c in chunks[1:]] == ["."] * 5
    assert oai.fake.wait_for_disconnects(1)
    # The request's handler notes the disconnect, then unwinds: give it a moment to finish.
    deadline = time.monotonic() + 5
    while oai.fake.active and time.monotonic() < deadline:
        time.sleep(0.01)
    assert oai.fake.active == 0


def test_reset(oai: OpenAIEnv) -> None:
    oai.client.models.list()
    assert len(oai.fake.received) == 1
    oai.fake.reset()
    assert oai.fake.received == [] and oai.fake.disconnects == 0
