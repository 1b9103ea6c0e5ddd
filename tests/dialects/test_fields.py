"""The field table: literal bodies against its checks, and a census over the SDKs' request types.

The census fails when an SDK version adds a request field nobody has classified: a field name the
extractor does not know (its key is then scanned as content, which is safe, but noisy and unreviewed),
a numeric field that is neither bounded, data, nor left to the scanner, or an enum value the table does
not list (it would be scanned as text on every request).
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterator
from typing import Any

import pytest
import typing_extensions

from gateway.dialects import fields
from gateway.dialects.fields import DATA_NUMBERS, ENUMS, NUMBERS, TEXT_NUMBERS, model_name_problem, validate
from gateway.errors import BadRequest
from gateway.scan.segments import FIELD_NAMES, NUMERIC_PARAMS, STRUCTURAL_KEYS, extract

SDK_PARAMS = {
    "chat.completions": "openai.types.chat.completion_create_params",
    "completions": "openai.types.completion_create_params",
    "embeddings": "openai.types.embedding_create_params",
    "responses": "openai.types.responses.response_create_params",
    "messages": "anthropic.types.message_create_params",
    "messages.count_tokens": "anthropic.types.message_count_tokens_params",
}


def _sdk_fields() -> Iterator[tuple[str, Any]]:
    """(field name, annotation) of every TypedDict reachable from the SDKs' request params."""
    seen: set[int] = set()
    todo: list[Any] = []
    for module_name in SDK_PARAMS.values():
        module = importlib.import_module(module_name)
        todo.extend(
            getattr(module, n) for n in dir(module) if typing_extensions.is_typeddict(getattr(module, n))
        )
    while todo:
        tp = todo.pop()
        if id(tp) in seen:
            continue
        seen.add(id(tp))
        if typing_extensions.is_typeddict(tp):
            hints = typing.get_type_hints(tp)
            yield from hints.items()
            todo.extend(hints.values())
        else:
            todo.extend(typing.get_args(tp))


def _leaves(annotation: Any) -> tuple[set[Any], set[str]]:
    """The plain types and the string literals an annotation allows."""
    types: set[Any] = set()
    literals: set[str] = set()
    todo = [annotation]
    while todo:
        tp = todo.pop()
        if typing.get_origin(tp) in (typing.Literal, typing_extensions.Literal):
            literals.update(a for a in typing.get_args(tp) if isinstance(a, str))
        elif typing.get_args(tp):
            todo.extend(typing.get_args(tp))
        else:
            types.add(tp)
    return types, literals


SDK_FIELDS = list(_sdk_fields())


def test_census_every_sdk_request_field_is_classified() -> None:
    unknown = sorted({name for name, _ in SDK_FIELDS} - FIELD_NAMES)
    assert not unknown, f"new SDK request fields, classify them in gateway/scan/segments.py: {unknown}"


def test_census_every_numeric_sdk_field_is_bounded_data_or_scanned() -> None:
    numeric = {name for name, tp in SDK_FIELDS if _leaves(tp)[0] & {int, float}}
    unclassified = sorted(numeric - set(NUMBERS) - DATA_NUMBERS - TEXT_NUMBERS)
    assert not unclassified, f"numeric SDK fields missing from gateway/dialects/fields.py: {unclassified}"
    assert set(NUMBERS).isdisjoint(DATA_NUMBERS | TEXT_NUMBERS) and DATA_NUMBERS.isdisjoint(TEXT_NUMBERS)
    assert set(NUMBERS) == NUMERIC_PARAMS  # the extractor skips exactly what the table bounds


def test_census_every_sdk_enum_value_is_in_the_table() -> None:
    missing: dict[str, set[str]] = {}
    for name, tp in SDK_FIELDS:
        if name in ENUMS:
            extra = _leaves(tp)[1] - ENUMS[name]
            if extra:
                missing.setdefault(name, set()).update(extra)
    assert not missing, f"enum values the SDKs send that gateway/dialects/fields.py does not list: {missing}"


def test_census_structural_keys_are_enums_ids_or_grammar() -> None:
    # What the extractor may skip: enums of the table, ids of known provider shapes, or a small
    # grammar-checked set (types, objects, MIME types).  Anything else under them is scanned.
    assert set(ENUMS) & STRUCTURAL_KEYS
    assert STRUCTURAL_KEYS - set(ENUMS) <= {
        "type", "object", "id", "call_id", "tool_call_id", "tool_use_id", "previous_response_id",
        "item_id", "media_type", "format",
    }  # fmt: skip


# --- the checks, with literal bodies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"max_tokens": 4111111111111111}, "max_tokens"),
        ({"max_completion_tokens": 10_000_000}, "max_completion_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 12.5}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"temperature": 0.4111111111111111}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": 41111111.0}, "top_p"),
        ({"n": 555}, "n"),
        ({"seed": 1.5}, "seed"),
        ({"logit_bias": {"4111111111111111": 1}}, "logit_bias"),
        ({"logit_bias": {"12": 4111111}}, "logit_bias"),
        ({"logit_bias": {"jane": 1}}, "logit_bias"),
        ({"logit_bias": {"007": 1}}, "logit_bias"),
        ({"logit_bias": [1]}, "logit_bias"),
        ({"thinking": {"type": "enabled", "budget_tokens": 41111111}}, "thinking.budget_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 999}, "top_logprobs"),
        ({"tools": [{"type": "web_search_20250305", "max_uses": 4111111111}]}, "tools[0].max_uses"),
    ],
)
def test_out_of_table_values_are_refused_naming_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        validate("chat.completions", body)
    assert caught.value.param == param and caught.value.code == "invalid_field"
    assert "4111" not in caught.value.message and "jane" not in caught.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"max_tokens": 1024, "temperature": 0.7, "top_p": 0.95, "n": 1, "seed": 4111111111111111},
        {"max_completion_tokens": 9_999_999, "frequency_penalty": -2, "presence_penalty": 1.5},
        {"logit_bias": {"50256": -100, "0": 2.5}, "logprobs": True, "top_logprobs": 5},
        {"logprobs": 3, "best_of": 2},  # completions: logprobs is a count
        {"thinking": {"type": "enabled", "budget_tokens": 2048}, "top_k": 40},
        # user data is not API structure: a tool's own "max_tokens" argument is scanned, not checked
        {
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "f",
                        "parameters": {
                            "properties": {"max_tokens": {"type": "integer", "maximum": 4111111111111111}}
                        },
                    },
                }
            ]
        },
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "f",
                            "input": {"temperature": 99, "n": 4111},
                        }
                    ],
                }
            ]
        },
        {"metadata": {"max_tokens": "many"}},
    ],
)
def test_values_within_the_table_pass(body: dict[str, Any]) -> None:
    validate("chat.completions", body)


def test_a_seed_is_scanned_as_text() -> None:
    extracted = extract("chat.completions", {"seed": 4111111111111111, "max_tokens": 9_999_999})
    assert [s.text for s in extracted.segments] == ["4111111111111111"]


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4o-mini",
        "gpt-4o-2024-08-06",
        "claude-3-5-sonnet-20241022",
        "claude-sonnet-4-5",
        "text-embedding-3-small",
        "o3-mini",
        "ft:gpt-4o-mini-2024-07-18:acme::9abc1234",
        "deepseek-chat",
        "Qwen/Qwen3-30B-A3B",
    ],
)
def test_plain_model_names_pass(model: str) -> None:
    assert model_name_problem(model) is None


@pytest.mark.parametrize(
    "model",
    [
        "gpt-4111111111111111",
        "gpt-4o 4111 1111 1111 1111",
        "gpt-jane.doe@example.com",
        "gpt-4o\u202e",
        "gpt-555-0100-555-0199",  # many short runs: too many digits
        "claude-3-5-sonnet-20241322",  # not a date
        "-gpt",
        "x" * 129,
    ],
)
def test_model_names_that_can_carry_data_are_refused(model: str) -> None:
    assert model_name_problem(model) is not None


def test_limits_are_those_of_the_issue() -> None:
    assert NUMBERS["max_tokens"].hi < 10**7 and fields.MAX_TOKEN_ID == 2**20
