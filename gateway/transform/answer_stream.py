"""Stage 9 for streams: restore and guard the text inside client-format stream events.  Sans-I/O.

Wraps the events the relay is about to send (already in the client's wire format, after any
translation).  Each stream of text gets its own :class:`~gateway.transform.answer.Channel`; text a
channel holds back is released at the latest where that stream of text ends:

* chat and text completions: the chunk that carries the choice's ``finish_reason`` gets the
  held text appended to its delta (content, and each tool call's arguments);
* Anthropic messages: a ``content_block_delta`` with the held text is sent before ``content_block_stop``;
* Responses: a ``*.delta`` event with the held text is sent before the matching ``*.done`` event, whose
  full text is replaced by exactly what the deltas delivered.

Any other event carrying model text (a Responses ``output_item.done``, ``response.completed``) is
filtered whole.  Events without model text pass untouched.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.dialects.sse import SSEEvent, json_event
from gateway.transform.answer import AnswerFilter, Channel, filter_payload

_ANTHROPIC_DELTA_FIELD = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}
# Every other string in a chat delta is text the model wrote ("content", "reasoning_content", "refusal",
# or a field some provider adds); these are protocol.
_CHAT_PROTOCOL_FIELDS = frozenset({"role", "tool_calls", "function_call", "audio"})
_RESPONSES_DONE_FIELD = {"arguments": "arguments", "text": "text", "refusal": "refusal"}


class AnswerStream:
    def __init__(self, endpoint: str, answer: AnswerFilter) -> None:
        self._endpoint = endpoint
        self._answer = answer
        self._channels: dict[tuple[Any, ...], Channel] = {}
        self._kinds: dict[int, str] = {}  # Anthropic block index -> delta type
        self._emitted: dict[tuple[Any, ...], list[str]] = {}  # Responses: what each channel delivered
        self._skeleton: dict[str, Any] = {}  # chat: the last chunk's id, model, ... for a closing chunk
        self.response_id: str | None = None

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if event.data == "[DONE]":
            return [*self._close_chat(), event]
        if not event.data:
            return [event]
        try:
            payload = json.loads(event.data)
        except ValueError:
            return [event]
        if not isinstance(payload, dict):
            return [event]
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
        choices = payload.get("choices")
        if not isinstance(choices, list) or not choices:
            return event
        # Most events pass through unchanged; re-encoding them would cost more than the parse.
        changed = False
        for choice in choices:
            if isinstance(choice, dict):
                changed = self._chat_choice(choice) or changed
        return json_event(payload, event.event) if changed else event

    def _chat_choice(self, choice: dict[str, Any]) -> bool:
        """Filter one choice in place; whether anything in it changed."""
        n = choice.get("index", 0)
        changed = False
        if isinstance(choice.get("text"), str):  # text completions
            old = choice["text"]
            choice["text"] = self._channel((n, "text")).feed(old)
            changed = choice["text"] != old
        delta = choice.get("delta")
        if isinstance(delta, dict):
            for name, value in delta.items():
                if isinstance(value, str) and name not in _CHAT_PROTOCOL_FIELDS:
                    delta[name] = self._channel((n, name)).feed(value)
                    changed = changed or delta[name] != value
            for call in delta.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    key = (n, "tool", call.get("index", 0))
                    old = function["arguments"]
                    function["arguments"] = self._channel(key, json_text=True).feed(old)
                    changed = changed or function["arguments"] != old
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
                    return [json_event(payload, event.event)]
            return [event]
        if kind == "content_block_delta" and isinstance(index, int):
            delta = payload.get("delta") or {}
            name = _ANTHROPIC_DELTA_FIELD.get(str(delta.get("type")))
            if name is None or not isinstance(delta.get(name), str):
                return [event]
            channel = self._channel((index,), json_text=name == "partial_json")
            delta[name] = channel.feed(delta[name])
            return [json_event(payload, event.event)]
        if kind == "content_block_stop" and isinstance(index, int):
            held = self._flush((index,))
            if not held:
                return [event]
            delta_type = self._kinds.get(index, "text_delta")
            extra = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": delta_type, _ANTHROPIC_DELTA_FIELD[delta_type]: held},
            }
            return [json_event(extra, "content_block_delta"), event]
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            payload["message"] = filter_payload(payload["message"], self._answer)
            return [json_event(payload, event.event)]
        return [event]

    # -- Responses ----------------------------------------------------------------------------
    def _responses(self, event: SSEEvent, payload: dict[str, Any]) -> list[SSEEvent]:
        kind = payload.get("type") or event.event or ""
        if kind == "response.created" and isinstance(payload.get("response"), dict):
            rid = payload["response"].get("id")
            self.response_id = rid if isinstance(rid, str) else None
        base, _, phase = kind.rpartition(".")
        key = (base, payload.get("item_id"), payload.get("output_index"), payload.get("content_index"))
        if phase == "delta" and isinstance(payload.get("delta"), str):
            json_text = base.endswith("arguments")
            out = self._channel(key, json_text=json_text).feed(payload["delta"])
            self._emitted.setdefault(key, []).append(out)
            payload["delta"] = out
            return [json_event(payload, event.event)]
        if phase == "done" and (key in self._channels or key in self._emitted):
            events = []
            held = self._flush(key)
            delivered = self._emitted.pop(key, [])
            if held:
                extra = {k: v for k, v in payload.items() if k not in _RESPONSES_DONE_FIELD}
                extra["type"] = f"{base}.delta"
                extra["delta"] = held
                events.append(json_event(extra, extra["type"] if event.event else None))
                delivered.append(held)
            for name in _RESPONSES_DONE_FIELD:
                if isinstance(payload.get(name), str):
                    payload[name] = "".join(delivered)
            events.append(json_event(payload, event.event))
            return events
        if kind in ("error",):
            return [event]
        filtered = filter_payload(payload, self._answer)
        return [event if filtered == payload else json_event(filtered, event.event)]
