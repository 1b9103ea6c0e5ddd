"""A census of the answer side: every response and stream-event type of the pinned ``openai`` and
``anthropic`` SDKs is read field by field or whole, and a new one fails here until someone decides.

At run time an event type nobody listed is read whole (never relayed unread, never dropped); the census
makes the decision a reviewed one.  Protocol fields -- the few whose values pass unread while they have
a protocol value's shape -- are held to what the SDKs declare them as.
"""

from __future__ import annotations

import typing
from typing import Any

import anthropic.types as at
import openai.types as ot
import openai.types.chat as oc
import openai.types.responses as orr
import pydantic

from gateway.transform.answer import PROTOCOL_KEYS
from gateway.transform.answer_stream import (
    ANTHROPIC_BLOCKS,
    ANTHROPIC_DELTAS,
    ANTHROPIC_EVENTS,
    RESPONSES_EVENTS,
    responses_treatment,
)

RESPONSE_MODELS: list[Any] = [
    oc.ChatCompletion, oc.ChatCompletionChunk, ot.Completion, ot.CreateEmbeddingResponse, orr.Response,
    orr.ResponseStreamEvent, at.Message, at.RawMessageStreamEvent, at.MessageTokensCount,
]  # fmt: skip


def _models(root: Any) -> list[type[pydantic.BaseModel]]:
    out: list[type[pydantic.BaseModel]] = []
    seen: set[int] = set()
    todo = [root]
    while todo:
        tp = todo.pop()
        if id(tp) in seen:
            continue
        seen.add(id(tp))
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            out.append(tp)
            todo.extend(f.annotation for f in tp.model_fields.values())
        else:
            todo.extend(typing.get_args(tp))
    return out


def _type_literals(union: Any) -> set[str]:
    """The ``type`` literals of the members of a (possibly annotated) union of models."""
    found: set[str] = set()
    todo = [union]
    while todo:
        tp = todo.pop()
        if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
            annotation = tp.model_fields["type"].annotation if "type" in tp.model_fields else None
            found.update(a for a in typing.get_args(annotation) if isinstance(a, str))
        else:
            todo.extend(typing.get_args(tp))
    return found


def test_every_anthropic_stream_event_type_is_classified() -> None:
    events = {
        a
        for m in _models(at.RawMessageStreamEvent)
        if m.__name__.startswith("Raw") and m.__name__.endswith("Event")
        for a in typing.get_args(m.model_fields["type"].annotation)
    }
    assert events - set(ANTHROPIC_EVENTS) == set(), "new Anthropic stream events: classify them"
    deltas = _type_literals(at.RawContentBlockDeltaEvent.model_fields["delta"].annotation)
    assert deltas - set(ANTHROPIC_DELTAS) == set(), "new Anthropic deltas: classify them"
    blocks = _type_literals(at.RawContentBlockStartEvent.model_fields["content_block"].annotation)
    assert blocks - set(ANTHROPIC_BLOCKS) == set(), "new Anthropic content blocks: classify them"


def test_every_responses_stream_event_type_is_classified() -> None:
    events = {
        a
        for m in _models(orr.ResponseStreamEvent)
        if m.__name__.endswith("Event") and "type" in m.model_fields
        for a in typing.get_args(m.model_fields["type"].annotation)
        if isinstance(a, str) and (a == "error" or a.startswith("response."))
    }
    assert events - RESPONSES_EVENTS == set(), "new Responses stream events: classify them"
    assert {responses_treatment(e) for e in events} == {"fields", "whole", "error"}


# Protocol fields the SDKs type as free ``str``: their values pass unread only with a protocol value's
# shape (an id, a model name, a base64 signature: ``answer.is_protocol``).  A new one is reviewed here.
PROTOCOL_STRINGS = {
    "id", "object", "model", "name", "call_id", "item_id", "tool_use_id", "system_fingerprint",
    "signature", "previous_response_id", "encrypted_content", "container_id", "file_id", "type",
    "status", "role", "service_tier", "finish_reason", "stop_reason", "response_id", "event_id",
}  # fmt: skip


def test_protocol_fields_are_ids_enums_or_numbers_in_every_sdk_model() -> None:
    strings: set[str] = set()
    for root in RESPONSE_MODELS:
        for model in _models(root):
            for name, field in model.model_fields.items():
                if name in PROTOCOL_KEYS and str in _leaf_types(field.annotation):
                    strings.add(name)
    assert strings <= PROTOCOL_STRINGS, strings - PROTOCOL_STRINGS


def _leaf_types(annotation: Any) -> set[Any]:
    out: set[Any] = set()
    todo = [annotation]
    while todo:
        tp = todo.pop()
        if typing.get_origin(tp) is typing.Literal:
            continue
        args = typing.get_args(tp)
        if args:
            todo.extend(args)
        else:
            out.add(tp)
    return out
