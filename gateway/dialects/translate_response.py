"""Response bodies: OpenAI chat completion <-> Anthropic message (non-streaming).  No I/O.

Also home to the small mappings the request and stream translators share (stop reasons,
ids, tool calls), so each rule lives in one place.  Input that cannot be translated
raises ``ValueError`` naming the location, never the content.
"""

from __future__ import annotations

import json
import uuid
from typing import Any


def _as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    return value


def _as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string")
    return value


def _as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be an array")
    return value


def _count(value: Any) -> int:
    # Token counts are reported by the upstream; a missing or malformed one counts as zero
    # rather than failing an answer the client already paid for.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage(body: dict[str, Any]) -> dict[str, Any]:
    usage = body.get("usage")
    return usage if isinstance(usage, dict) else {}


def openai_finish_reason_to_anthropic(reason: str | None) -> str:
    match reason:
        case "length":
            return "max_tokens"
        case "tool_calls" | "function_call":
            return "tool_use"
        case "content_filter":
            return "refusal"
        case _:
            # "stop", a missing reason, and provider-specific extras all mean a normal end.
            return "end_turn"


def anthropic_stop_reason_to_openai(reason: str | None) -> str:
    match reason:
        case "max_tokens" | "model_context_window_exceeded":
            return "length"
        case "tool_use":
            return "tool_calls"
        case "refusal":
            return "content_filter"
        case _:
            # end_turn, stop_sequence, pause_turn: OpenAI has nothing finer than "stop".
            return "stop"


def anthropic_message_id(openai_id: Any) -> str:
    """``chatcmpl-abc`` -> ``msg_abc``: Anthropic clients expect the ``msg_`` prefix."""
    text = openai_id if isinstance(openai_id, str) else ""
    return "msg_" + text.removeprefix("chatcmpl-")


def openai_completion_id(anthropic_id: Any) -> str:
    return "chatcmpl-" + (anthropic_id if isinstance(anthropic_id, str) else "")


def anthropic_prompt_tokens(usage: dict[str, Any]) -> int:
    """OpenAI's prompt_tokens counts cached input too; Anthropic reports those separately."""
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(_count(usage.get(key)) for key in keys)


def parse_tool_arguments(arguments: Any, where: str) -> dict[str, Any]:
    """Decode OpenAI tool-call ``arguments`` text, which Anthropic needs as a JSON object.

    Empty text means "no arguments": some OpenAI-compatible servers send it for
    parameterless tools.
    """
    text = _as_str(arguments, where)
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        raise ValueError(f"{where} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must encode a JSON object")
    return value


def new_tool_use_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


def openai_tool_call_to_anthropic(call: Any, where: str) -> dict[str, Any]:
    """An OpenAI ``tool_calls`` entry as an Anthropic ``tool_use`` block."""
    call = _as_dict(call, where)
    if call.get("type", "function") != "function":
        raise ValueError(f"{where}: only function tool calls are supported in the Anthropic format")
    function = _as_dict(call.get("function"), f"{where}.function")
    return {
        "type": "tool_use",
        "id": _as_str(call.get("id"), f"{where}.id"),
        "name": _as_str(function.get("name"), f"{where}.function.name"),
        "input": parse_tool_arguments(function.get("arguments"), f"{where}.function.arguments"),
    }


def anthropic_tool_use_to_openai(block: dict[str, Any], where: str) -> dict[str, Any]:
    """An Anthropic ``tool_use`` block as an OpenAI ``tool_calls`` entry."""
    tool_input = block.get("input", {})
    if not isinstance(tool_input, dict):
        raise ValueError(f"{where}.input must be an object")
    function = {"name": _as_str(block.get("name"), f"{where}.name"), "arguments": json.dumps(tool_input)}
    return {"id": _as_str(block.get("id"), f"{where}.id"), "type": "function", "function": function}


def openai_response_to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """Translate an OpenAI chat completion into an Anthropic message.  Only choice 0 is used."""
    body = _as_dict(body, "response body")
    choices = _as_list(body.get("choices"), "choices")
    if not choices:
        raise ValueError("the upstream response has no choices")
    choice = _as_dict(choices[0], "choices[0]")
    message = _as_dict(choice.get("message"), "choices[0].message")
    content: list[dict[str, Any]] = []
    # A refusal arrives in its own field with content null; it is still the model's answer.
    text = message.get("content") or message.get("refusal")
    if text:
        content.append({"type": "text", "text": _as_str(text, "choices[0].message.content")})
    where = "choices[0].message.tool_calls"
    for k, call in enumerate(_as_list(message.get("tool_calls"), where)):
        if isinstance(call, dict) and not call.get("id"):
            # Some OpenAI-compatible servers (local ones especially) omit tool-call ids; an Anthropic
            # client needs one to send the tool result back.
            call = {**call, "id": new_tool_use_id()}
        content.append(openai_tool_call_to_anthropic(call, f"{where}[{k}]"))
    usage = _usage(body)
    return {
        "id": anthropic_message_id(body.get("id")),
        "type": "message",
        "role": "assistant",
        "model": body.get("model") or "",
        "content": content,
        "stop_reason": openai_finish_reason_to_anthropic(choice.get("finish_reason")),
        "stop_sequence": None,
        "usage": {
            "input_tokens": _count(usage.get("prompt_tokens")),
            "output_tokens": _count(usage.get("completion_tokens")),
        },
    }


def anthropic_response_to_openai(body: dict[str, Any], *, created: int = 0) -> dict[str, Any]:
    """Translate an Anthropic message into an OpenAI chat completion.

    ``created`` is the completion's Unix timestamp; the caller supplies it so that this
    function stays deterministic.
    """
    body = _as_dict(body, "response body")
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for k, block in enumerate(_as_list(body.get("content"), "content")):
        block = _as_dict(block, f"content[{k}]")
        if block.get("type") == "text":
            texts.append(_as_str(block.get("text"), f"content[{k}].text"))
        elif block.get("type") == "tool_use":
            tool_calls.append(anthropic_tool_use_to_openai(block, f"content[{k}]"))
        # Thinking and server-tool blocks have no place in a chat completion.
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    usage = _usage(body)
    prompt_tokens = anthropic_prompt_tokens(usage)
    completion_tokens = _count(usage.get("output_tokens"))
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": anthropic_stop_reason_to_openai(body.get("stop_reason")),
        "logprobs": None,
    }
    return {
        "id": openai_completion_id(body.get("id")),
        "object": "chat.completion",
        "created": created,
        "model": body.get("model") or "",
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
