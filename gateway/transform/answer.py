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
import re
from collections.abc import Mapping
from typing import Any

from gateway.scan.segments import SECRET_HINT
from gateway.transform import logprobs
from gateway.transform.answer_guard import AnswerGuard, Inspect, Worth
from gateway.transform.restore import Restorer, restore_text

# Keys of an answer that hold protocol values.  A string under one passes unread only while it has a
# protocol value's shape (:func:`is_protocol`); anything else under them, and every string under any
# other key (model text, unknown fields, unknown events), is read by the guard.
PROTOCOL_KEYS = frozenset(
    {
        "id", "object", "model", "type", "role", "finish_reason", "stop_reason", "system_fingerprint",
        "status", "call_id", "item_id", "tool_use_id", "name", "created", "created_at", "service_tier",
        "signature", "index", "previous_response_id", "event_id", "response_id", "output_index",
        "content_index", "sequence_number", "encrypted_content", "container_id", "file_id",
    }
)  # fmt: skip
# A protocol value: an identifier, an enum word, a model name or a base64 signature.  No spaces, no
# "@", no part of digits alone long enough for a card or phone number ("chatcmpl-4111..."; hex ids mix
# digits and letters in one part, "resp_67ccd2bed1ec8190b14f964abc05426..."), nothing shaped like a
# well-known key.
_PROTOCOL_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+=-]*", re.ASCII)
_PARTS = re.compile(r"[^._:/+=-]+", re.ASCII)
_LONG_DIGITS = re.compile(r"[0-9]{9,}", re.ASCII)
_HEX_WITH_LETTERS = re.compile(r"(?=[0-9a-f]*[a-f])[0-9a-f]+", re.ASCII)


# Keys of encoded media in answers (generated images, audio): a base64 payload under them is binary, not
# text, and passes unread (as media payloads in requests are unscannable); anything else there is read.
BINARY_KEYS = frozenset({"b64_json", "partial_image_b64", "result", "data"})
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{64,}={0,2}", re.ASCII)


def is_binary(value: str) -> bool:
    return _BASE64.fullmatch(value) is not None


def is_protocol(value: str) -> bool:
    return (
        _PROTOCOL_VALUE.fullmatch(value) is not None
        and SECRET_HINT.search(value) is None
        and not any(
            _LONG_DIGITS.search(part) and not _HEX_WITH_LETTERS.fullmatch(part)
            for part in _PARTS.findall(value)
        )
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
    """``inspect`` finds the values in answer text that the user did not send; ``strict`` (for the
    destination's error messages) finds every value, the user's own included: an error is never a way
    to echo the prompt back.  Pseudonym tokens are restored in both."""

    def __init__(
        self,
        mapping: Mapping[str, str],
        inspect: Inspect | None,
        worth: Worth | None = None,
        strict: Inspect | None = None,
    ) -> None:
        self._worth = worth
        self._text = dict(mapping)
        self._json = {token: json.dumps(value, ensure_ascii=False)[1:-1] for token, value in mapping.items()}
        self._inspect = inspect
        self._strict = strict
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

    def text(self, text: str, *, json_text: bool = False, count: bool = True) -> str:
        """``count``: whether values replaced here are the answer's own (not a repeat of text already
        counted, such as the tokens of its log probabilities)."""
        restored = restore_text(text, self._json if json_text else self._text)
        if self._inspect is None:
            return restored
        guard = AnswerGuard(self._inspect, self._worth)
        out = guard.feed(restored) + guard.flush()
        if count:
            self._whole_replaced += guard.replaced
        return out

    def reread(self, text: str) -> str:
        """Text already counted elsewhere (log-probability tokens), filtered the same way."""
        return self.text(text, count=False)

    def error_text(self, text: str) -> str:
        """A destination's error message: every value found replaced (the user's own too), then the
        request's pseudonym tokens restored."""
        if self._strict is not None:
            guard = AnswerGuard(self._strict, None)
            text = guard.feed(text) + guard.flush()
            self._whole_replaced += guard.replaced
        return restore_text(text, self._text)


def filter_payload(payload: Any, answer: AnswerFilter, *, json_text: bool = False) -> Any:
    """Every string in a whole answer (or a stream event's object) that is not a protocol value,
    filtered; log probabilities made to spell their filtered text."""
    if isinstance(payload, str):
        return answer.text(payload, json_text=json_text)
    if isinstance(payload, list):
        return [filter_payload(item, answer, json_text=json_text) for item in payload]
    if isinstance(payload, dict):
        out: dict[str, Any] = {}
        for key, value in payload.items():
            if key in BINARY_KEYS and isinstance(value, str) and is_binary(value):
                out[key] = value
            elif key in PROTOCOL_KEYS and (not isinstance(value, str) or is_protocol(value)):
                out[key] = value if not isinstance(value, dict | list) else filter_payload(value, answer)
            elif key in PROTOCOL_KEYS:
                out[key] = _odd_protocol(value, answer)
            elif key == "logprobs":
                continue  # below, once the text beside it is filtered
            else:
                out[key] = filter_payload(value, answer, json_text=json_text or key in _JSON_TEXT_KEYS)
        if "logprobs" in payload:
            out["logprobs"] = _logprobs_beside(payload["logprobs"], out, answer)
        return {key: out[key] for key in payload}
    return payload


def _logprobs_beside(value: Any, siblings: dict[str, Any], answer: AnswerFilter) -> Any:
    """Log probabilities made to spell the filtered text they sit beside: a choice's ``message``
    (chat), its ``text`` (completions) or a content part's ``text`` (Responses); with no such text,
    their own text filtered."""
    read = answer.reread
    text = siblings.get("text")
    message = siblings.get("message")
    if isinstance(value, dict) and "tokens" in value and isinstance(text, str):
        return logprobs.align_completions(value, text, read)
    if isinstance(value, list) and isinstance(text, str):
        return logprobs.align(value, text, read)
    if isinstance(value, dict) and isinstance(message, dict):
        return {
            key: logprobs.align(entries, str(message.get(key) or ""), read)
            if key in ("content", "refusal") and entries is not None
            else filter_payload(entries, answer)
            for key, entries in value.items()
        }
    return logprobs.filter_whole(value, read)


def _odd_protocol(value: str, answer: AnswerFilter) -> str:
    """A protocol field whose value has no protocol shape (a name, a number as a part of an id): read
    as text, and again with its separators as spaces, so that a value glued into it (``msg_DE89...``)
    stands as a word.
    Returned as it was when nothing is found.  (A protocol-shaped value is never rewritten: clients
    continue conversations by id.)"""
    read = answer.text(value)
    if read != value:
        return read
    spaced = _SEPARATORS.sub(" ", value)
    read = answer.text(spaced)
    return value if read == spaced else read


_SEPARATORS = re.compile(r"[_.:/+=-]", re.ASCII)


def filter_error(payload: Any, answer: AnswerFilter) -> Any:
    """A destination's error body: every string but protocol values read strictly (``error_text``)."""
    if isinstance(payload, str):
        return answer.error_text(payload)
    if isinstance(payload, list):
        return [filter_error(item, answer) for item in payload]
    if isinstance(payload, dict):
        return {
            key: value
            if key in PROTOCOL_KEYS and isinstance(value, str) and is_protocol(value)
            else filter_error(value, answer)
            for key, value in payload.items()
        }
    return payload
