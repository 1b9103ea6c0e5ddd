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

from gateway.scan.segments import GROUPED_DIGITS, SECRET_HINT, number_text
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
# A lowercase hex part of 16+ characters holding a letter: a random id, whose digit runs mean nothing.
_HEX_PART = re.compile(r"(?<![A-Za-z0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{16,}(?![A-Za-z0-9])", re.ASCII)


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
        and GROUPED_DIGITS.search(_HEX_PART.sub("x", value)) is None
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

    def could_hold(self, text: str) -> bool:
        """Whether ``text`` could hold a value (the guard's cheap test), or a token to restore."""
        if self._worth is None or self._worth(text):
            return self._inspect is not None or self._strict is not None or bool(self._text)
        return any(token in text for token in self._text) if "<" in text else False

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
    """Every string, map key and long number in a whole answer (or a stream event's object) that is not
    a protocol value, filtered; log probabilities made to spell their filtered text."""
    return _walk(payload, answer, answer.text, json_text=json_text)


def filter_error(payload: Any, answer: AnswerFilter) -> Any:
    """A destination's error body: the same walk, every string read strictly (``error_text``)."""
    return _walk(payload, answer, lambda text, json_text=False: answer.error_text(text))


def _walk(payload: Any, answer: AnswerFilter, read: Any, *, json_text: bool = False, key: str = "") -> Any:
    if isinstance(payload, str):
        return read(payload, json_text=json_text)
    if isinstance(payload, bool) or payload is None:
        return payload
    if isinstance(payload, int | float):
        return _number(key, payload, read)
    if isinstance(payload, list):
        if key not in _NUMBER_ARRAYS and len(payload) > 1 and all(_is_number(v) for v in payload):
            return _numbers(payload, read)
        return [_walk(item, answer, read, json_text=json_text, key=key) for item in payload]
    if not isinstance(payload, dict):
        return payload
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if name in BINARY_KEYS and isinstance(value, str) and is_binary(value):
            new = value
        elif name in PROTOCOL_KEYS and isinstance(value, str):
            new = value if is_protocol(value) else _odd_protocol(value, read)
        elif name == "logprobs" and read == answer.text:
            continue  # below, once the text beside it is filtered
        else:
            new = _walk(value, answer, read, json_text=json_text or name in _JSON_TEXT_KEYS, key=name)
        out[_key(name, read, answer, out)] = new
    if "logprobs" in payload and read == answer.text:
        out[_key("logprobs", read, answer, out)] = _logprobs_beside(payload["logprobs"], out, answer)
    return out


def _key(name: str, read: Any, answer: AnswerFilter, taken: dict[str, Any]) -> str:
    """A map key, read when it could hold a value (an answer's keys are mostly field names)."""
    if not answer.could_hold(name):
        return name
    new = str(read(name))
    n = 2
    while new != name and new in taken:
        new = f"{new}#{n}"  # two keys that read alike must not overwrite each other
        n += 1
    return new


# Numbers the answer formats bound: a value of these within the bound passes (timestamps, indexes,
# token counts); any other number long enough to be a value is read as text, and replaced by what the
# reading leaves when it finds one.  Log probabilities are the logprobs module's.
_BOUNDS: Mapping[str, float] = {
    **dict.fromkeys(("created", "created_at", "completed_at", "expires_at"), 2**33),
    **dict.fromkeys(("index", "output_index", "content_index", "sequence_number", "item_index"), 10**9),
    **dict.fromkeys(
        """prompt_tokens completion_tokens total_tokens input_tokens output_tokens reasoning_tokens
        cached_tokens audio_tokens accepted_prediction_tokens rejected_prediction_tokens
        cache_creation_input_tokens cache_read_input_tokens web_search_requests""".split(),  # noqa: SIM905
        10**12,
    ),
}
# Arrays of numbers that are the answer itself (an embedding) or log probabilities' own columns.
_NUMBER_ARRAYS = frozenset({"embedding", "bytes", "text_offset", "token_logprobs"})


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def within_bounds(key: str, value: Any) -> bool:
    """A number the answer formats bound (a timestamp, an index, a token count), within its bound."""
    bound = _BOUNDS.get(key)
    return bound is not None and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < bound


def _number(key: str, value: int | float, read: Any) -> Any:
    if within_bounds(key, value):
        return value
    text = number_text(value)
    if text is None:
        return value
    found = read(text)
    return value if found == text else found


def _numbers(values: list[Any], read: Any) -> Any:
    """A list of numbers read as one text: several short numbers can spell one value."""
    text = " ".join(str(v) if isinstance(v, int) or v.is_integer() else repr(v) for v in values)
    if not any(c.isdigit() for c in text):
        return values
    found = read(text)
    return values if found == text else found


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


def _odd_protocol(value: str, read: Any) -> str:
    """A protocol field whose value has no protocol shape (a name, a number as a part of an id): read
    as text, and again with its separators as spaces, so that a value glued into it (``msg_DE89...``)
    stands as a word.
    Returned as it was when nothing is found.  (A protocol-shaped value is never rewritten: clients
    continue conversations by id.)"""
    found = str(read(value))
    if found != value:
        return found
    spaced = _SEPARATORS.sub(" ", value)
    found = str(read(spaced))
    return value if found == spaced else found


_SEPARATORS = re.compile(r"[_.:/+=-]", re.ASCII)
