"""Every text-bearing part of a request body, and every part that cannot be scanned.

Deny by default: :func:`extract` walks the whole parsed JSON body and every string becomes a
:class:`Segment`, except

- values under a few structural keys (:data:`STRUCTURAL_KEYS`) that hold identifiers or enums, and only
  while they are clearly one (:func:`_is_structural_value`): a lowercase enum ("assistant", "gpt-4o-mini",
  "image/png"), or an id of a known provider shape ("call_...", "toolu_..."), and in either case nothing
  that looks like a key of a known secret family or a long run of digits.  Anything else under a
  structural key -- free text, an arbitrary id, a ``model`` value with capitals or colons (a fine-tune
  name) -- is a normal Segment, so secrets smuggled into ``role``, ``id`` or ``status`` are still scanned;
- binary payloads, which become :class:`Unscannable` for policy to decide on: only in the known media
  payload fields (image_url.url, input_audio.data, file_data, Anthropic base64 sources, ...) and only when
  the value really is base64 (a ``;base64,`` data URL or a bare payload); and strings of at least
  :data:`BINARY_MIN` characters anywhere that decode as base64 and look like encoded binary
  ("unknown_binary").  A data URL anywhere else, or one that is not valid base64, is text.  A payload
  given by reference (https URL, file id) is both: an Unscannable of size 0 and a Segment, because a URL
  can carry data too.

Numbers are content too: every number becomes a Segment of its text, short ones included (several short
numbers side by side can spell one value, which the seam scan reads), except under a bounded API
parameter the field table checks (:data:`NUMERIC_PARAMS`) and token ids (a prompt given as token ids is an
Unscannable, "token_ids").  A fraction with six or more significant digits is read as its digits.
Booleans are never content.

Extraction fails closed: a body nested deeper than :data:`MAX_DEPTH` or with more than
:data:`MAX_SEGMENTS` segments and unscannables raises :class:`ExtractionLimit`, which the scanner turns
into ``scan_failed``.  Paths are kept as parent links while walking and only materialised as tuples for
emitted segments, so memory stays proportional to the output, not to depth times breadth.

Dict keys are field names, not content, only when they are known API field names (:data:`FIELD_NAMES`)
in a place where the API puts field names.  User-chosen names (JSON-schema property names, metadata keys,
tool-call input keys, prompt variables, environment variables) and any unknown key are Segments, and the
value under an unknown key is walked with no structural exemptions at all.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from gateway.dialects.fields import ENUMS, NUMBERS

Path = tuple[str | int, ...]
# A path while walking: (parent link, key) or None at the root; see _path.
_Link = tuple[Any, str | int] | None

MAX_DEPTH = 64  # containers nested deeper than this: ExtractionLimit
MAX_SEGMENTS = 20_000  # more segments + unscannables than this: ExtractionLimit
BINARY_MIN = 1 << 20  # below this a base64-looking string outside media fields is scanned as text


class ExtractionLimit(ValueError):
    """The body is too deep or has too many strings to extract safely; scan it as failed."""


@dataclass(frozen=True, slots=True)
class Segment:
    path: Path  # JSON path of the string in the body, e.g. ("messages", 2, "content", 0, "text")
    text: str
    role: str | None  # "system", "developer", "user", "assistant", "tool"; None outside the conversation
    turn: int | None  # index of the conversation turn (messages / input item index), else None
    is_key: bool = False  # the text is the dict key at ``path[-1]``, not the value stored under it


@dataclass(frozen=True, slots=True)
class Unscannable:
    path: Path
    media: str  # "image", "audio", "file", "document", "video", "unknown_binary"
    size: int  # length of the encoded payload string; 0 when given by reference (URL, file id)


@dataclass(frozen=True, slots=True)
class Extracted:
    segments: tuple[Segment, ...]
    unscannable: tuple[Unscannable, ...]


# Values under these keys are identifiers or enums.  Scanning them adds only noise: ids ("call_...",
# "toolu_01...") look like high-entropy secrets and model names like code names.
STRUCTURAL_KEYS: Final = frozenset(
    {
        "role", "type", "object", "id", "call_id", "tool_call_id", "tool_use_id",
        "previous_response_id", "item_id", "encoding_format", "detail", "media_type", "format",
        "reasoning_effort", "service_tier", "truncation", "tool_choice", "finish_reason", "stop_reason",
        "status", "voice", "modalities",
    }
)  # fmt: skip
# Inside a JSON schema only these keywords are structural: names, descriptions, titles, enum values,
# defaults, examples and patterns are written by people and may name customers or projects.
SCHEMA_STRUCTURAL_KEYS: Final = frozenset({"type", "format", "$ref"})

_SCHEMA_KEYWORDS: Final = frozenset(
    """$schema $id $ref $defs $comment $anchor $dynamicRef $dynamicAnchor $vocabulary definitions type enum
    const default examples example title description properties patternProperties additionalProperties
    propertyNames required minProperties maxProperties dependentRequired dependentSchemas dependencies items
    prefixItems additionalItems contains minContains maxContains minItems maxItems uniqueItems
    unevaluatedItems unevaluatedProperties minLength maxLength pattern format contentEncoding
    contentMediaType contentSchema minimum maximum exclusiveMinimum exclusiveMaximum multipleOf allOf anyOf
    oneOf not if then else readOnly writeOnly deprecated nullable strict""".split()  # noqa: SIM905
)
# Field names of the request params of the openai and anthropic SDKs (chat, completions, embeddings,
# responses, messages, count_tokens).  A key outside this list is treated as content: an unknown field is
# either a newer API field (harmless to scan) or data smuggled into a key.
FIELD_NAMES: Final = (
    frozenset(
        """access_programs acknowledged_safety_checks action actions active allowed_callers allowed_domains
        allowed_tools always annotations approval_request_id approve approximate arguments async attributes
        audio authorization background best_of blocked_domains budget_tokens button bytes cache_control
        call_id caller caller_id categories citations cited_text city client_tool_results close_tab code
        command commands compact_threshold comparison_response_id complexity configs connector_id container
        container_id content context context_compression context_management conversation country
        cursor_position custom cyber data defer_loading definition description detail diagnostics diff
        dimensions disable_parallel_tool_use display display_height display_width document_index
        document_title domain domain_secrets double_click download_id eager_input_streaming echo effort
        embedding_weight enabled encoding_format encrypted_content encrypted_index encrypted_stdout
        end_block_index end_char_index end_index end_page_number env environment error error_code
        error_message execution exit_code external_web_access file file_data file_id file_ids file_type
        file_upload file_url filename filters find fingerprint form_input format frame_count
        frame_duration_ms frequency_penalty function function_call functions generate_summary get_page_text
        grammar headers hold_key hover hybrid_search id image image_url include include_obfuscation
        include_usage index inference_geo input input_audio input_examples input_fidelity input_image_mask
        input_schema input_tokens instructions is_error is_file_update javascript_exec json_schema key keys
        left_click left_click_drag left_mouse_down left_mouse_up lines list_tabs logit_bias logprob logprobs
        logs max_characters max_completion_tokens max_content_tokens max_num_results max_output_length
        max_output_tokens max_tokens max_tool_calls max_uses media_type memory_limit message messages
        metadata middle_click modalities mode model moderation moderation_details moderation_stage
        mouse_move n name namespace navigate network_policy never new_lines new_start new_tab num_lines
        old_lines old_start operation outcome output output_compression output_config output_format
        output_schema output_tokens outputs oversized_image page_age parallel_tool_calls param parameters
        partial_images path pattern pending_safety_checks phase policy prediction presence_penalty
        previous_message_id previous_response_id prewarm prompt prompt_cache_breakpoint prompt_cache_key
        prompt_cache_options prompt_cache_retention properties quality queries query ranker ranking_options
        read_console read_network read_only read_page reason reasoning reasoning_effort reasoning_tokens
        refusal region require_approval required response_format response_inclusion result results
        retrieved_at return_code revised_prompt right_click role safety_identifier schema score
        score_threshold screenshot scroll scroll_to scroll_x scroll_y search_content_types
        search_context_size search_result_index seed server_description server_label server_tool_results
        server_url service_tier signature size size_bytes skill_id skills source sources speed
        start_block_index start_char_index start_index start_line start_page_number state_changes status
        stderr stdout stop stop_sequences store stream stream_options strict suffix summary svg svg_usage
        switch_tab syntax system tab_id tabs temperature text text_weight thinking timeout_ms timezone title
        token tool_call_id tool_calls tool_choice tool_id tool_name tool_names tool_references tool_use_id
        tools toolset_name top_logprobs top_p total_lines total_tokens transformations triple_click
        truncation ttl tunnel_id type url url_sources use_cache user user_id user_input user_location
        user_profile_id value variables vector_store_ids verbosity version voice wait web_search_options
        working_directory workspace_id x y zoom""".split()  # noqa: SIM905 (a word list reads better)
    )
    | _SCHEMA_KEYWORDS
    | STRUCTURAL_KEYS
)

# How the value under a key is walked.  NORMAL: API structure.  SCHEMA: a JSON schema.  FREE: opaque user
# data, every key and string is content.  The *_MAP modes are objects keyed by user-chosen names.
_NORMAL, _SCHEMA, _FREE, _SCHEMA_MAP, _NORMAL_MAP, _TOKEN_MAP, _TOKENS = range(7)
_NORMAL_CHILD: Final = MappingProxyType(
    {
        "metadata": _FREE, "env": _FREE, "headers": _FREE, "input_examples": _FREE,
        "input": _FREE,  # Anthropic tool_use.input (the conversation-level "input" is handled in _push_root)
        "arguments": _FREE,  # object-valued arguments (Responses tool_search_call); strings stay text
        "variables": _NORMAL_MAP, "logit_bias": _TOKEN_MAP,
        "parameters": _SCHEMA, "input_schema": _SCHEMA, "output_schema": _SCHEMA, "schema": _SCHEMA,
    }
)  # fmt: skip
_SCHEMA_CHILD: Final = MappingProxyType(
    {
        "properties": _SCHEMA_MAP, "patternProperties": _SCHEMA_MAP, "$defs": _SCHEMA_MAP,
        "definitions": _SCHEMA_MAP, "dependentSchemas": _SCHEMA_MAP,
        "enum": _FREE, "const": _FREE, "default": _FREE, "examples": _FREE, "example": _FREE,
        "dependentRequired": _FREE, "dependencies": _FREE,
    }
)  # fmt: skip
_MAP_CHILD: Final = (0, 0, _FREE, _SCHEMA, _NORMAL, _FREE, _FREE)  # indexed by the map's own mode
# Keys whose values are ids: only an id of a known provider shape is skipped.
_ID_KEYS: Final = frozenset(
    {"id", "call_id", "tool_call_id", "tool_use_id", "previous_response_id", "item_id"}
)

# A content part or key that carries media, and the fields that hold its payload.
_MEDIA: Final = MappingProxyType(
    {
        "image_url": "image", "input_image": "image", "image": "image", "computer_screenshot": "image",
        "input_image_mask": "image", "image_generation_call": "image",
        "input_audio": "audio", "audio": "audio", "video": "video", "input_video": "video",
        "file": "file", "input_file": "file", "container_upload": "file", "document": "document",
    }
)  # fmt: skip
# The encoded bytes themselves ("result" is a Responses image_generation_call's base64 image).
_PAYLOAD_KEYS: Final = frozenset({"data", "file_data", "result"})
_REFERENCE_KEYS: Final = frozenset({"url", "image_url", "file_url", "file_id", "video_url", "audio_url"})

# A structural value is skipped only when it is an enum or an id of a known provider shape.
_ENUM: Final = re.compile(r"[a-z][a-z0-9_.\-]{0,63}", re.ASCII)  # roles, types, statuses, model names
_MIME: Final = re.compile(r"[a-z]{1,32}/[a-z0-9][a-z0-9.+\-]{0,63}", re.ASCII)  # media_type
_POINTER: Final = re.compile(r"#(?:/[A-Za-z0-9_.$\-]{1,64}){0,8}", re.ASCII)  # a schema's local $ref
# Id prefixes of the openai and anthropic APIs (tool calls, responses items, messages, prompts, files).
_ID: Final = re.compile(
    r"(?:call|toolu|srvtoolu|resp|msg|fc|rs|item|chatcmpl|ws|mcp|mcpr|mcpl|ctc|cu|ig|lsh|sh|tool|ci|fs"
    r"|wsc|cimg|file|pmpt|conv|apr|ish|audio)_[A-Za-z0-9]{8,64}",
    re.ASCII,
)
# Cheap signs of a credential: well-known key prefixes (AWS, Google, GitHub, GitLab, Slack, OpenAI,
# Anthropic, Stripe, Hugging Face, npm, PyPI, SendGrid, JWT, PEM).  A hit means "scan it", never "skip".
SECRET_HINT: Final = re.compile(
    r"AKIA|ASIA|AGPA|AIDA|AROA|AIza|eyJ|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk-|sk_|rk_|pk_live"
    r"|pk_test|whsec_|hf_|npm_|pypi-|SG\.|-----BEGIN",
    re.ASCII,
)
# Nine or more digits, single separators allowed between them: the SSN, phone, card or account number
# an enum, a MIME type, a pointer or an id may carry ("x4111-1111-1111-1111", "#/DE89-3704-...").
# A release date ("2024-08-06", "20250305") has eight.
GROUPED_DIGITS: Final = re.compile(r"\d(?:[-_.:/ ]?\d){8,}")
_RANDOM_TOKEN: Final = re.compile(r"[a-z0-9]{16,}")  # a lowercase hex/base36 key posing as an enum

_DATA_URL: Final = re.compile(r"\s*data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+(?:=[^;,]*)?)*),", re.ASCII | re.I)
_B64_STD: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", re.ASCII)
_B64_URL: Final = re.compile(
    r"(?:[A-Za-z0-9_\-]{4})*(?:[A-Za-z0-9_\-]{2}(?:==)?|[A-Za-z0-9_\-]{3}=?)?", re.ASCII
)
_B64_SAMPLE: Final = 1 << 16  # characters looked at to tell encoded binary from text

# Numeric request parameters the field table bounds (gateway.dialects.fields.NUMBERS, checked before the
# scan): their range leaves no room for a value.  Every other number at least _LONG_NUMBER is scanned
# (``seed`` included), and in user data (tool arguments, schemas) every number, however short, so a
# value split into numbers is seen whole by the seam scan.
NUMERIC_PARAMS: Final = frozenset(NUMBERS)
_LONG_NUMBER: Final = 100_000  # six digits: the shortest SSN/phone/card-like number worth scanning

_TEXT, _BIN, _REF, _KEY, _NUM, _TOKS = range(6)  # what a value on the stack is

_ROLES: Final = frozenset({"system", "developer", "user", "assistant", "tool"})
_TURN_KEYS: Final = MappingProxyType(
    {
        "chat.completions": "messages", "messages": "messages", "messages.count_tokens": "messages",
        "responses": "input", "embeddings": "input", "completions": "prompt",
    }
)  # fmt: skip
_ROOT_ROLES: Final = MappingProxyType(
    {
        ("messages", "system"): "system", ("messages.count_tokens", "system"): "system",
        ("responses", "instructions"): "system", ("chat.completions", "prediction"): "assistant",
        ("completions", "suffix"): "user",
    }
)  # fmt: skip
_TOOL_RESULT_SUFFIXES: Final = ("tool_result", "_output")  # tool_result, function_call_output, ...

# value, path link, depth (path length), role, turn, mode, media, action
_Item = tuple[Any, _Link, int, str | None, int | None, int, str | None, int]


def extract(endpoint: str, body: Mapping[str, Any]) -> Extracted:
    """List every string of ``body`` in document order, as a Segment or an Unscannable.

    ``endpoint`` is a gateway endpoint name ("chat.completions", "messages", ...); it only decides which
    top-level fields are the conversation.  Any other name still has its whole body walked, without roles.

    Raises :class:`ExtractionLimit` when the body nests deeper than :data:`MAX_DEPTH` or yields more than
    :data:`MAX_SEGMENTS` segments and unscannables.
    """
    segments: list[Segment] = []
    unscannable: list[Unscannable] = []
    stack: list[_Item] = []
    max_depth, max_out = MAX_DEPTH, MAX_SEGMENTS
    for key in reversed(tuple(body)):
        _push_root(stack, endpoint, key, body[key])
    # Iterative, children pushed in reverse, so the output is in document order without recursion limits.
    while stack:
        value, link, depth, role, turn, mode, media, action = stack.pop()
        if isinstance(value, str) or action in (_NUM, _TOKS):
            _emit(value, link, role, turn, media, action, segments, unscannable)
            if len(segments) + len(unscannable) > max_out:
                raise ExtractionLimit(f"more than {max_out} segments")
            continue
        if depth >= max_depth and isinstance(value, dict | list):  # the body itself is level 1
            raise ExtractionLimit(f"JSON nested deeper than {max_depth}")
        if isinstance(value, dict):
            kind = value.get("type") if mode == _NORMAL else None
            if isinstance(kind, str):
                # The innermost block names the media (an image inside a document is an image), but an
                # Anthropic {"type": "file"} source only says how the enclosing image/document is given.
                found = _MEDIA.get(kind)
                if found is not None and (media is None or kind != "file"):
                    media = found
                if turn is not None and kind.endswith(_TOOL_RESULT_SUFFIXES):
                    role = "tool"
            text_source = kind == "text"  # Anthropic {"type": "text", "data": ...} document source
            for key in reversed(value):
                _push_entry(stack, key, value[key], link, depth, role, turn, mode, media, text_source)
        elif isinstance(value, list):
            for i in range(len(value) - 1, -1, -1):
                item = value[i]
                if isinstance(item, str | dict | list):
                    stack.append((item, (link, i), depth + 1, role, turn, mode, media, _TEXT))
                elif number_text(item, every=True) is not None:
                    stack.append((item, (link, i), depth + 1, role, turn, mode, media, _NUM))
    return Extracted(tuple(segments), tuple(unscannable))


def _path(link: _Link) -> Path:
    """Materialise a parent-link path; only done for what is emitted."""
    steps: list[str | int] = []
    while link is not None:
        link, step = link
        steps.append(step)
    steps.reverse()
    return tuple(steps)


def number_text(value: Any, every: bool = False) -> str | None:
    """The text of a number as a detector should read it, or None for a short number when not
    ``every`` (short numbers matter as the pieces of one value).  A fraction with six or more
    significant digits is read as its digits alone ("0.4111111111111111" -> "4111111111111111"): a
    number can carry a value after its point too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if every or abs(value) >= _LONG_NUMBER else None
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value)) if every or abs(value) >= _LONG_NUMBER else None
    digits = repr(value).lower().split("e", 1)[0].replace("-", "").replace(".", "").lstrip("0")
    if len(digits) >= 6:
        return digits
    return repr(value) if every else None


def _is_token_ids(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _push_root(stack: list[_Item], endpoint: str, key: str, value: Any) -> None:
    if key == _TURN_KEYS.get(endpoint):
        if isinstance(value, str):
            stack.append((value, (None, key), 1, "user", 0, _NORMAL, None, _TEXT))
            return
        if isinstance(value, list):
            tokens = endpoint in ("embeddings", "completions")  # ints there are token ids
            if tokens and _is_token_ids(value):  # one prompt given as token ids: nothing can read it
                stack.append((value, (None, key), 1, "user", 0, _NORMAL, None, _TOKS))
                return
            for i in range(len(value) - 1, -1, -1):
                item = value[i]
                action = _TEXT
                if tokens and (_is_token_ids(item) or (isinstance(item, int) and not isinstance(item, bool))):
                    action = _TOKS
                elif not isinstance(item, str | dict | list):
                    if number_text(item, every=True) is None:
                        continue
                    action = _NUM
                role = _turn_role(endpoint, item)
                stack.append((item, ((None, key), i), 2, role, i, _NORMAL, None, action))
            return
    _push_entry(stack, key, value, None, 0, _ROOT_ROLES.get((endpoint, key)), None, _NORMAL, None, False)


def _turn_role(endpoint: str, item: Any) -> str:
    if endpoint in ("embeddings", "completions") or not isinstance(item, dict):
        return "user"
    role = item.get("role")
    if isinstance(role, str):
        # Legacy "function" messages are tool results; an unknown role is still conversation, and
        # counting it as the user's keeps it in the conversation (seams between turns).
        return "tool" if role == "function" else role if role in _ROLES else "user"
    kind = item.get("type")  # Responses items without a role
    if isinstance(kind, str):
        if kind.endswith("_output"):
            return "tool"
        if kind.endswith(("_call", "_request")) or kind in ("reasoning", "mcp_list_tools", "program"):
            return "assistant"
    return "user"


def _push_entry(
    stack: list[_Item],
    key: str,
    value: Any,
    link: _Link,
    depth: int,
    role: str | None,
    turn: int | None,
    mode: int,
    media: str | None,
    text_source: bool,
) -> None:
    """Push one dict entry: its value, then its key when the key is content (so the key pops first)."""
    if mode in (_NORMAL, _SCHEMA):
        key_is_text = key not in FIELD_NAMES
        if key_is_text:
            child = _FREE  # unknown field: nothing under it is trusted to be structural
        elif mode == _NORMAL:
            child = _NORMAL_CHILD.get(key, _NORMAL)
        else:
            child = _SCHEMA_CHILD.get(key, _SCHEMA)
        structural = (
            not key_is_text
            and child == mode
            and (key in STRUCTURAL_KEYS if mode == _NORMAL else key in SCHEMA_STRUCTURAL_KEYS)
        )
        numeric = not key_is_text and key in NUMERIC_PARAMS
    else:
        # Keys of a map are names its author chose, content; logit_bias keys are token ids, checked by
        # the field table, and still read: several of them side by side can spell a number.
        key_is_text = True
        child = _MAP_CHILD[mode]
        structural = numeric = False
    vlink = (link, key)
    if isinstance(value, str):
        if value and not (structural and _is_structural_value(value, key)):
            action = _TEXT
            if mode == _NORMAL and media is not None:
                if key in _PAYLOAD_KEYS and not text_source:
                    action = _BIN
                elif key in _REFERENCE_KEYS:
                    action = _REF
            stack.append((value, vlink, depth + 1, role, turn, child, media, action))
    elif isinstance(value, dict | list):
        skip = structural and isinstance(value, list) and all(_is_structural_value(v, key) for v in value)
        if not skip:
            child_media = (media or _MEDIA.get(key)) if mode == _NORMAL else media
            stack.append((value, vlink, depth + 1, role, turn, child, child_media, _TEXT))
    elif not numeric and number_text(value, every=True) is not None:
        stack.append((value, vlink, depth + 1, role, turn, child, None, _NUM))
    if key_is_text and key:
        stack.append((key, vlink, depth + 1, role, turn, child, None, _KEY))


def _is_structural_value(value: Any, key: str) -> bool:
    """Whether a value under a structural key is clearly an enum or a known-shape id, so safe to skip.
    An enum field the field table knows (gateway.dialects.fields.ENUMS) takes its known values only;
    an id field takes ids of a known provider shape only."""
    if not isinstance(value, str) or len(value) > 128:
        return False
    known = ENUMS.get(key)
    if known is not None:
        return value in known
    if SECRET_HINT.search(value) or GROUPED_DIGITS.search(value):
        return False
    if _ID.fullmatch(value) is not None:
        return True
    if key in _ID_KEYS:
        return False
    if _MIME.fullmatch(value) or _POINTER.fullmatch(value):
        return True
    # An enum word; a lowercase hex or base36 run mixing letters and digits is a key, not an enum.
    return _ENUM.fullmatch(value) is not None and not any(
        not t.isdigit() and not t.isalpha() for t in _RANDOM_TOKEN.findall(value)
    )


def _is_base64(text: str) -> bool:
    """Strict base64 (standard or urlsafe alphabet, line breaks allowed), as ``b64decode(validate=True)``."""
    if "\n" in text or "\r" in text:
        text = text.replace("\r", "").replace("\n", "")
    if not text:
        return False
    if _B64_STD.fullmatch(text):
        return True
    return _B64_URL.fullmatch(text) is not None


def _looks_binary(text: str) -> bool:
    """A huge string that decodes as base64 and whose symbols are spread like encoded bytes: no single
    symbol is more than 1/16 of a sample (random base64 spreads them ~1/64; words, separators and
    repeated records do not)."""
    if not _is_base64(text):
        return False
    sample = text[:_B64_SAMPLE].replace("\r", "").replace("\n", "")
    top = Counter(sample).most_common(1)
    return bool(top) and top[0][1] * 16 <= len(sample)


def _emit(
    value: Any,
    link: _Link,
    role: str | None,
    turn: int | None,
    media: str | None,
    action: int,
    segments: list[Segment],
    unscannable: list[Unscannable],
) -> None:
    path = _path(link)
    if action == _NUM:
        segments.append(Segment(path, str(number_text(value, every=True)), role, turn))
        return
    if action == _TOKS:
        unscannable.append(Unscannable(path, "token_ids", len(value) if isinstance(value, list) else 1))
        return
    text: str = value
    if not text:
        return
    if action in (_BIN, _REF):  # a known media payload field
        data_url = _DATA_URL.match(text) if "data:" in text[:64].lower() else None
        if data_url is not None:
            params = data_url.group(2).lower().split(";")
            if "base64" in params and _is_base64(text[data_url.end() :]):
                media = media or _mime_media(data_url.group(1) or "")
                unscannable.append(Unscannable(path, media, len(text)))
                return
        elif action == _BIN and _is_base64(text):
            unscannable.append(Unscannable(path, media or "unknown_binary", len(text)))
            return
        elif action == _REF:
            unscannable.append(Unscannable(path, media or "unknown_binary", 0))
    elif len(text) >= BINARY_MIN and _looks_binary(text):
        unscannable.append(Unscannable(path, media or "unknown_binary", len(text)))
        return
    segments.append(Segment(path, text, role, turn, action == _KEY))


def _mime_media(mime: str) -> str:
    mime = mime.lower()
    major = mime.partition("/")[0]
    if major in ("image", "audio", "video"):
        return major
    return "document" if mime == "application/pdf" else "file"
