"""Stage 9 for streams: restore and guard the text inside client-format stream events.  Sans-I/O.

Wraps the events the relay is about to send (already in the client's wire format, after any
translation).  Each stream of text gets its own :class:`~gateway.transform.answer.Channel`; text a
channel holds back is released at the latest where that stream of text ends:

* chat and text completions: the chunk that carries the choice's ``finish_reason`` gets the
  held text appended to its delta (content, and each tool call's arguments);
* Anthropic messages: a ``content_block_delta`` with the held text is sent before ``content_block_stop``;
* Responses: a ``*.delta`` event with the held text is sent before the matching ``*.done`` event, whose
  full text is replaced by exactly what the deltas delivered.

Every other string of every event -- unknown fields, unknown event types, the destination's error
events -- is read whole (:func:`~gateway.transform.answer.filter_payload`; error events strictly,
:func:`~gateway.transform.answer.filter_error`); only protocol values of a protocol shape pass unread.
Log probabilities are made to spell exactly the text delivered beside them
(:mod:`gateway.transform.logprobs`).  An event whose data is not JSON cannot be read, so it is dropped
and counted (:attr:`AnswerStream.dropped`), never relayed; no event that parses is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.dialects.sse import SSEEvent, json_event
from gateway.transform import logprobs
from gateway.transform.answer import (
    AnswerFilter,
    Channel,
    filter_error,
    filter_payload,
    is_binary,
    is_protocol,
    within_bounds,
)

_ANTHROPIC_DELTA_FIELD = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}
# Every other string in a chat delta is text the model wrote ("content", "reasoning_content", "refusal",
# or a field some provider adds); these are protocol.
_CHAT_PROTOCOL_FIELDS = frozenset({"role", "tool_calls", "function_call", "audio"})
# A chunk's and a choice's fields handled field by field; any other is read whole.
_CHUNK_FIELDS = frozenset(
    {"id", "object", "created", "model", "system_fingerprint", "service_tier", "choices"}
)
_CHOICE_FIELDS = frozenset({"index", "delta", "text", "finish_reason", "logprobs"})
_DELTA_FIELDS = frozenset({"role", "content", "refusal", "reasoning_content", "tool_calls", "function_call"})
_DELTA_TEXT_LOGPROBS = ("content", "refusal")
_RESPONSES_DONE_FIELD = {"arguments": "arguments", "text": "text", "refusal": "refusal"}


# The stream events of the pinned SDKs, each read field by field (text channels) or whole; an event
# type not listed is read whole too, and none is dropped.  tests/transform/test_answer_census.py fails
# when an SDK version adds a type, so that someone decides how it is read.
ANTHROPIC_EVENTS: Mapping[str, str] = {
    "message_start": "whole",
    "content_block_start": "fields",  # text and thinking blocks open a channel; other blocks whole
    "content_block_delta": "fields",
    "content_block_stop": "fields",  # releases what the block's channel held
    "message_delta": "whole",
    "message_stop": "whole",
    "ping": "whole",
    "error": "error",
}
ANTHROPIC_DELTAS: Mapping[str, str] = {
    "text_delta": "fields",
    "thinking_delta": "fields",
    "input_json_delta": "fields",
    "signature_delta": "whole",
    "citations_delta": "whole",
}


ANTHROPIC_BLOCKS: Mapping[str, str] = {
    "text": "fields",
    "thinking": "fields",
    **dict.fromkeys(
        """tool_use server_tool_use redacted_thinking web_search_tool_result web_fetch_tool_result
        code_execution_tool_result bash_code_execution_tool_result text_editor_code_execution_tool_result
        tool_search_tool_result container_upload""".split(),  # noqa: SIM905
        "whole",
    ),
}
RESPONSES_EVENTS: frozenset[str] = frozenset(
    """error response.audio.delta response.audio.done response.audio.transcript.delta
    response.audio.transcript.done response.code_interpreter_call.completed
    response.code_interpreter_call.in_progress response.code_interpreter_call.interpreting
    response.code_interpreter_call_code.delta response.code_interpreter_call_code.done
    response.compaction.compacting response.completed response.content_part.added
    response.content_part.done response.created response.custom_tool_call_input.delta
    response.custom_tool_call_input.done response.failed response.file_search_call.completed
    response.file_search_call.in_progress response.file_search_call.searching
    response.function_call_arguments.delta response.function_call_arguments.done
    response.image_generation_call.completed response.image_generation_call.generating
    response.image_generation_call.in_progress response.image_generation_call.partial_image
    response.in_progress response.incomplete response.mcp_call.completed response.mcp_call.failed
    response.mcp_call.in_progress response.mcp_call_arguments.delta response.mcp_call_arguments.done
    response.mcp_list_tools.completed response.mcp_list_tools.failed response.mcp_list_tools.in_progress
    response.output_item.added response.output_item.done response.output_text.annotation.added
    response.output_text.delta response.output_text.done response.queued
    response.reasoning_summary_part.added response.reasoning_summary_part.done
    response.reasoning_summary_text.delta response.reasoning_summary_text.done
    response.reasoning_text.delta response.reasoning_text.done response.refusal.delta
    response.refusal.done response.shell_call_command.added response.shell_call_command.delta
    response.shell_call_command.done response.shell_call_output_content.delta
    response.shell_call_output_content.done response.web_search_call.completed
    response.web_search_call.in_progress response.web_search_call.searching""".split()  # noqa: SIM905
)


def responses_treatment(kind: str) -> str:
    """How a Responses stream event is read: ``fields`` (``*.delta`` text into a channel, ``*.done``
    replaced by what the channel delivered), ``error`` (strictly), else ``whole``."""
    if kind in ("error", "response.failed"):
        return "error"
    if kind.endswith((".delta", ".done")):
        return "fields"
    return "whole"


class AnswerStream:
    def __init__(self, endpoint: str, answer: AnswerFilter) -> None:
        self._endpoint = endpoint
        self._answer = answer
        self._channels: dict[tuple[Any, ...], Channel] = {}
        self._kinds: dict[int, str] = {}  # Anthropic block index -> delta type
        self._emitted: dict[tuple[Any, ...], list[str]] = {}  # Responses: what each channel delivered
        self._skeleton: dict[str, Any] = {}  # chat: the last chunk's id, model, ... for a closing chunk
        self.response_id: str | None = None
        self.dropped = 0  # events whose data could not be read, so were not relayed
        self._protocol_values: set[str] = set()
        self._head: list[tuple[str, Any]] = []  # the last chat chunk head found clean

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if event.data == "[DONE]":
            return [*self._close_chat(), event]
        if not event.data:
            return [event]
        try:
            payload = json.loads(event.data)
        except ValueError:
            self.dropped += 1
            return []
        if not isinstance(payload, dict):
            filtered = filter_payload(payload, self._answer)
            return [event if filtered == payload else json_event(filtered, event.event)]
        if "error" in payload and payload.get("type") in (None, "error"):
            return [json_event(filter_error(payload, self._answer), event.event)]
        if self._endpoint in ("chat.completions", "completions"):
            return [self._chat(event, payload)]
        if self._endpoint == "messages":
            return self._anthropic(event, payload)
        if self._endpoint == "responses":
            return self._responses(event, payload)
        return [event]

    def _channel(self, key: tuple[Any, ...], *, json_text: bool = False) -> Channel:
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = self._answer.channel(json_text=json_text)
        return channel

    def _flush(self, key: tuple[Any, ...]) -> str:
        channel = self._channels.pop(key, None)
        return channel.flush() if channel is not None else ""

    # -- chat and text completions ------------------------------------------------------------
    def _close_chat(self) -> list[SSEEvent]:
        """Text still held when a stream ends without a ``finish_reason`` goes out in one last chunk."""
        choices: dict[Any, dict[str, Any]] = {}
        for key in list(self._channels):
            held = self._flush(key)
            if not held:
                continue
            choice = choices.setdefault(key[0], {"index": key[0], "finish_reason": None})
            if key[1] == "text":
                choice["text"] = held
            elif key[1] == "tool":
                delta = choice.setdefault("delta", {})
                delta.setdefault("tool_calls", []).append({"index": key[2], "function": {"arguments": held}})
            else:
                choice.setdefault("delta", {})[key[1]] = held
        if not choices:
            return []
        return [json_event({**self._skeleton, "choices": list(choices.values())})]

    def _chat(self, event: SSEEvent, payload: dict[str, Any]) -> SSEEvent:
        self._skeleton = {k: payload[k] for k in ("id", "object", "created", "model") if k in payload}
        # Most events pass through unchanged; re-encoding them would cost more than the parse.  A
        # stream repeats the same head (id, model, created, ...) in every chunk: read it once.
        head = [(k, v) for k, v in payload.items() if k != "choices"]
        changed = False
        if head != self._head:
            changed = self._read_rest(payload, _CHUNK_FIELDS)
            if not changed:
                self._head = head
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices:
            return json_event(payload, event.event) if changed else event
        for i, choice in enumerate(choices):
            if isinstance(choice, dict):
                changed = self._chat_choice(choice) or changed
            else:
                choices[i] = filter_payload(choice, self._answer)
                changed = changed or choices[i] != choice
        return json_event(payload, event.event) if changed else event

    def _read_rest(self, obj: dict[str, Any], known: frozenset[str]) -> bool:
        """Read whole every field of ``obj`` not in ``known``, protocol fields of an odd shape, and
        numbers beyond their bound.  Most chunks need none of it: they are only looked at."""
        todo = None
        for key, value in obj.items():
            if key in known:
                kind = type(value)
                if value is None or kind is dict or kind is list or kind is bool:
                    continue
                if kind is str:
                    if key == "text" or value in self._protocol_values or self._protocol(value):
                        continue
                elif within_bounds(key, value):
                    continue
            todo = todo or set()
            todo.add(key)
        if not todo:
            return False
        out: dict[str, Any] = {}
        changed = False
        for key, value in obj.items():
            if key not in todo:
                out[key] = value
                continue
            filtered = filter_payload({key: value}, self._answer)  # the key is read too
            changed = changed or filtered != {key: value}
            out.update(filtered)
        if changed:
            obj.clear()
            obj.update(out)
        return changed

    def _protocol(self, value: str) -> bool:
        """``is_protocol``, remembered: a stream repeats its id and model name in every chunk."""
        if value in self._protocol_values:
            return True
        if is_protocol(value):
            if len(self._protocol_values) < 64:
                self._protocol_values.add(value)
            return True
        return False

    def _chat_choice(self, choice: dict[str, Any]) -> bool:
        """Filter one choice in place; whether anything in it changed."""
        index, finish = choice.get("index", 0), choice.get("finish_reason")
        plain = (
            choice.keys() <= _CHOICE_FIELDS
            and type(index) is int
            and 0 <= index < 1000
            and (finish is None or (type(finish) is str and self._protocol(finish)))
            and choice.get("logprobs") is None
        )
        changed = False if plain else self._read_rest(choice, _CHOICE_FIELDS)
        n = choice.get("index", 0)  # as read: it keys the choice's channels, and a closing chunk repeats it
        delivered: dict[str, str] = {}
        if isinstance(choice.get("text"), str):  # text completions
            old = choice["text"]
            choice["text"] = delivered["text"] = self._channel((n, "text")).feed(old)
            changed = changed or choice["text"] != old
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for name, value in delta.items():
                if isinstance(value, str) and name not in _CHAT_PROTOCOL_FIELDS:
                    delta[name] = delivered[name] = self._channel((n, name)).feed(value)
                    changed = changed or delta[name] != value
                elif name != "tool_calls" and value is not None and not isinstance(value, str):
                    filtered = filter_payload(value, self._answer)
                    changed = changed or filtered != value
                    delta[name] = filtered
                elif isinstance(value, str) and not is_protocol(value):
                    delta[name] = filter_payload({name: value}, self._answer)[name]
                    changed = changed or delta[name] != value
            for call in delta.get("tool_calls") or ():
                if not isinstance(call, dict):
                    continue
                function = call.get("function")
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    key = (n, "tool", call.get("index", 0))
                    old = function["arguments"]
                    function["arguments"] = self._channel(key, json_text=True).feed(old)
                    changed = changed or function["arguments"] != old
                rest = {k: v for k, v in call.items() if k != "function"}
                if isinstance(function, dict):
                    rest["function"] = {k: v for k, v in function.items() if k != "arguments"}
                filtered = filter_payload(rest, self._answer)
                if filtered != rest:
                    changed = True
                    arguments = function.get("arguments") if isinstance(function, dict) else None
                    call.clear()
                    call.update(filtered)
                    if arguments is not None:
                        call.setdefault("function", {})["arguments"] = arguments
        if (
            isinstance(delta, dict)
            and not delta.keys() <= _DELTA_FIELDS
            and any(self._answer.could_hold(name) for name in delta)
        ):
            renamed = {self._answer.text(n) if self._answer.could_hold(n) else n: v for n, v in delta.items()}
            if list(renamed) != list(delta):
                changed = True
                delta.clear()
                delta.update(renamed)
        if "logprobs" in choice:
            changed = self._chat_logprobs(choice, delivered) or changed
        if choice.get("finish_reason") is None:
            return changed
        for key in [k for k in self._channels if k[0] == n]:
            held = self._flush(key)
            if not held:
                continue
            changed = True
            if key[1] == "text":
                choice["text"] = (choice.get("text") or "") + held
                continue
            delta = choice.setdefault("delta", {})
            if key[1] == "tool":
                calls = delta.setdefault("tool_calls", [])
                calls.append({"index": key[2], "function": {"arguments": held}})
            else:
                delta[key[1]] = (delta.get(key[1]) or "") + held
        return changed

    def _chat_logprobs(self, choice: dict[str, Any], delivered: dict[str, str]) -> bool:
        """The choice's log probabilities spell exactly what this chunk delivers."""
        old = choice["logprobs"]
        if old is None:
            return False
        read = self._answer.reread
        if isinstance(old, dict) and "tokens" in old:  # text completions
            new: Any = logprobs.align_completions(old, delivered.get("text", ""), read)
        elif isinstance(old, dict):
            new = {
                key: logprobs.align(value, delivered.get(key, ""), read)
                if key in _DELTA_TEXT_LOGPROBS and value is not None
                else filter_payload(value, self._answer)
                for key, value in old.items()
            }
        else:
            new = None
        choice["logprobs"] = new
        return bool(new != old)

    # -- Anthropic messages -------------------------------------------------------------------
    def _anthropic(self, event: SSEEvent, payload: dict[str, Any]) -> list[SSEEvent]:
        kind = payload.get("type")
        index = payload.get("index")
        if kind == "content_block_start" and isinstance(index, int):
            block = payload.get("content_block") or {}
            self._kinds[index] = {"tool_use": "input_json_delta", "thinking": "thinking_delta"}.get(
                str(block.get("type")), "text_delta"
            )
            if block.get("type") in ("text", "thinking"):
                field = "text" if block.get("type") == "text" else "thinking"
                if block.get(field):
                    block[field] = self._channel((index,)).feed(block[field])
                    rest = {k: v for k, v in payload.items() if k != "content_block"}
                    rest["content_block"] = {k: v for k, v in block.items() if k != field}
                    filtered = filter_payload(rest, self._answer)
                    filtered["content_block"][field] = block[field]
                    return [json_event(filtered, event.event)]
            return self._whole(event, payload)
        if kind == "content_block_delta" and isinstance(index, int):
            delta = payload.get("delta") or {}
            name = _ANTHROPIC_DELTA_FIELD.get(str(delta.get("type")))
            if name is None or not isinstance(delta.get(name), str):
                return self._whole(event, payload)  # signature_delta, citations_delta, newer kinds
            channel = self._channel((index,), json_text=name == "partial_json")
            text = channel.feed(delta[name])
            if set(payload) - {"type", "index", "delta"} or set(delta) - {"type", name}:
                rest = filter_payload({**payload, "delta": {**delta, name: ""}}, self._answer)
                rest["delta"][name] = text
                return [json_event(rest, event.event)]
            delta[name] = text
            return [json_event(payload, event.event)]
        if kind == "content_block_stop" and isinstance(index, int):
            held = self._flush((index,))
            stop = self._whole(event, payload)
            if not held:
                return stop
            delta_type = self._kinds.get(index, "text_delta")
            extra = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": delta_type, _ANTHROPIC_DELTA_FIELD[delta_type]: held},
            }
            return [json_event(extra, "content_block_delta"), *stop]
        return self._whole(event, payload)

    def _whole(self, event: SSEEvent, payload: dict[str, Any]) -> list[SSEEvent]:
        """An event read whole: re-encoded only when something in it changed."""
        filtered = filter_payload(payload, self._answer)
        return [event if filtered == payload else json_event(filtered, event.event)]

    # -- Responses ----------------------------------------------------------------------------
    def _responses(self, event: SSEEvent, payload: dict[str, Any]) -> list[SSEEvent]:
        kind = payload.get("type") or event.event or ""
        if kind == "response.created" and isinstance(payload.get("response"), dict):
            rid = payload["response"].get("id")
            self.response_id = rid if isinstance(rid, str) else None
        base, _, phase = kind.rpartition(".")
        key = (base, payload.get("item_id"), payload.get("output_index"), payload.get("content_index"))
        audio = base == "response.audio" and is_binary(str(payload.get("delta")))  # base64 audio, not text
        if phase == "delta" and isinstance(payload.get("delta"), str) and not audio:
            json_text = base.endswith("arguments")
            out = self._channel(key, json_text=json_text).feed(payload["delta"])
            self._emitted.setdefault(key, []).append(out)
            rest = {k: v for k, v in payload.items() if k not in ("delta", "logprobs")}
            filtered = filter_payload(rest, self._answer)
            filtered["delta"] = out
            if "logprobs" in payload:
                filtered["logprobs"] = logprobs.align(payload["logprobs"], out, self._answer.reread)
            return [json_event(filtered, event.event)]
        if phase == "done" and (key in self._channels or key in self._emitted):
            events = []
            held = self._flush(key)
            delivered = self._emitted.pop(key, [])
            # Everything but the text the deltas delivered (and its log probabilities) is read whole.
            rest = filter_payload(
                {k: v for k, v in payload.items() if k not in _RESPONSES_DONE_FIELD and k != "logprobs"},
                self._answer,
            )
            if held:
                extra = {**rest, "type": f"{base}.delta", "delta": held}
                events.append(json_event(extra, extra["type"] if event.event else None))
                delivered.append(held)
            text = "".join(delivered)
            for name in _RESPONSES_DONE_FIELD:
                if isinstance(payload.get(name), str):
                    rest[name] = text
            if "logprobs" in payload:
                rest["logprobs"] = logprobs.align(payload["logprobs"], text, self._answer.reread)
            events.append(json_event({k: rest[k] for k in payload if k in rest}, event.event))
            return events
        if kind in ("error", "response.failed"):
            return [json_event(filter_error(payload, self._answer), event.event)]
        return self._whole(event, payload)
