"""Streaming translation between OpenAI chat chunks and Anthropic message events.  No I/O.

Each translator is fed parsed upstream SSE events one at a time and returns the events to
send downstream.  Everything a complete stream owes is emitted when the upstream's own
terminal event arrives (OpenAI ``[DONE]``, Anthropic ``message_stop``).  A stream cut
before that gets no synthetic ending: ``finish()`` then returns nothing and ``finished``
stays False, so the caller can report the truncation instead of presenting a clean end.

Malformed upstream events raise ``ValueError``.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.dialects.sse import SSEEvent, json_event
from gateway.dialects.translate_response import (
    anthropic_message_id,
    anthropic_prompt_tokens,
    anthropic_stop_reason_to_openai,
    new_tool_use_id,
    openai_completion_id,
    openai_finish_reason_to_anthropic,
)

_DONE = "[DONE]"


def _decode(event: SSEEvent) -> dict[str, Any]:
    try:
        payload = event.json()
    except json.JSONDecodeError:
        raise ValueError("an upstream stream event is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("an upstream stream event is not a JSON object")
    return payload


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _anthropic_event(payload: dict[str, Any]) -> SSEEvent:
    return json_event(payload, event=payload["type"])


def _error_message(error: dict[str, Any]) -> str:
    message = error.get("message")
    return message if isinstance(message, str) and message else "the upstream reported an error"


class OpenAIToAnthropicStream:
    """OpenAI ``chat.completion.chunk`` events in, Anthropic message stream events out."""

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._block_index = -1  # index of the most recently opened content block
        self._open_kind: str | None = None  # "text" or "tool_use" while a block is open
        self._tool_index: int | None = None  # OpenAI index of the open tool call
        self._tool_id: str | None = None
        self._stop_reason = "end_turn"
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def input_tokens(self) -> int | None:
        return self._input_tokens

    @property
    def output_tokens(self) -> int | None:
        return self._output_tokens

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if self._finished or not event.data.strip():
            return []
        if event.data.strip() == _DONE:
            return self._done()
        payload = _decode(event)
        if "error" in payload:
            error = {"type": "api_error", "message": _error_message(_dict(payload["error"]))}
            return [_anthropic_event({"type": "error", "error": error})]
        out = [] if self._started else [self._message_start(payload)]
        usage = payload.get("usage")
        if isinstance(usage, dict):
            self._input_tokens = _int_or_none(usage.get("prompt_tokens"))
            self._output_tokens = _int_or_none(usage.get("completion_tokens"))
        for choice in payload.get("choices") or []:
            # Only choice 0 exists for n=1, the only n the request translator lets through.
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._choice(choice))
        return out

    def finish(self) -> list[SSEEvent]:
        # Everything owed was sent at [DONE]; without [DONE] the stream was cut, and
        # inventing a message_stop would present a truncated answer as a complete one.
        return []

    def _message_start(self, payload: dict[str, Any]) -> SSEEvent:
        self._started = True
        message: dict[str, Any] = {
            "id": anthropic_message_id(payload.get("id")),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": payload.get("model") or "",
            "stop_reason": None,
            "stop_sequence": None,
            # OpenAI reports usage only at the end; the real counts go out in message_delta.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return _anthropic_event({"type": "message_start", "message": message})

    def _choice(self, choice: dict[str, Any]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        delta = _dict(choice.get("delta"))
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str) and text:
            out.extend(self._text(text))
        for call in delta.get("tool_calls") or []:
            out.extend(self._tool_call(_dict(call)))
        reason = choice.get("finish_reason")
        if reason is not None:
            self._stop_reason = openai_finish_reason_to_anthropic(reason)
            out.extend(self._close_block())
        return out

    def _text(self, text: str) -> list[SSEEvent]:
        out = [] if self._open_kind == "text" else self._open_block({"type": "text", "text": ""})
        out.append(self._block_delta({"type": "text_delta", "text": text}))
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[SSEEvent]:
        index = call.get("index", 0)
        call_id = call.get("id")
        function = _dict(call.get("function"))
        # Some OpenAI-compatible servers repeat the id on every fragment, others number
        # every call 0; a call is new when either its index or its id changes.
        continues = self._open_kind == "tool_use" and index == self._tool_index
        out: list[SSEEvent] = []
        if not continues or (call_id is not None and call_id != self._tool_id):
            name = function.get("name")
            if not (isinstance(name, str) and name):
                raise ValueError("an upstream tool call fragment does not belong to an open tool call")
            if not (isinstance(call_id, str) and call_id):
                # Some OpenAI-compatible servers omit tool-call ids; Anthropic clients need one.
                call_id = new_tool_use_id()
            out = self._open_block({"type": "tool_use", "id": call_id, "name": name, "input": {}})
            self._tool_index, self._tool_id = index, call_id
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

    def _open_block(self, block: dict[str, Any]) -> list[SSEEvent]:
        out = self._close_block()
        self._block_index += 1
        self._open_kind = block["type"]
        payload = {"type": "content_block_start", "index": self._block_index, "content_block": block}
        out.append(_anthropic_event(payload))
        return out

    def _block_delta(self, delta: dict[str, Any]) -> SSEEvent:
        return _anthropic_event({"type": "content_block_delta", "index": self._block_index, "delta": delta})

    def _close_block(self) -> list[SSEEvent]:
        if self._open_kind is None:
            return []
        self._open_kind = None
        self._tool_index = self._tool_id = None
        return [_anthropic_event({"type": "content_block_stop", "index": self._block_index})]

    def _done(self) -> list[SSEEvent]:
        out = [] if self._started else [self._message_start({})]
        out.extend(self._close_block())
        usage: dict[str, Any] = {"output_tokens": self._output_tokens or 0}
        if self._input_tokens is not None:
            # message_start had to say 0; Anthropic clients take the final count from here.
            usage["input_tokens"] = self._input_tokens
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        out.append(_anthropic_event({"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(_anthropic_event({"type": "message_stop"}))
        self._finished = True
        return out


class AnthropicToOpenAIStream:
    """Anthropic message stream events in, OpenAI ``chat.completion.chunk`` events out.

    ``include_usage`` mirrors the client's ``stream_options.include_usage``; ``created`` is
    the chunks' Unix timestamp, supplied by the caller to keep this class deterministic.
    """

    def __init__(self, include_usage: bool, *, created: int = 0) -> None:
        self._include_usage = include_usage
        self._created = created
        self._id = openai_completion_id(None)
        self._model = ""
        self._tool_ordinals: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._prompt_usage: dict[str, Any] = {}
        self._output_tokens: int | None = None
        self._finished = False

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def input_tokens(self) -> int | None:
        return anthropic_prompt_tokens(self._prompt_usage) if self._prompt_usage else None

    @property
    def output_tokens(self) -> int | None:
        return self._output_tokens

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if self._finished or not event.data.strip():
            return []
        payload = _decode(event)
        match payload.get("type") or event.event:
            case "message_start":
                return [self._message_start(_dict(payload.get("message")))]
            case "content_block_start":
                return self._block_start(payload)
            case "content_block_delta":
                return self._block_delta(payload)
            case "message_delta":
                return [self._message_delta(payload)]
            case "message_stop":
                return self._message_stop()
            case "error":
                return [self._error(_dict(payload.get("error")))]
            case _:
                # ping, content_block_stop and event types added later carry nothing to forward.
                return []

    def finish(self) -> list[SSEEvent]:
        # [DONE] went out with message_stop; a stream cut before it must not look complete.
        return []

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> SSEEvent:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return json_event(self._envelope([choice]))

    def _record_usage(self, usage: dict[str, Any]) -> None:
        # message_delta usage is cumulative and may restate or extend message_start's.
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            if _int_or_none(usage.get(key)) is not None:
                self._prompt_usage[key] = usage[key]
        if _int_or_none(usage.get("output_tokens")) is not None:
            self._output_tokens = usage["output_tokens"]

    def _message_start(self, message: dict[str, Any]) -> SSEEvent:
        self._id = openai_completion_id(message.get("id"))
        model = message.get("model")
        self._model = model if isinstance(model, str) else ""
        self._record_usage(_dict(message.get("usage")))
        return self._chunk({"role": "assistant", "content": ""})

    def _block_start(self, payload: dict[str, Any]) -> list[SSEEvent]:
        block = _dict(payload.get("content_block"))
        if block.get("type") != "tool_use":
            return []
        call_id, name = block.get("id"), block.get("name")
        if not (isinstance(call_id, str) and isinstance(name, str)):
            raise ValueError("an upstream tool_use block has no id or name")
        ordinal = len(self._tool_ordinals)
        self._tool_ordinals[payload.get("index", -1)] = ordinal
        call = {
            "index": ordinal,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, payload: dict[str, Any]) -> list[SSEEvent]:
        delta = _dict(payload.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        ordinal = self._tool_ordinals.get(payload.get("index", -1))
        if kind == "input_json_delta" and ordinal is not None and delta.get("partial_json"):
            call = {"index": ordinal, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        # Thinking, signature and citation deltas, and server-tool input, have no OpenAI form.
        return []

    def _message_delta(self, payload: dict[str, Any]) -> SSEEvent:
        self._record_usage(_dict(payload.get("usage")))
        reason = _dict(payload.get("delta")).get("stop_reason")
        return self._chunk({}, anthropic_stop_reason_to_openai(reason))

    def _message_stop(self) -> list[SSEEvent]:
        self._finished = True
        out = []
        if self._include_usage:
            prompt, completion = self.input_tokens or 0, self._output_tokens or 0
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
            out.append(json_event({**self._envelope([]), "usage": usage}))
        out.append(SSEEvent(data=_DONE))
        return out

    def _error(self, error: dict[str, Any]) -> SSEEvent:
        kind = error.get("type")
        body = {
            "message": _error_message(error),
            "type": kind if isinstance(kind, str) and kind else "api_error",
            "param": None,
            "code": None,
        }
        return json_event({"error": body})
