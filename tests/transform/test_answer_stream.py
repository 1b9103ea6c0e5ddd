"""AnswerStream on literal stream events of every wire format: restore split tokens, flush held text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from gateway.dialects.sse import SSEEvent
from gateway.transform.answer import AnswerFilter, filter_payload
from gateway.transform.answer_guard import Replacement
from gateway.transform.answer_stream import AnswerStream

TOKEN = "<PERSON_1a2b3c4d>"
VALUE = 'Ada "Countess" Lövelace'
MAPPING = {TOKEN: VALUE}
# A value with a protocol value's shape (an id, a model name) is never rewritten, even when a filter
# maps it: ids and model names are not text.  (Real tokens never have that shape.)
PROTO = "msg_1a2b3c4d"
MAPPING_P = {**MAPPING, PROTO: "LEAK"}
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def find_emails(text: str) -> Sequence[Replacement]:
    return [Replacement(m.start(), m.end(), "[EMAIL_ADDRESS]") for m in _EMAIL.finditer(text)]


def ev(payload: Any, event: str | None = None) -> SSEEvent:
    return SSEEvent(json.dumps(payload), event)


def feed(stream: AnswerStream, payload: Any, event: str | None = None) -> list[Any]:
    """The payloads (``[DONE]`` as the string) of the events sent for one event in."""
    out = stream.feed(ev(payload, event))
    return [e.data if e.data == "[DONE]" else json.loads(e.data) for e in out]


def chat_chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


# --- chat completions ---------------------------------------------------------------------------


def test_chat_content_token_split_across_chunks() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    assert feed(stream, chat_chunk({"role": "assistant", "content": "Hi <PER"})) == [
        chat_chunk({"role": "assistant", "content": "Hi "})
    ]
    assert feed(stream, chat_chunk({"content": "SON_1a2b"})) == [chat_chunk({"content": ""})]
    assert feed(stream, chat_chunk({"content": "3c4d>, welcome"})) == [
        chat_chunk({"content": f"{VALUE}, welcome"})
    ]
    assert feed(stream, chat_chunk({}, "stop")) == [chat_chunk({}, "stop")]
    assert stream.feed(SSEEvent("[DONE]")) == [SSEEvent("[DONE]")]


def test_chat_tool_call_arguments_are_restored_json_escaped() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    first = {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"who": "<PERSON_1a'},
            }
        ]
    }
    out1 = feed(stream, chat_chunk(first))
    out2 = feed(stream, chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '2b3c4d>"}'}}]}))
    args = [
        out1[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        out2[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
    ]
    assert args == ['{"who": "', 'Ada \\"Countess\\" Lövelace"}']
    assert json.loads("".join(args)) == {"who": VALUE}
    assert out1[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_1"
    assert out1[0]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "lookup"


def test_chat_finish_chunk_carries_held_text_and_arguments() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    feed(stream, chat_chunk({"content": "see <PERSON_1a"}))
    call = {"index": 2, "function": {"arguments": '{"a": "<PERSON'}}
    feed(stream, chat_chunk({"tool_calls": [call]}))
    out = feed(stream, chat_chunk({}, "tool_calls"))
    assert out == [
        chat_chunk(
            {
                "content": "<PERSON_1a",
                "tool_calls": [{"index": 2, "function": {"arguments": "<PERSON"}}],
            },
            "tool_calls",
        )
    ]
    assert feed(stream, chat_chunk({}, None)) == [chat_chunk({}, None)]  # nothing held any more


def test_chat_finish_chunk_with_guard_releases_the_redacted_value() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, find_emails))
    assert feed(stream, chat_chunk({"content": "mail bob@exa"})) == [chat_chunk({"content": "mail "})]
    assert feed(stream, chat_chunk({"content": "mple.com"})) == [chat_chunk({"content": ""})]
    assert feed(stream, chat_chunk({"content": ""}, "stop")) == [
        chat_chunk({"content": "[EMAIL_ADDRESS]"}, "stop")
    ]


def test_chat_done_without_finish_reason_gets_a_closing_chunk() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    feed(stream, chat_chunk({"content": "see <PERSON_1a"}))
    out = stream.feed(SSEEvent("[DONE]"))
    assert len(out) == 2
    assert out[1] == SSEEvent("[DONE]")
    assert json.loads(out[0].data) == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": None, "delta": {"content": "<PERSON_1a"}}],
    }


def test_chat_other_text_fields_are_filtered() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    out = feed(stream, chat_chunk({"record_field": f"{TOKEN}!", "reasoning_content": f"x{TOKEN}"}))
    assert out == [chat_chunk({"record_field": f"{VALUE}!", "reasoning_content": f"x{VALUE}"})]


def test_chat_protocol_fields_are_left_alone() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter({"assistant": "LEAK", "chatcmpl-1": "LEAK"}, None))
    out = feed(stream, chat_chunk({"role": "assistant", "content": "an assistant"}))
    assert out == [chat_chunk({"role": "assistant", "content": "an LEAK"})]


def test_chat_usage_chunk_without_choices_passes_untouched() -> None:
    stream = AnswerStream("chat.completions", AnswerFilter(MAPPING, None))
    event = ev({"id": "x", "choices": [], "usage": {"total_tokens": 3}})
    assert stream.feed(event) == [event]
    comment = SSEEvent("")
    assert stream.feed(comment) == [comment]
    # Data that is not JSON cannot be read, so it is never relayed: dropped, and counted.
    assert stream.feed(SSEEvent("not json")) == [] and stream.dropped == 1
    assert stream.feed(SSEEvent("[DONE]")) == [SSEEvent("[DONE]")] and stream.dropped == 1


# --- text completions ---------------------------------------------------------------------------


def completion_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }


def test_text_completion_split_token_and_flush_at_finish() -> None:
    stream = AnswerStream("completions", AnswerFilter(MAPPING, None))
    assert feed(stream, completion_chunk("Dear <PERSON")) == [completion_chunk("Dear ")]
    assert feed(stream, completion_chunk("_1a2b3c4d> and <PERSON_1")) == [completion_chunk(f"{VALUE} and ")]
    assert feed(stream, completion_chunk("", "length")) == [completion_chunk("<PERSON_1", "length")]


def test_text_completion_done_without_finish_reason() -> None:
    stream = AnswerStream("completions", AnswerFilter(MAPPING, None))
    feed(stream, completion_chunk("Dear <PERSON"))
    out = stream.feed(SSEEvent("[DONE]"))
    assert [json.loads(out[0].data), out[1].data] == [
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "gpt-3.5-turbo-instruct",
            "choices": [{"index": 0, "finish_reason": None, "text": "<PERSON"}],
        },
        "[DONE]",
    ]


# --- Anthropic messages -------------------------------------------------------------------------


def text_delta(index: int, text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": text}}


def json_delta(index: int, partial: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": partial},
    }


def test_anthropic_text_and_tool_use() -> None:
    stream = AnswerStream("messages", AnswerFilter(MAPPING_P, None))
    start = {
        "type": "message_start",
        "message": {
            "id": PROTO,
            "type": "message",
            "role": "assistant",
            "model": "claude",
            "content": [],
            "stop_reason": None,
        },
    }
    assert feed(stream, start, "message_start") == [start]
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert feed(stream, block, "content_block_start") == [block]
    assert feed(stream, text_delta(0, "Hello <PERSON_1a"), "content_block_delta") == [text_delta(0, "Hello ")]
    assert feed(stream, text_delta(0, "2b3c4d> and <PERSON"), "content_block_delta") == [
        text_delta(0, f"{VALUE} and ")
    ]
    stop = {"type": "content_block_stop", "index": 0}
    out = stream.feed(ev(stop, "content_block_stop"))
    assert [(e.event, json.loads(e.data)) for e in out] == [
        ("content_block_delta", text_delta(0, "<PERSON")),
        ("content_block_stop", stop),
    ]

    tool = {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}},
    }
    assert feed(stream, tool, "content_block_start") == [tool]
    out1 = feed(stream, json_delta(1, '{"who": "<PERSON_1a2'), "content_block_delta")
    out2 = feed(stream, json_delta(1, 'b3c4d>", "x": "<PER'), "content_block_delta")
    assert out1 == [json_delta(1, '{"who": "')]
    assert out2 == [json_delta(1, 'Ada \\"Countess\\" Lövelace", "x": "')]
    stop1 = {"type": "content_block_stop", "index": 1}
    out3 = stream.feed(ev(stop1, "content_block_stop"))
    assert [(e.event, json.loads(e.data)) for e in out3] == [
        ("content_block_delta", json_delta(1, "<PER")),
        ("content_block_stop", stop1),
    ]
    partial = "".join(o[0]["delta"]["partial_json"] for o in (out1, out2)) + "<PER"
    assert json.loads(partial + '"}') == {"who": VALUE, "x": "<PER"}


def test_anthropic_stop_without_held_text_is_passed_as_is() -> None:
    stream = AnswerStream("messages", AnswerFilter(MAPPING, None))
    feed(stream, text_delta(0, f"hi {TOKEN}"))
    stop = ev({"type": "content_block_stop", "index": 0}, "content_block_stop")
    assert stream.feed(stop) == [stop]


def test_anthropic_with_guard() -> None:
    stream = AnswerStream("messages", AnswerFilter(MAPPING, find_emails))
    assert feed(stream, text_delta(0, "write to bob@exa")) == [text_delta(0, "write to ")]
    assert feed(stream, text_delta(0, "mple.org now ")) == [text_delta(0, "[EMAIL_ADDRESS] now ")]


# --- Responses ----------------------------------------------------------------------------------


def text_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": f"response.output_text.{kind}",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        **fields,
    }


def test_responses_text_deltas_and_done() -> None:
    stream = AnswerStream("responses", AnswerFilter(MAPPING, None))
    created = {
        "type": "response.created",
        "response": {"id": "resp_1", "status": "in_progress", "output": []},
    }
    event = ev(created, "response.created")
    assert stream.feed(event) == [event]
    assert stream.response_id == "resp_1"

    assert feed(stream, text_event("delta", delta="Hi <PERSON_1a")) == [text_event("delta", delta="Hi ")]
    assert feed(stream, text_event("delta", delta="2b3c4d> and <PER")) == [
        text_event("delta", delta=f"{VALUE} and ")
    ]
    done = text_event("done", text=f"Hi {TOKEN} and <PER")
    out = stream.feed(ev(done, "response.output_text.done"))
    assert [(e.event, json.loads(e.data)) for e in out] == [
        ("response.output_text.delta", text_event("delta", delta="<PER")),
        ("response.output_text.done", text_event("done", text=f"Hi {VALUE} and <PER")),
    ]


def test_responses_done_text_is_what_the_deltas_delivered() -> None:
    stream = AnswerStream("responses", AnswerFilter(MAPPING, find_emails))
    delivered = []
    for piece in ["Ask bob@", "example.com or ", f"{TOKEN} now "]:
        (out,) = feed(stream, text_event("delta", delta=piece))
        delivered.append(out["delta"])
    assert "".join(delivered) == f"Ask [EMAIL_ADDRESS] or {VALUE} now "
    # The provider's own text (here different from the deltas) is replaced by what was sent.
    out = feed(stream, text_event("done", text="something else entirely"))
    assert out == [text_event("done", text=f"Ask [EMAIL_ADDRESS] or {VALUE} now ")]


def test_responses_function_call_arguments() -> None:
    stream = AnswerStream("responses", AnswerFilter(MAPPING, None))

    def args(kind: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": f"response.function_call_arguments.{kind}",
            "item_id": "fc_1",
            "output_index": 1,
            **fields,
        }

    (a,) = feed(stream, args("delta", delta='{"who":"<PERSON_'))
    (b,) = feed(stream, args("delta", delta='1a2b3c4d>"}'))
    assert a == args("delta", delta='{"who":"')
    assert json.loads(a["delta"] + b["delta"]) == {"who": VALUE}
    done = feed(stream, args("done", arguments=f'{{"who":"{TOKEN}"}}'))
    assert done == [args("done", arguments=a["delta"] + b["delta"])]


def test_responses_completed_is_filtered_whole() -> None:
    stream = AnswerStream("responses", AnswerFilter(MAPPING, None))
    completed = {
        "type": "response.completed",
        "response": {
            "id": "resp_1",
            "status": "completed",
            "model": PROTO,
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": f"Hi {TOKEN}", "annotations": []}],
                },
                {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_1",
                    "name": "lookup",
                    "arguments": f'{{"who":"{TOKEN}"}}',
                },
            ],
        },
    }
    (out,) = feed(stream, completed)
    assert out["response"]["model"] == PROTO
    assert out["response"]["output"][0]["content"][0]["text"] == f"Hi {VALUE}"
    assert json.loads(out["response"]["output"][1]["arguments"]) == {"who": VALUE}
    assert out["response"]["output"][1]["call_id"] == "call_1"


def test_responses_error_event_is_read_strictly() -> None:
    # An error quotes the destination: every value in it is handled, the user's own too (a user's
    # value that came back pseudonymized is restored).
    stream = AnswerStream("responses", AnswerFilter(MAPPING, find_emails, strict=find_emails))
    error = ev({"type": "error", "code": "bad_input", "message": f"bad {TOKEN} from a@example.com"}, "error")
    (out,) = stream.feed(error)
    assert json.loads(out.data) == {
        "type": "error",
        "code": "bad_input",
        "message": f"bad {VALUE} from [EMAIL_ADDRESS]",
    }


def test_unknown_endpoint_passes_events() -> None:
    stream = AnswerStream("embeddings", AnswerFilter(MAPPING, None))
    event = ev({"data": [TOKEN]})
    assert stream.feed(event) == [event]


# --- whole answers ------------------------------------------------------------------------------


def test_filter_payload_chat_completion() -> None:
    answer = AnswerFilter({**MAPPING, "gpt-4o": "LEAK", "chatcmpl-9": "LEAK"}, None)
    payload: dict[str, Any] = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": f"Hello {TOKEN}",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": f'{{"who": "{TOKEN}"}}'},
                        }
                    ],
                },
            }
        ],
    }
    out = filter_payload(payload, answer)
    assert out["id"] == "chatcmpl-9"
    assert out["model"] == "gpt-4o"
    message = out["choices"][0]["message"]
    assert message["content"] == f"Hello {VALUE}"
    assert message["tool_calls"][0]["function"]["arguments"] == '{"who": "Ada \\"Countess\\" Lövelace"}'
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"who": VALUE}
    assert payload["choices"][0]["message"]["content"] == f"Hello {TOKEN}"  # the input is not mutated


def test_filter_payload_anthropic_message() -> None:
    answer = AnswerFilter(MAPPING_P, find_emails)
    payload = {
        "id": PROTO,
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "text", "text": f"{TOKEN} wrote from ada@example.com"},
            {"type": "tool_use", "id": "toolu_1", "name": "send", "input": {"to": TOKEN, "n": 3, "ok": True}},
        ],
        "stop_reason": "tool_use",
    }
    out = filter_payload(payload, answer)
    assert out == {
        "id": PROTO,
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "text", "text": f"{VALUE} wrote from [EMAIL_ADDRESS]"},
            {"type": "tool_use", "id": "toolu_1", "name": "send", "input": {"to": VALUE, "n": 3, "ok": True}},
        ],
        "stop_reason": "tool_use",
    }
    assert answer.replaced == 1


def test_filter_payload_responses_output() -> None:
    answer = AnswerFilter(MAPPING_P, None)
    payload = {
        "id": "resp_1",
        "object": "response",
        "output": [
            {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": f"<{TOKEN}>"}]},
            {"type": "function_call", "call_id": PROTO, "name": "f", "arguments": f'["{TOKEN}"]'},
        ],
    }
    out = filter_payload(payload, answer)
    assert out["output"][0]["content"][0]["text"] == f"<{VALUE}>"
    assert out["output"][1]["call_id"] == PROTO
    assert json.loads(out["output"][1]["arguments"]) == [VALUE]


def test_answer_filter_active() -> None:
    assert not AnswerFilter({}, None).active
    assert AnswerFilter(MAPPING, None).active
    assert AnswerFilter({}, find_emails).active
