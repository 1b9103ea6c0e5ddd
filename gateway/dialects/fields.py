"""The field table: what every non-text leaf of a request may hold, checked before anything is scanned.

The scanner reads text.  A number, a map key or an enum word is forwarded as it is, so a value that is
not scanned must be one that cannot carry data: a bounded count, a probability, a token id below the
vocabulary size.  This table gives each such leaf its type and range, and :func:`validate` refuses a
body that breaks it with a 400 naming the field (never echoing the value).  Leaves the table does not
know are not forwarded unread: :mod:`gateway.scan.segments` scans them as text.  Numbers that may hold
anything (``seed``) are in :data:`DATA_NUMBERS`: checked for type here, scanned as text there, so a
Luhn-valid 16-digit seed is a card number.

The table is by field name, for both wire formats: the openai and anthropic request params use each
name with one meaning wherever it appears in API structure.  Values under user-chosen data (tool
arguments, JSON schemas, metadata: :data:`OPAQUE_FIELDS`) are not API structure and are not checked
here; they are scanned as text.  ``tests/dialects/test_fields.py`` holds the census over the SDKs'
request types: a field the SDK adds fails it until it is classified.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from gateway.errors import BadRequest

# JSON numbers beyond this lose precision in JavaScript and in most JSON parsers; two parsers that
# read one number differently are two different requests.
MAX_SAFE_INTEGER: Final = 2**53
# Token ids (logit_bias keys) below this: the largest vocabularies in use are ~200k-260k.
MAX_TOKEN_ID: Final = 2**20
# A parameter float with more significant digits than this is not a setting but a carrier.
MAX_FLOAT_DIGITS: Final = 8


@dataclass(frozen=True, slots=True)
class Num:
    """A bounded number: ``lo <= value <= hi``; ``integer`` refuses fractions; ``flag`` also takes a bool."""

    lo: float
    hi: float
    integer: bool = True
    flag: bool = False


_TOKENS: Final = Num(0, 10**7 - 1)  # output limits and thinking budgets: below 10^7
_PROB: Final = Num(0, 1, integer=False)
_PENALTY: Final = Num(-2, 2, integer=False)
_SMALL: Final = Num(0, 10_000)

# Numbers that are settings.  Validated, never scanned: their range leaves no room for a value.
NUMBERS: Final[Mapping[str, Num]] = MappingProxyType(
    {
        "max_tokens": _TOKENS,
        "max_completion_tokens": _TOKENS,
        "max_output_tokens": _TOKENS,
        "budget_tokens": _TOKENS,
        "n": Num(0, 128),
        "best_of": Num(0, 128),
        "top_k": _SMALL,
        "logprobs": Num(0, 20, flag=True),  # an integer in completions, a bool in chat completions
        "top_logprobs": Num(0, 20),
        "dimensions": Num(1, 65_536),
        "max_tool_calls": _SMALL,
        "max_uses": _SMALL,
        "max_num_results": _SMALL,
        "max_characters": Num(0, 10**7 - 1),
        "max_content_tokens": _TOKENS,
        "partial_images": Num(0, 10),
        "output_compression": Num(0, 100),
        "display_width_px": _SMALL,
        "display_height_px": _SMALL,
        "display_width": _SMALL,
        "display_height": _SMALL,
        "display_number": Num(0, 1_000),
        "temperature": Num(0, 2, integer=False),
        "top_p": _PROB,
        "frequency_penalty": _PENALTY,
        "presence_penalty": _PENALTY,
        "score_threshold": _PROB,
        "embedding_weight": _PROB,
        "text_weight": _PROB,
    }
)
# Numbers that can hold anything an integer holds: type-checked here, scanned as text.
DATA_NUMBERS: Final = frozenset({"seed"})
# Numeric fields of the SDKs' request types left to the scanner: positions, counts and codes that
# echo earlier answers.  A number under them with six digits or more is scanned as text (and becomes a
# string if policy rewrites it).  ``input``/``prompt`` integers are token ids (refused unless a policy
# allows them), ``logit_bias`` is checked above.  The census test holds every numeric SDK field to one
# of NUMBERS, DATA_NUMBERS or this list.
TEXT_NUMBERS: Final = frozenset(
    """attributes bytes code compact_threshold document_index end_block_index end_char_index end_index
    end_page_number exit_code frame_count frame_duration_ms index input input_tokens logit_bias logprob
    max_output_length new_lines new_start num_lines old_lines old_start output_tokens prompt
    reasoning_tokens return_code score scroll_x scroll_y search_result_index size_bytes start_block_index
    start_char_index start_index start_line start_page_number timeout_ms total_lines total_tokens value
    x y""".split()  # noqa: SIM905 (a word list reads better)
)

# Enum fields: a known value is skipped by the scanner, any other is scanned as text (a newer API value
# is harmless to scan; a name or number hidden in an enum is found).
ENUMS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "reasoning_effort": frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
        "effort": frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
        "service_tier": frozenset(
            {"auto", "default", "flex", "scale", "priority", "standard_only", "fast", "ultrafast"}
        ),
        "truncation": frozenset({"auto", "disabled"}),
        "verbosity": frozenset({"low", "medium", "high"}),
        "encoding_format": frozenset({"float", "base64"}),
        "detail": frozenset({"auto", "low", "high", "original"}),
        "role": frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
        "modalities": frozenset({"text", "audio", "image"}),
        "finish_reason": frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"}),
        "stop_reason": frozenset(
            {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
        ),
        "status": frozenset(
            {"in_progress", "completed", "incomplete", "failed", "searching", "queued", "calling"}
            | {"generating", "interpreting"}
        ),
        "voice": frozenset(
            {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"}
            | {"marin", "cedar"}
        ),
        "prompt_cache_retention": frozenset({"in-memory", "in_memory", "24h"}),
        "tool_choice": frozenset({"auto", "none", "required", "any"}),
    }
)

# API fields whose value is user data, walked by the scanner as free text and not checked here.
OPAQUE_FIELDS: Final = frozenset(
    {
        "metadata", "env", "headers", "input_examples", "arguments", "variables", "parameters",
        "input_schema", "output_schema", "schema", "json_schema", "input", "content", "text", "stop",
        "prompt", "messages", "instructions", "system", "tools", "functions", "prediction", "suffix",
    }
)  # fmt: skip
# Fields whose children are still API structure although the field itself holds content.
_STRUCTURE_IN: Final = frozenset({"messages", "tools", "functions", "content", "input", "system"})


def validate(endpoint: str, body: Mapping[str, Any]) -> None:
    """Check every number and map key of API structure against the table; raise BadRequest naming the
    first field that breaks it.  ``endpoint`` decides which root field is the conversation."""
    stack: list[tuple[Any, str]] = [(body, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{where}.{key}" if where else str(key)
                if key == "logit_bias":
                    _logit_bias(value, path)
                    continue
                if isinstance(value, int | float):  # bool included: a flag where a count belongs
                    _number(key, value, path)
                elif isinstance(value, dict | list) and _walks_into(key, value):
                    stack.append((value, path))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, dict | list):
                    stack.append((item, f"{where}[{i}]"))


def _walks_into(key: str, value: Any) -> bool:
    """API structure continues below ``key``: lists of messages, tools and content blocks do; tool
    arguments, schemas and metadata are user data."""
    if key in _STRUCTURE_IN:
        # ``input`` of a tool_use block is the tool's arguments (an object); a conversation's input is a list.
        return isinstance(value, list) or key != "input"
    return key not in OPAQUE_FIELDS


def _number(key: str, value: Any, path: str) -> None:
    spec = NUMBERS.get(key)
    if isinstance(value, bool):
        if spec is not None and not spec.flag:
            raise _invalid(path, "must be a number, not a boolean")
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(path, "must be a finite number")
    if key in DATA_NUMBERS:
        if not isinstance(value, int):
            raise _invalid(path, "must be an integer")
        return
    if spec is None:
        return  # not a setting the table knows: the scanner reads it as text
    if spec.integer and not (isinstance(value, int) or value.is_integer()):
        raise _invalid(path, "must be an integer")
    if not spec.lo <= value <= spec.hi:
        raise _invalid(path, f"must be between {_show(spec.lo)} and {_show(spec.hi)}")
    if isinstance(value, float) and _significant_digits(value) > MAX_FLOAT_DIGITS:
        raise _invalid(path, f"has more than {MAX_FLOAT_DIGITS} significant digits")


def _logit_bias(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _invalid(path, "must be an object mapping token ids to biases")
    for token, bias in value.items():
        if not _TOKEN_ID.fullmatch(token) or int(token) >= MAX_TOKEN_ID:
            raise _invalid(path, f"keys must be token ids (decimal integers below {MAX_TOKEN_ID})")
        if isinstance(bias, bool) or not isinstance(bias, int | float):
            raise _invalid(path, "values must be numbers")
        if not (math.isfinite(bias) and -100 <= bias <= 100) or (
            isinstance(bias, float) and _significant_digits(bias) > MAX_FLOAT_DIGITS
        ):
            raise _invalid(path, f"values must be between -100 and 100, at most {MAX_FLOAT_DIGITS} digits")


_TOKEN_ID: Final = re.compile(r"0|[1-9][0-9]{0,6}", re.ASCII)


def _significant_digits(value: float) -> int:
    mantissa = repr(value).lower().split("e", 1)[0]
    return len(mantissa.replace("-", "").replace(".", "").lstrip("0")) or 1


def _show(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _invalid(path: str, what: str) -> BadRequest:
    return BadRequest(f"'{path}' {what}.", param=path, code="invalid_field")


# -- model names -------------------------------------------------------------------------------------

# A model name: letters, digits and . _ - : / (fine-tunes: "ft:gpt-4o-mini:acme::abc123"), 1-128 long.
_MODEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}", re.ASCII)
_DIGIT_RUN: Final = re.compile(r"[0-9]+", re.ASCII)
# Release dates in model names: "20241022", "2024-08-06".
_MODEL_DATE: Final = re.compile(
    r"(?<![0-9])20[0-9]{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12][0-9]|3[01])(?![0-9])", re.ASCII
)
MAX_MODEL_RUN: Final = 4  # "0125", "2024"
MAX_MODEL_DIGITS: Final = 8  # outside release dates


def model_name_problem(model: str) -> str | None:
    """Why ``model`` is not a plain model name, or None.  Outside a release date, digit runs are short
    (``gpt-4o``, ``3-5``, ``0125``) and few: a phone, card or account number is neither.  A model name
    that breaks this (a generated fine-tune id) can still be used by listing it literally in ``models:``."""
    if not _MODEL.fullmatch(model):
        return "may only contain letters, digits and . _ - : / (at most 128)"
    runs = [len(run) for run in _DIGIT_RUN.findall(_MODEL_DATE.sub("-", model))]
    if any(n > MAX_MODEL_RUN for n in runs):
        return "contains a long run of digits"
    if sum(runs) > MAX_MODEL_DIGITS:
        return "contains too many digits"
    return None
