"""Stage 9: the answer side of one request, whole or streamed, in the client's wire format.

Two things happen to every piece of answer text, in this order:

1. restore: the request's pseudonym tokens become the user's values again
   (:class:`~gateway.transform.restore.Restorer`);
2. guard: values the answer contains that the user did not send are handled as the policy's
   ``applies_to: response`` rules say, redacted by default
   (:class:`~gateway.transform.answer_guard.AnswerGuard`).

Text is restored as text; tool-call arguments are JSON text, so there the values are put back
JSON-escaped and the arguments stay valid JSON.  :class:`AnswerFilter` holds both maps and makes one
:class:`Channel` per stream of text (a choice's content, one tool call's arguments, one content
block); :func:`filter_payload` walks a whole answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gateway.transform.answer_guard import AnswerGuard, Inspect, Worth
from gateway.transform.restore import Restorer, restore_text

# Keys of an answer that hold protocol values, never model text.
_PROTOCOL_KEYS = frozenset(
    {
        "id",
        "object",
        "model",
        "type",
        "role",
        "finish_reason",
        "stop_reason",
        "stop_sequence",
        "system_fingerprint",
        "status",
        "call_id",
        "item_id",
        "tool_use_id",
        "name",
        "usage",
        "created",
        "created_at",
        "service_tier",
        "logprobs",
        "signature",
        "index",
        "previous_response_id",
    }
)
_JSON_TEXT_KEYS = frozenset({"arguments", "partial_json"})


class Channel:
    """One stream of answer text: restore, then guard, with both hold-backs."""

    __slots__ = ("_guard", "_restorer")

    def __init__(self, restorer: Restorer, guard: AnswerGuard | None) -> None:
        self._restorer = restorer
        self._guard = guard

    def feed(self, text: str) -> str:
        restored = self._restorer.feed(text)
        return self._guard.feed(restored) if self._guard is not None else restored

    def flush(self) -> str:
        restored = self._restorer.flush()
        if self._guard is None:
            return restored
        return self._guard.feed(restored) + self._guard.flush()

    @property
    def replaced(self) -> int:
        return self._guard.replaced if self._guard is not None else 0


class AnswerFilter:
    def __init__(
        self, mapping: Mapping[str, str], inspect: Inspect | None, worth: Worth | None = None
    ) -> None:
        self._worth = worth
        self._text = dict(mapping)
        self._json = {token: json.dumps(value, ensure_ascii=False)[1:-1] for token, value in mapping.items()}
        self._inspect = inspect
        self._channels: list[Channel] = []
        self._whole_replaced = 0

    @property
    def active(self) -> bool:
        return bool(self._text) or self._inspect is not None

    @property
    def replaced(self) -> int:
        """Values the guard replaced in this answer."""
        return self._whole_replaced + sum(c.replaced for c in self._channels)

    def channel(self, *, json_text: bool = False) -> Channel:
        guard = AnswerGuard(self._inspect, self._worth) if self._inspect is not None else None
        channel = Channel(Restorer(self._json if json_text else self._text), guard)
        self._channels.append(channel)
        return channel

    def text(self, text: str, *, json_text: bool = False) -> str:
        restored = restore_text(text, self._json if json_text else self._text)
        if self._inspect is None:
            return restored
        guard = AnswerGuard(self._inspect, self._worth)
        out = guard.feed(restored) + guard.flush()
        self._whole_replaced += guard.replaced
        return out


def filter_payload(payload: Any, answer: AnswerFilter, *, json_text: bool = False) -> Any:
    """Every model-text string in a whole answer (or a stream event's object), filtered."""
    if isinstance(payload, str):
        return answer.text(payload, json_text=json_text)
    if isinstance(payload, list):
        return [filter_payload(item, answer, json_text=json_text) for item in payload]
    if isinstance(payload, dict):
        out: dict[str, Any] = {}
        for key, value in payload.items():
            if key in _PROTOCOL_KEYS:
                out[key] = value
            else:
                out[key] = filter_payload(value, answer, json_text=json_text or key in _JSON_TEXT_KEYS)
        return out
    return payload
