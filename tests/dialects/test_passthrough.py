from __future__ import annotations

import json

import pytest

from gateway.dialects.base import usage_from
from gateway.dialects.passthrough import AnthropicPassThrough, OpenAIPassThrough, ResponsesPassThrough
from gateway.dialects.sse import SSEEvent
from gateway.errors import UpstreamError

CHUNK = SSEEvent(json.dumps({"choices": [{"index": 0, "delta": {"content": "hi"}}]}))
USAGE = SSEEvent(json.dumps({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}))
DONE = SSEEvent("[DONE]")


def test_openai_usage_chunk_recorded_and_kept_when_client_asked() -> None:
    adapter = OpenAIPassThrough(strip_usage=False)
    out = [e for ev in (CHUNK, USAGE, DONE) for e in adapter.feed(ev)]
    assert out == [CHUNK, USAGE, DONE]
    assert (adapter.input_tokens, adapter.output_tokens, adapter.finished) == (7, 2, True)


def test_openai_usage_chunk_dropped_when_the_gateway_asked() -> None:
    adapter = OpenAIPassThrough(strip_usage=True)
    out = [e for ev in (CHUNK, USAGE, DONE) for e in adapter.feed(ev)]
    assert out == [CHUNK, DONE]
    assert adapter.output_tokens == 2


def test_openai_usage_on_a_content_chunk_is_never_dropped() -> None:
    both = SSEEvent(json.dumps({"choices": [{"index": 0, "delta": {}}], "usage": {"completion_tokens": 1}}))
    assert OpenAIPassThrough(strip_usage=True).feed(both) == [both]


def test_openai_unfinished_without_done() -> None:
    adapter = OpenAIPassThrough(strip_usage=False)
    adapter.feed(CHUNK)
    assert not adapter.finished and adapter.finish() == []


def test_openai_error_event_passes_and_does_not_finish() -> None:
    error = SSEEvent(json.dumps({"error": {"message": "boom", "type": "server_error"}}))
    adapter = OpenAIPassThrough(strip_usage=True)
    assert adapter.feed(error) == [error] and not adapter.finished


def test_a_local_servers_error_chunk_ends_the_stream_as_one_gateway_error() -> None:
    # llama.cpp's shape; the relay renders it in the client's format (local_unavailable for a local
    # destination) instead of passing the server's event and adding "ended early" after it.
    error = SSEEvent('{"error":{"code":500,"message":"slot unavailable","type":"server_error"}}')
    with pytest.raises(UpstreamError) as info:
        OpenAIPassThrough(strip_usage=True, local_quirks=True).feed(error)
    assert info.value.code == "upstream_stream_error" and "slot unavailable" in info.value.message


def test_a_local_servers_null_first_delta_becomes_an_empty_string() -> None:
    first = SSEEvent('{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}')
    tool = SSEEvent('{"choices":[{"index":0,"delta":{"content":null,"tool_calls":[{"index":0}]}}]}')
    adapter = OpenAIPassThrough(strip_usage=False, local_quirks=True)
    out = adapter.feed(first) + adapter.feed(tool)
    assert json.loads(out[0].data)["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert out[1] == tool  # beside tool calls, OpenAI's own null stays
    # A hosted provider's stream is not touched.
    assert OpenAIPassThrough(strip_usage=False).feed(first) == [first]


def test_responses_terminal_events_and_usage() -> None:
    adapter = ResponsesPassThrough()
    delta = SSEEvent('{"type":"response.output_text.delta","delta":"x"}', "response.output_text.delta")
    done = SSEEvent(
        json.dumps(
            {"type": "response.completed", "response": {"usage": {"input_tokens": 3, "output_tokens": 9}}}
        ),
        "response.completed",
    )
    assert adapter.feed(delta) == [delta] and not adapter.finished
    assert adapter.feed(done) == [done]
    assert (adapter.finished, adapter.input_tokens, adapter.output_tokens) == (True, 3, 9)


def test_anthropic_usage_from_start_and_delta() -> None:
    adapter = AnthropicPassThrough()
    start = SSEEvent(
        json.dumps({"type": "message_start", "message": {"usage": {"input_tokens": 11, "output_tokens": 1}}}),
        "message_start",
    )
    delta = SSEEvent(json.dumps({"type": "message_delta", "usage": {"output_tokens": 6}}), "message_delta")
    stop = SSEEvent('{"type":"message_stop"}', "message_stop")
    for event in (start, delta, stop):
        assert adapter.feed(event) == [event]
    assert (adapter.input_tokens, adapter.output_tokens, adapter.finished) == (11, 6, True)


def test_malformed_json_passes_through_untouched() -> None:
    bad = SSEEvent('{"usage": nope', None)
    assert OpenAIPassThrough(strip_usage=True).feed(bad) == [bad]
    bad_start = SSEEvent("{oops", "message_start")
    assert AnthropicPassThrough().feed(bad_start) == [bad_start]


def test_usage_from_every_shape() -> None:
    assert usage_from({"usage": {"prompt_tokens": 1, "completion_tokens": 2}}) == usage_from(
        {"usage": {"input_tokens": 1, "output_tokens": 2}}
    )
    assert usage_from({"input_tokens": 5}).input_tokens == 5
    assert usage_from({"usage": {"prompt_tokens": True}}).input_tokens is None
    assert usage_from([1, 2]).input_tokens is None
