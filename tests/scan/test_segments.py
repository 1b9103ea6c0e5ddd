"""Segment extraction: every string of every request body is scanned or listed as unscannable.

The corpus in ``requests/`` holds real-shaped bodies, one per file named ``<endpoint>--<case>.json``;
``test_corpus_matches_the_sdk_types`` checks them against the official SDKs' param TypedDicts.
"""

from __future__ import annotations

import base64
import collections.abc
import copy
import json
import random
import re
import time
import timeit
import tracemalloc
import typing
from collections.abc import Iterator
from pathlib import Path
from types import GenericAlias
from typing import Any

import pytest

from gateway.scan import segments
from gateway.scan.segments import (
    FIELD_NAMES,
    SCHEMA_STRUCTURAL_KEYS,
    STRUCTURAL_KEYS,
    Extracted,
    ExtractionLimit,
    Segment,
    Unscannable,
    extract,
)

CORPUS = sorted((Path(__file__).parent / "requests").glob("*.json"))
ENDPOINTS = {
    "chat.completions",
    "completions",
    "embeddings",
    "responses",
    "messages",
    "messages.count_tokens",
}
SKIPPED_KEYS = STRUCTURAL_KEYS | SCHEMA_STRUCTURAL_KEYS
IDENTIFIER = re.compile(r"[\w.:/#$+-]{1,128}", re.ASCII)
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def load(path: Path) -> tuple[str, dict[str, Any]]:
    return path.name.split("--")[0], json.loads(path.read_text())


def corpus(name: str) -> tuple[str, dict[str, Any]]:
    return load(Path(__file__).parent / "requests" / f"{name}.json")


def segment_at(extracted: Extracted, *path: str | int, key: bool = False) -> Segment:
    found = [s for s in extracted.segments if s.path == path and s.is_key == key]
    assert len(found) == 1, (path, extracted.segments)
    return found[0]


def binary_paths(extracted: Extracted) -> set[tuple[str | int, ...]]:
    return {u.path for u in extracted.unscannable if u.size > 0}


def strings(node: Any, path: tuple[str | int, ...] = (), key: str | None = None) -> Iterator[tuple[Any, ...]]:
    """(path, nearest dict key, value) for every string value of a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, (*path, k), k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, (*path, i), key)
    elif isinstance(node, str):
        yield path, key, node


def dict_keys(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path of the dict, key) for every dict key of a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k
            yield from dict_keys(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from dict_keys(v, (*path, i))


def plant_values(node: Any, key: str | None = None, markers: dict[str, Any] | None = None) -> Any:
    """Append a unique marker to every string value not under an allow-listed key; record marker -> path."""
    assert markers is not None
    if isinstance(node, dict):
        return {k: plant_values(v, k, markers) for k, v in node.items()}
    if isinstance(node, list):
        return [plant_values(v, key, markers) for v in node]
    if isinstance(node, str) and key not in SKIPPED_KEYS:
        marker = f"ZZMARK{len(markers)}ZZ"
        markers[marker] = None
        return node + marker
    return node


def rename_key(body: dict[str, Any], where: tuple[str | int, ...], old: str, new: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    node: Any = body
    for step in where:
        node = node[step]
    items = list(node.items())
    node.clear()
    node.update((new if k == old else k, v) for k, v in items)
    return body


# --- the corpus -------------------------------------------------------------------------------------


def test_corpus_covers_every_endpoint() -> None:
    assert {load(p)[0] for p in CORPUS} == ENDPOINTS


def _drain(value: Any) -> None:
    # pydantic validates Iterable[...] fields lazily; iterating forces the validation.
    if isinstance(value, dict):
        value = value.values()
    if isinstance(value, list | tuple | collections.abc.Iterator | type({}.values())):
        for item in value:
            _drain(item)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_corpus_matches_the_sdk_types(path: Path) -> None:
    pydantic = pytest.importorskip("pydantic")
    chat = pytest.importorskip("openai.types.chat.completion_create_params")
    completions = pytest.importorskip("openai.types.completion_create_params")
    embeddings = pytest.importorskip("openai.types.embedding_create_params")
    responses = pytest.importorskip("openai.types.responses.response_create_params")
    messages = pytest.importorskip("anthropic.types.message_create_params")
    count = pytest.importorskip("anthropic.types.message_count_tokens_params")
    params = {
        "chat.completions": chat.CompletionCreateParams,
        "completions": completions.CompletionCreateParams,
        "embeddings": embeddings.EmbeddingCreateParams,
        "responses": responses.ResponseCreateParams,
        "messages": messages.MessageCreateParams,
        "messages.count_tokens": count.MessageCountTokensParams,
    }
    endpoint, body = load(path)
    field = {"embeddings": "input", "completions": "prompt"}.get(endpoint, "")
    value = body.get(field)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        # pydantic's lazy Iterable union takes a list of token arrays for Iterable[int]; check it apart.
        pydantic.TypeAdapter(list[list[int]]).validate_python(value, strict=True)
        body = {**body, field: [0]}
    # Wrapping in a list lets the config reach the TypedDicts: an unknown key anywhere fails.
    wrapped = GenericAlias(list, (params[endpoint],))
    adapter = pydantic.TypeAdapter(wrapped, config=pydantic.ConfigDict(extra="forbid"))
    _drain(adapter.validate_python([body]))


def _sdk_field_names() -> set[str]:
    modules = [
        "openai.types.chat.completion_create_params",
        "openai.types.completion_create_params",
        "openai.types.embedding_create_params",
        "openai.types.responses.response_create_params",
        "anthropic.types.message_create_params",
        "anthropic.types.message_count_tokens_params",
    ]
    # The SDKs use typing_extensions' TypedDict, which typing.is_typeddict does not recognise.
    is_typeddict = pytest.importorskip("typing_extensions").is_typeddict
    roots = [getattr(pytest.importorskip(m), n) for m in modules for n in dir(pytest.importorskip(m))]
    names: set[str] = set()
    seen: set[int] = set()
    todo = [r for r in roots if is_typeddict(r)]
    while todo:
        tp = todo.pop()
        if id(tp) in seen:
            continue
        seen.add(id(tp))
        if is_typeddict(tp):
            hints = typing.get_type_hints(tp)
            names.update(hints)
            todo.extend(hints.values())
        else:
            todo.extend(typing.get_args(tp))
    return names


# JSON Schema (2020-12 core, applicator, validation, meta-data, format, content) plus OpenAPI's "nullable".
JSON_SCHEMA_KEYWORDS = set(
    """$schema $id $ref $defs $comment $anchor $dynamicRef $dynamicAnchor $vocabulary definitions type enum
    const default examples example title description properties patternProperties additionalProperties
    propertyNames required minProperties maxProperties dependentRequired dependentSchemas dependencies items
    prefixItems additionalItems contains minContains maxContains minItems maxItems uniqueItems
    unevaluatedItems unevaluatedProperties minLength maxLength pattern format contentEncoding
    contentMediaType contentSchema minimum maximum exclusiveMinimum exclusiveMaximum multipleOf allOf anyOf
    oneOf not if then else readOnly writeOnly deprecated nullable strict""".split()  # noqa: SIM905
)


def test_field_names_are_real_api_fields() -> None:
    """The key vocabulary only exempts names the SDKs really use, JSON-schema keywords and the allow-list."""
    assert FIELD_NAMES - _sdk_field_names() - STRUCTURAL_KEYS - JSON_SCHEMA_KEYWORDS == set()


def test_allow_list_is_small() -> None:
    assert len(STRUCTURAL_KEYS) <= 25
    assert {"type", "format", "$ref"} == SCHEMA_STRUCTURAL_KEYS
    assert STRUCTURAL_KEYS <= FIELD_NAMES
    for name in ("name", "description", "text", "content", "arguments", "user", "metadata", "input", "url"):
        assert name not in STRUCTURAL_KEYS


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_skipped_values_are_never_free_text(path: Path) -> None:
    endpoint, body = load(path)
    extracted = extract(endpoint, body)
    scanned = {s.path for s in extracted.segments} | {u.path for u in extracted.unscannable}
    for where, _key, value in strings(body):
        if where not in scanned and value:
            assert IDENTIFIER.fullmatch(value), (where, value)
            assert where[-1] in SKIPPED_KEYS or where[-2] in SKIPPED_KEYS, where


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_planted_value_marker_is_found(path: Path) -> None:
    endpoint, body = load(path)
    markers: dict[str, Any] = {}
    planted = plant_values(body, None, markers)
    extracted = extract(endpoint, planted)
    by_path = {s.path: s.text for s in extracted.segments if not s.is_key}
    binary = binary_paths(extracted)
    lost = []
    for where, _key, value in strings(planted):
        found = re.findall(r"ZZMARK\d+ZZ", value)
        for marker in found:
            if marker not in by_path.get(where, "") and where not in binary:
                lost.append((where, marker))
    if not markers:  # token-id bodies: nothing but the model name
        assert extracted.segments == ()
    assert sum(len(re.findall(r"ZZMARK\d+ZZ", v)) for _, _, v in strings(planted)) == len(markers)
    assert not lost
    # A planted marker breaks a payload's base64, and a data URL that is not base64 is text.
    for s in extracted.segments:
        if s.text.lstrip().lower().startswith("data:"):
            assert re.search(r"ZZMARK\d+ZZ", s.text), s.path


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_every_renamed_key_is_found(path: Path) -> None:
    """Deny by default for keys too: any key that is not a known field name is scanned, wherever it is."""
    endpoint, body = load(path)
    positions = list(dict_keys(body))
    assert positions
    for n, (where, key) in enumerate(positions):
        new = f"{key}ZZKEY{n}ZZ"
        extracted = extract(endpoint, rename_key(body, where, key, new))
        assert segment_at(extracted, *where, new, key=True).text == new


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_unscannable_is_a_payload_or_a_reference(path: Path) -> None:
    endpoint, body = load(path)
    extracted = extract(endpoint, body)
    segment_paths = {s.path for s in extracted.segments}
    for u in extracted.unscannable:
        if u.media == "token_ids":  # a prompt given as token ids: the prompt itself, or one of its items
            assert endpoint in ("completions", "embeddings") and u.path[0] in ("prompt", "input"), u
            assert u.path not in segment_paths and u.size > 0, u
            continue
        assert u.path[-1] in {"data", "file_data", "url", "image_url", "file_url", "file_id"}, u
        assert u.media in {"image", "audio", "file", "document", "video"}, u
        # A reference is also scanned as text; a payload never is.
        assert (u.path in segment_paths) == (u.size == 0), u


# --- roles and turns --------------------------------------------------------------------------------


def test_chat_roles_turns_and_tools() -> None:
    extracted = extract(*corpus("chat.completions--tools"))
    assert segment_at(extracted, "messages", 0, "content").role == "system"
    user = segment_at(extracted, "messages", 1, "content")
    assert (user.role, user.turn) == ("user", 1)
    args = segment_at(extracted, "messages", 2, "tool_calls", 0, "function", "arguments")
    assert (args.role, args.turn) == ("assistant", 2)
    assert args.text.startswith('{"full_name"')  # the JSON string itself; the normaliser parses it
    custom = segment_at(extracted, "messages", 2, "tool_calls", 1, "custom", "input")
    assert custom.role == "assistant"
    result = segment_at(extracted, "messages", 3, "content")
    assert (result.role, result.turn) == ("tool", 3)
    assert segment_at(extracted, "messages", 4, "content", 0, "text").role == "tool"
    assert segment_at(extracted, "messages", 5, "content", 1, "refusal").role == "assistant"
    description = segment_at(extracted, "tools", 0, "function", "description")
    assert (description.role, description.turn) == (None, None)
    # ids and enums are not scanned; the model name is (a finding there refuses the request)
    assert not [s for s in extracted.segments if s.path[-1] in ("id", "type", "tool_call_id")]
    assert segment_at(extracted, "model").text == "gpt-4.1"


def test_legacy_function_message_is_a_tool_result() -> None:
    extracted = extract(*corpus("chat.completions--legacy-functions"))
    assert segment_at(extracted, "messages", 2, "content").role == "tool"
    assert segment_at(extracted, "messages", 1, "function_call", "arguments").role == "assistant"


def test_anthropic_roles() -> None:
    extracted = extract(*corpus("messages--tools"))
    thinking = segment_at(extracted, "messages", 1, "content", 0, "thinking")
    assert (thinking.role, thinking.turn) == ("assistant", 1)
    value = segment_at(extracted, "messages", 1, "content", 3, "input", "name")
    assert (value.text, value.role, value.turn) == ("Eleanor Shellstrop", "assistant", 1)
    assert segment_at(extracted, "messages", 2, "content", 0, "content").role == "tool"
    assert segment_at(extracted, "messages", 2, "content", 1, "text").role == "user"
    assert segment_at(extracted, "messages", 4, "content", 0, "content", 0, "text").role == "tool"
    assert segment_at(extracted, "tools", 0, "description").role is None

    text = extract("messages", {"system": "Be brief.", "messages": [{"role": "user", "content": "hi"}]})
    system = segment_at(text, "system")
    assert (system.role, system.turn) == ("system", None)
    blocks = extract(
        "messages.count_tokens", {"system": [{"type": "text", "text": "Be brief."}], "messages": []}
    )
    assert segment_at(blocks, "system", 0, "text").role == "system"


def test_responses_roles() -> None:
    assert segment_at(extract("responses", {"input": "hello"}), "input").role == "user"
    assert segment_at(extract("responses", {"input": "hello"}), "input").turn == 0
    extracted = extract(*corpus("responses--items"))
    instructions = segment_at(extracted, "instructions")
    assert (instructions.role, instructions.turn) == ("system", None)
    assert segment_at(extracted, "input", 0, "content").role == "system"
    assert segment_at(extracted, "input", 1, "content", 0, "text").role == "developer"
    call = segment_at(extracted, "input", 5, "arguments")
    assert (call.role, call.turn) == ("assistant", 5)
    output = segment_at(extracted, "input", 6, "output")
    assert (output.role, output.turn) == ("tool", 6)
    assert segment_at(extracted, "input", 7, "output", 0, "text").role == "tool"
    assert segment_at(extracted, "input", 4, "summary", 0, "text").role == "assistant"
    assert segment_at(extracted, "tools", 0, "description").role is None


def test_completions_and_embeddings() -> None:
    listed = extract("embeddings", {"model": "m", "input": ["a b", "c d"]})
    assert [(s.path, s.role, s.turn) for s in listed.segments if s.path != ("model",)] == [
        (("input", 0), "user", 0),
        (("input", 1), "user", 1),
    ]
    tokens = extract("embeddings", {"input": [[1, 2], [3]], "encoding_format": "float"})
    assert tokens == Extracted(
        (), (Unscannable(("input", 0), "token_ids", 2), Unscannable(("input", 1), "token_ids", 1))
    )
    prompt = extract("completions", {"prompt": "x", "suffix": "y", "stop": "\n\n"})
    assert [(s.path, s.role) for s in prompt.segments] == [
        (("prompt",), "user"),
        (("suffix",), "user"),
        (("stop",), None),
    ]


# --- keys that are content ----------------------------------------------------------------------------


def test_schema_property_names_and_texts_are_scanned() -> None:
    schema = {
        "type": "object",
        "title": "Lookup",
        "properties": {
            "name": {"type": "string", "description": "Customer name", "default": "Jane", "format": "email"},
            "type": {"type": ["string", "null"], "enum": ["gold", "Project Falcon"], "examples": ["gold"]},
            "ref": {"$ref": "#/$defs/Address"},
            "code": {"type": "string", "pattern": "^ACME-[0-9]+$"},
        },
        "$defs": {"Address": {"type": "object", "properties": {"street": {"type": "string"}}}},
        "required": ["name"],
        "x-internal-note": "owned by team Falcon",
    }
    extracted = extract("messages", {"tools": [{"name": "t", "input_schema": schema}]})
    texts = {s.text for s in extracted.segments}
    assert {"name", "type", "ref", "code", "Address", "street", "x-internal-note"} <= texts  # names are keys
    assert {"Lookup", "Customer name", "Jane", "gold", "Project Falcon", "^ACME-[0-9]+$"} <= texts
    assert {"owned by team Falcon"} <= texts
    assert not {"object", "string", "null", "email", "#/$defs/Address"} & texts
    assert segment_at(extracted, "tools", 0, "input_schema", "properties", "type", key=True).text == "type"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"metadata": {"user_id": "u1", "id": "Jane Roe"}}, ("metadata", "id")),
        ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n",
                                                          "input": {"type": "Jane Roe"}}]}]},
         ("messages", 0, "content", 0, "input", "type")),
        ({"tools": [{"name": "n", "input_schema": {}, "input_examples": [{"model": "Jane Roe"}]}]},
         ("tools", 0, "input_examples", 0, "model")),
    ],
)  # fmt: skip
def test_keys_and_ids_in_opaque_objects_are_content(
    body: dict[str, Any], path: tuple[str | int, ...]
) -> None:
    extracted = extract("messages", body)
    assert segment_at(extracted, *path).text == "Jane Roe"
    assert segment_at(extracted, *path, key=True).text == path[-1]


def test_maps_keyed_by_user_names() -> None:
    body = {
        "prompt": {"id": "pmpt_1", "variables": {"type": "premium tier",
                                                  "id_card": {"type": "input_image", "image_url": PNG}}},
        "metadata": {"user_id": "hr-5521"},
        "input": [{"type": "local_shell_call", "id": "x", "call_id": "c", "status": "completed",
                   "action": {"type": "exec", "command": ["ls"], "env": {"AWS_SECRET_ACCESS_KEY": "abc"}}}],
        "tools": [{"type": "mcp", "server_label": "s", "headers": {"X-Api-Key": "k-123"}}],
    }  # fmt: skip
    extracted = extract("responses", body)
    assert segment_at(extracted, "prompt", "variables", "type").text == "premium tier"
    assert segment_at(extracted, "prompt", "variables", "type", key=True).text == "type"
    assert ("prompt", "variables", "id_card", "image_url") in binary_paths(extracted)
    assert segment_at(extracted, "metadata", "user_id", key=True).role is None
    assert segment_at(extracted, "input", 0, "action", "env", "AWS_SECRET_ACCESS_KEY", key=True)
    assert segment_at(extracted, "tools", 0, "headers", "X-Api-Key").text == "k-123"


def test_logit_bias_keys_and_values_are_read() -> None:
    # Token ids and biases are checked by the field table, and still read: side by side they can
    # spell a number ({"411111": 1, "111111": 1, ...}), which the seam scan joins.
    extracted = extract("chat.completions", {"logit_bias": {"50256": -100, "Jane Roe": 1}})
    assert [(s.text, s.is_key) for s in extracted.segments] == [
        ("50256", True), ("-100", False), ("Jane Roe", True), ("1", False)
    ]  # fmt: skip


def test_unknown_fields_are_scanned_with_no_exemptions() -> None:
    body = {"model": "gpt-4o", "x_extra": {"id": "4111111111111111", "type": "a"}}
    texts = [(s.text, s.is_key) for s in extract("chat.completions", body).segments]
    assert texts == [
        ("gpt-4o", False),
        ("x_extra", True),
        ("id", True),
        ("4111111111111111", False),
        ("type", True),
        ("a", False),
    ]


def test_free_text_in_a_structural_field_is_scanned() -> None:
    body = {"model": "gpt-4o my SSN is 078-05-1120", "messages": [{"role": "user please", "content": "hi"}]}
    extracted = extract("chat.completions", body)
    assert segment_at(extracted, "model").text == "gpt-4o my SSN is 078-05-1120"
    assert segment_at(extracted, "messages", 0, "role").text == "user please"
    assert segment_at(extracted, "messages", 0, "content").role == "user"  # unknown roles stay conversation
    plain = extract("chat.completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert [s.path for s in plain.segments] == [("model",), ("messages", 0, "content")]
    # An enum the field table knows takes its known values only; an id field takes known id shapes only.
    odd = extract("chat.completions", {"reasoning_effort": "johnsmith", "messages": [
        {"role": "tool", "tool_call_id": "customer_jane_doe", "content": "ok"}]})  # fmt: skip
    assert [s.text for s in odd.segments] == ["johnsmith", "customer_jane_doe", "ok"]


def test_document_order() -> None:
    body = {"a": {"x": "1", "y": ["2", {"z": "3"}]}, "b": "4", "messages": [{"role": "user", "content": "5"}]}
    values = [s.text for s in extract("chat.completions", body).segments if not s.is_key]
    assert values == ["1", "2", "3", "4", "5"]


# --- unscannable --------------------------------------------------------------------------------------


def test_openai_chat_binary_parts() -> None:
    extracted = extract(*corpus("chat.completions--multimodal"))
    content = ("messages", 0, "content")
    got = {u.path[3:]: (u.media, u.size > 0) for u in extracted.unscannable}
    assert got == {
        (1, "image_url", "url"): ("image", False),
        (2, "image_url", "url"): ("image", True),
        (3, "input_audio", "data"): ("audio", True),
        (4, "file", "file_data"): ("file", True),
        (5, "file", "file_id"): ("file", False),
    }
    assert segment_at(extracted, *content, 1, "image_url", "url").text.startswith("https://")
    assert segment_at(extracted, *content, 4, "file", "filename").text == "contract_acme_2024.pdf"
    sizes = {u.path: u.size for u in extracted.unscannable}
    body = corpus("chat.completions--multimodal")[1]
    assert sizes[(*content, 2, "image_url", "url")] == len(
        body["messages"][0]["content"][2]["image_url"]["url"]
    )


def test_responses_binary_parts() -> None:
    extracted = extract(*corpus("responses--items"))
    got = {u.path: (u.media, u.size > 0) for u in extracted.unscannable}
    content = ("input", 2, "content")
    assert got == {
        (*content, 1, "image_url"): ("image", False),
        (*content, 2, "image_url"): ("image", True),
        (*content, 3, "file_id"): ("image", False),
        (*content, 4, "file_data"): ("file", True),
        (*content, 5, "file_url"): ("file", False),
        (*content, 6, "file_id"): ("file", False),
        ("input", 7, "output", 1, "image_url"): ("image", True),
    }
    screenshot = extract(*corpus("responses--tool-calls"))
    assert [(u.path[-1], u.media) for u in screenshot.unscannable] == [("image_url", "image")]


def test_anthropic_binary_blocks() -> None:
    extracted = extract(*corpus("messages--blocks"))
    got = {u.path[3:]: (u.media, u.size > 0) for u in extracted.unscannable}
    assert got == {
        (1, "source", "data"): ("image", True),
        (2, "source", "url"): ("image", False),
        (3, "source", "file_id"): ("image", False),
        (4, "source", "data"): ("document", True),
        (6, "source", "content", 1, "source", "data"): ("image", True),
        (7, "source", "url"): ("document", False),
        (8, "source", "file_id"): ("document", False),
        (10, "file_id"): ("file", False),
    }
    # A plain-text document source is text.
    assert segment_at(extracted, "messages", 0, "content", 5, "source", "data").text.startswith(
        "CONFIDENTIAL"
    )


def test_audio_and_video_parts() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "video",
         "source": {"type": "base64", "media_type": "video/mp4", "data": "AAAAIGZ0eXBpc29t"}},
        {"type": "audio", "source": {"type": "url", "url": "https://media.example.com/call.mp3"}},
        {"type": "text", "text": "data:video/mp4;base64,AAAAIGZ0eXBpc29t"},
    ]}]}  # fmt: skip
    extracted = extract("messages", body)
    assert [(u.path[3:], u.media, u.size) for u in extracted.unscannable] == [
        ((0, "source", "data"), "video", 16),
        ((1, "source", "url"), "audio", 0),
    ]
    # A data URL in a text field is text: the sender picks the "type", so it is scanned.
    assert segment_at(extracted, "messages", 0, "content", 2, "text").text.startswith("data:video/mp4")


def test_data_urls_are_text_outside_media_fields() -> None:
    body = {
        "messages": [
            {"role": "user", "content": PNG},
            {"role": "user", "content": "see data:image/png;base64,AAAA"},
        ]
    }
    extracted = extract("chat.completions", body)
    assert extracted.unscannable == ()
    assert [s.path for s in extracted.segments] == [("messages", 0, "content"), ("messages", 1, "content")]
    for path in CORPUS:  # every real payload in the corpus sits in a media field and is valid base64
        for s in extract(*load(path)).segments:
            assert not s.text.lower().startswith("data:"), (path.name, s.path)


SMUGGLED = "data:image/png,my key is AKIAIOSFODNN7EXAMPLE card 4111111111111111"


@pytest.mark.parametrize(
    ("content", "path"),
    [
        (SMUGGLED, ("messages", 0, "content")),
        ([{"type": "text", "text": SMUGGLED}], ("messages", 0, "content", 0, "text")),
        ([{"type": "image_url", "image_url": {"url": SMUGGLED}}],
         ("messages", 0, "content", 0, "image_url", "url")),
        ([{"type": "image_url", "image_url": {"url": "data:image/png;base64,my key is AKIA card 4111"}}],
         ("messages", 0, "content", 0, "image_url", "url")),
        ([{"type": "input_audio", "input_audio": {"data": "my key AKIAIOSFODNN7EXAMPLE", "format": "wav"}}],
         ("messages", 0, "content", 0, "input_audio", "data")),
        ([{"type": "file", "file": {"file_data": "data:application/pdf,card 4111111111111111"}}],
         ("messages", 0, "content", 0, "file", "file_data")),
    ],
)  # fmt: skip
def test_data_url_that_is_not_base64_is_text(content: Any, path: tuple[str | int, ...]) -> None:
    extracted = extract("chat.completions", {"messages": [{"role": "user", "content": content}]})
    assert path not in binary_paths(extracted)
    assert segment_at(extracted, *path).role == "user"


def test_base64_data_urls_in_media_fields_are_unscannable() -> None:
    audio = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjQK"}},
    ]}]}  # fmt: skip
    extracted = extract("chat.completions", body)
    assert [(u.path[3:], u.media) for u in extracted.unscannable] == [
        ((0, "image_url", "url"), "image"),
        ((1, "input_audio", "data"), "audio"),
        ((2, "file", "file_data"), "file"),
    ]
    assert extracted.segments == ()
    anthropic = extract("messages", {"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG[22:]}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": "card 4111111111111111"}},
    ]}]})  # fmt: skip
    assert [u.path[3:] for u in anthropic.unscannable] == [(0, "source", "data")]
    assert segment_at(anthropic, "messages", 0, "content", 1, "source", "data").text.startswith("card")


def test_huge_base64_is_unknown_binary_but_huge_text_is_scanned() -> None:
    # Item 4 of the review changed this test: "QUJD" * n repeats four symbols, which is how text looks, so
    # the blob is now random bytes, as a real encoded file is.
    blob = base64.b64encode(random.Random(0).randbytes(3 << 18)).decode()  # 1 MiB of base64
    prose = "word " * (1 << 18)
    extracted = extract("chat.completions", {"messages": [{"role": "user", "content": blob}], "x": prose})
    assert extracted.unscannable == (Unscannable(("messages", 0, "content"), "unknown_binary", len(blob)),)
    assert segment_at(extracted, "x").text == prose
    small = extract("chat.completions", {"messages": [{"role": "user", "content": blob[:1000]}]})
    assert small.unscannable == ()


@pytest.mark.parametrize(
    "make",
    [
        lambda n: "customer_John_Smith_card_4111111111111111_key_AKIAIOSFODNN7EXAMPLE\n" * n,
        lambda n: "customerJohnSmithcard4111111111111111keyAKIAIOSFODNN7EXAMPLE" * n,
        lambda n: "QUJD" * (16 * n),
        lambda n: base64.b64encode(random.Random(1).randbytes(48 * n)).decode() + "!",
    ],
)
def test_huge_text_without_spaces_is_scanned(make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "BINARY_MIN", 4096)
    text = make(200)
    assert len(text) >= 4096
    extracted = extract("chat.completions", {"messages": [{"role": "user", "content": text}]})
    assert extracted.unscannable == ()
    assert segment_at(extracted, "messages", 0, "content").text == text


def test_base64_with_line_breaks_and_urlsafe_is_unknown_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segments, "BINARY_MIN", 4096)
    raw = random.Random(2).randbytes(6000)
    for blob in (base64.encodebytes(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        extracted = extract("chat.completions", {"x": blob})
        assert [u.media for u in extracted.unscannable] == ["unknown_binary"]
        assert extracted.segments == ()


# --- secrets under structural keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
          "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]},
         ("messages", 0, "tool_calls", 0, "id")),
        ({"messages": [{"role": "tool", "tool_call_id": "4111-1111-1111-1111", "content": "ok"}]},
         ("messages", 0, "tool_call_id")),
        ({"messages": [{"role": "tool", "tool_call_id": "call_4111111111111111", "content": "ok"}]},
         ("messages", 0, "tool_call_id")),
        ({"messages": [{"role": "tool", "tool_call_id": "call_AKIAIOSFODNN7EXAMPLE", "content": "ok"}]},
         ("messages", 0, "tool_call_id")),
        ({"input": [{"type": "message", "role": "user", "status": "AKIAIOSFODNN7EXAMPLE", "content": "hi"}]},
         ("input", 0, "status")),
        ({"input": [{"type": "function_call", "call_id": "sk-proj-abc123def456ghi789", "name": "f",
                     "arguments": "{}"}]}, ("input", 0, "call_id")),
        ({"model": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFU"},
         ("model",)),
        ({"model": "078-05-1120"}, ("model",)),
        ({"model": "+14155552671"}, ("model",)),
        ({"model": "ft:gpt-4o-mini:acme-corp:jane-roe:9aBcDeF1"}, ("model",)),
        ({"service_tier": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"}, ("service_tier",)),
        ({"modalities": ["text", "AKIAIOSFODNN7EXAMPLE"]}, ("modalities", 1)),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "string", "format": "AKIAIOSFODNN7EXAMPLE"}}}}}]},
         ("tools", 0, "function", "parameters", "properties", "a", "format")),
    ],
)  # fmt: skip
def test_secrets_under_structural_keys_are_scanned(body: dict[str, Any], path: tuple[str | int, ...]) -> None:
    endpoint = "responses" if "input" in body else "chat.completions"
    assert segment_at(extract(endpoint, body), *path).is_key is False


def test_enums_and_known_ids_are_still_skipped() -> None:
    body = {
        "model": "gpt-4o-mini",
        "service_tier": "auto",
        "reasoning_effort": "low",
        "modalities": ["text", "audio"],
        "messages": [
            {"role": "assistant", "tool_calls": [{"id": "call_abc123DEF456ghi789JKL012", "type": "function",
                                                  "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123DEF456ghi789JKL012", "content": "ok"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG, "detail": "high"}}]},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": {"type": "string", "format": "date-time"},
                                             "b": {"$ref": "#/$defs/b"}}}}}],
    }  # fmt: skip
    extracted = extract("chat.completions", body)
    skipped = {"id", "type", "tool_call_id", "service_tier", "reasoning_effort", "modalities",
               "detail", "format", "$ref"}  # fmt: skip
    assert not [s for s in extracted.segments if not s.is_key and set(s.path) & skipped]
    for value in ("toolu_01A09q90qw90lq917835lq9", "resp_68af4c3b2f8c8190a1b2c3d4e5f60718"):
        got = extract(
            "messages",
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": value}]}]},
        )
        assert got.segments == (), value  # fmt: skip


# --- numbers ----------------------------------------------------------------------------------------


def test_long_numbers_are_scanned() -> None:
    body = {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01A09q90qw90",
            "name": "pay", "input": {"card": 4111111111111111, "ssn": 123456789, "phone": 14155552671,
                                     "amount": 12, "ok": True, "ratio": 0.5, "big": 4111111111111111.0,
                                     "list": [123456789, 1, -987654321]}}]}]}  # fmt: skip
    extracted = extract("messages", body)
    values = [(s.path[-1], s.text, s.role) for s in extracted.segments if not s.is_key and s.text != "pay"]
    # In user data (a tool's input) every number is text, however short: the pieces of one value.
    assert values == [
        ("card", "4111111111111111", "assistant"),
        ("ssn", "123456789", "assistant"),
        ("phone", "14155552671", "assistant"),
        ("amount", "12", "assistant"),
        ("ratio", "0.5", "assistant"),
        ("big", "4111111111111111", "assistant"),
        (0, "123456789", "assistant"),
        (1, "1", "assistant"),
        (2, "-987654321", "assistant"),
    ]


def test_bounded_parameters_are_not_scanned_and_token_ids_are_unscannable() -> None:
    body = {"max_tokens": 1000000, "seed": 123456789, "max_completion_tokens": 200000,
            "top_logprobs": 5, "messages": [{"role": "user", "content": "hi"}],
            "user_ref": 987654321}  # fmt: skip
    extracted = extract("chat.completions", body)
    # Bounded settings are checked by the field table instead; a seed can hold anything, so it is text.
    assert [(s.path, s.text) for s in extracted.segments] == [
        (("seed",), "123456789"),
        (("messages", 0, "content"), "hi"),
        (("user_ref",), "user_ref"),
        (("user_ref",), "987654321"),
    ]
    tokens = extract("embeddings", {"input": [[100257, 199999], [123456]]})
    assert tokens.segments == () and [u.media for u in tokens.unscannable] == ["token_ids", "token_ids"]
    tokens = extract("completions", {"prompt": [100257, 199999]})
    assert tokens.segments == () and tokens.unscannable == (Unscannable(("prompt",), "token_ids", 2),)
    thinking = extract("messages", {"thinking": {"type": "enabled", "budget_tokens": 1000000}})
    assert thinking.segments == ()


# --- limits ---------------------------------------------------------------------------------------------


def nested(depth: int) -> dict[str, Any]:
    node: Any = "leaf"
    for _ in range(depth):
        node = {"x": node}
    return {"messages": [{"role": "user", "content": "hi"}], "metadata": node}


def test_depth_limit() -> None:
    extract("chat.completions", nested(segments.MAX_DEPTH - 2))
    with pytest.raises(ExtractionLimit):
        extract("chat.completions", nested(segments.MAX_DEPTH))
    deep_list: Any = ["x"]
    for _ in range(100):
        deep_list = [deep_list]
    with pytest.raises(ExtractionLimit):
        extract("messages", {"messages": deep_list})


def test_segment_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": f"t{i}"} for i in range(50)]}]}
    assert len(extract("messages", body).segments) == 50
    monkeypatch.setattr(segments, "MAX_SEGMENTS", 49)
    with pytest.raises(ExtractionLimit):
        extract("messages", body)
    monkeypatch.undo()
    many = {"input": [f"s{i}" for i in range(segments.MAX_SEGMENTS + 1)]}
    with pytest.raises(ExtractionLimit):
        extract("embeddings", many)


def test_deep_wide_body_fails_fast_and_small() -> None:
    node: Any = "leaf"
    for i in range(900):
        node = {"x": node, "y": ["s"] * (20_000 // 900)} if i % 1 == 0 else node
    raw = json.dumps({"metadata": node})
    body = json.loads(raw)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ExtractionLimit):
            extract("chat.completions", body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 1.0
    assert peak < 50 << 20, peak


# --- whole conversation -----------------------------------------------------------------------------


# --- performance ------------------------------------------------------------------------------------


def test_extract_is_fast_for_a_100_message_chat() -> None:
    messages = [{"role": "system", "content": "You are a helpful assistant for Example Corp."}]
    for i in range(99):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"Message {i}: some ordinary chat text of a typical length. " * 4
        messages.append({"role": role, "content": text})
    body = {"model": "gpt-4o", "messages": messages, "temperature": 0.3, "stream": True}
    best = min(timeit.repeat(lambda: extract("chat.completions", body), number=20, repeat=10)) / 20
    assert best < 1e-3, f"{best * 1e6:.0f} us"
