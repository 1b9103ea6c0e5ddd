"""Request bodies: Anthropic Messages <-> OpenAI Chat Completions.  Pure functions, no I/O.

Both directions raise ``ValueError`` for input that has no faithful translation.  The
messages name the location (``messages[2].content[0]``) but never echo request content,
because the caller returns them to the client and may record them.

The output shares nothing mutable with the input (tool schemas are deep-copied).
"""

from __future__ import annotations

import copy
from typing import Any

from gateway.dialects.translate_response import anthropic_tool_use_to_openai, openai_tool_call_to_anthropic

_TO_OPENAI = "when the destination speaks the OpenAI format"
_TO_ANTHROPIC = "when the destination speaks the Anthropic format"


def _as_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object")
    return value


def _as_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be an array")
    return value


def _as_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where} must be a string")
    return value


def _text_block(block: dict[str, Any], where: str) -> dict[str, Any]:
    # Anthropic text blocks and OpenAI text parts share this shape; extras like cache_control go.
    return {"type": "text", "text": _as_str(block.get("text"), f"{where}.text")}


def _join_text(content: Any, where: str, sep: str, destination: str) -> str:
    """Flatten a string or a list of text blocks/parts, for fields that only take a string."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for k, item in enumerate(_as_list(content, where)):
        item = _as_dict(item, f"{where}[{k}]")
        if item.get("type") != "text":
            raise ValueError(f"{where}[{k}]: only text is supported here {destination}")
        texts.append(_text_block(item, f"{where}[{k}]")["text"])
    return sep.join(texts)


def _copy_schema(schema: Any, where: str) -> dict[str, Any]:
    if schema is None:
        return {"type": "object", "properties": {}}
    return copy.deepcopy(_as_dict(schema, where))


def anthropic_request_to_openai(body: dict[str, Any]) -> dict[str, Any]:
    """Translate an Anthropic ``/v1/messages`` request body into an OpenAI chat request body."""
    body = _as_dict(body, "request body")
    messages: list[dict[str, Any]] = []
    system = _join_text(body.get("system"), "system", "\n\n", _TO_OPENAI)
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(_as_list(body.get("messages"), "messages")):
        where = f"messages[{i}]"
        messages.extend(_anthropic_message_to_openai(_as_dict(message, where), where))
    out: dict[str, Any] = {"messages": messages}
    if "model" in body:
        out["model"] = body["model"]
    _anthropic_options_to_openai(body, out)
    _anthropic_tools_to_openai(body, out)
    return out


def _openai_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    # A lone text part becomes a plain string: the form every OpenAI-compatible server accepts.
    if len(parts) == 1 and parts[0]["type"] == "text":
        text: str = parts[0]["text"]
        return text
    return parts or ""


def _anthropic_message_to_openai(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise ValueError(f"{where}.role must be 'user' or 'assistant'")
    content = message.get("content")
    blocks = (
        [{"type": "text", "text": content}]
        if isinstance(content, str)
        else _as_list(content, f"{where}.content")
    )
    tool_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        block_where = f"{where}.content[{j}]"
        kind = _as_dict(block, block_where).get("type")
        if kind == "text":
            parts.append(_text_block(block, block_where))
        elif kind == "image" and role == "user":
            parts.append(_image_to_openai(block, block_where))
        elif kind == "tool_result" and role == "user":
            tool_messages.append(_tool_result_to_openai(block, block_where))
        elif kind == "tool_use" and role == "assistant":
            tool_calls.append(anthropic_tool_use_to_openai(block, block_where))
        elif kind not in ("thinking", "redacted_thinking"):
            raise ValueError(f"{block_where}: this content block type is not supported here {_TO_OPENAI}")
    if role == "assistant":
        return [_openai_assistant_message(parts, tool_calls)]
    # OpenAI wants tool results as separate messages right after the assistant's tool_calls,
    # so they go first and the rest of the user turn follows.
    if parts or not tool_messages:
        tool_messages.append({"role": "user", "content": _openai_content(parts)})
    return tool_messages


def _openai_assistant_message(parts: list[dict[str, Any]], calls: list[dict[str, Any]]) -> dict[str, Any]:
    message = {"role": "assistant", "content": _openai_content(parts) if parts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_result_to_openai(block: dict[str, Any], where: str) -> dict[str, Any]:
    tool_call_id = _as_str(block.get("tool_use_id"), f"{where}.tool_use_id")
    text = _join_text(block.get("content"), f"{where}.content", "\n", _TO_OPENAI)
    # OpenAI has no is_error flag; the error text itself tells the model what happened.
    return {"role": "tool", "tool_call_id": tool_call_id, "content": text}


def _image_to_openai(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = _as_dict(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        media_type = _as_str(source.get("media_type"), f"{where}.source.media_type")
        data = _as_str(source.get("data"), f"{where}.source.data")
        url = f"data:{media_type};base64,{data}"
    elif kind == "url":
        url = _as_str(source.get("url"), f"{where}.source.url")
    else:
        raise ValueError(f"{where}.source: this image source type is not supported {_TO_OPENAI}")
    return {"type": "image_url", "image_url": {"url": url}}


def _anthropic_options_to_openai(body: dict[str, Any], out: dict[str, Any]) -> None:
    # top_k, thinking, service_tier and cache hints have no OpenAI equivalent and are dropped.
    for key in ("max_tokens", "temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop_sequences")
    if stop:
        out["stop"] = list(_as_list(stop, "stop_sequences"))
    metadata = body.get("metadata")
    if metadata is not None:
        user_id = _as_dict(metadata, "metadata").get("user_id")
        if user_id is not None:
            out["user"] = _as_str(user_id, "metadata.user_id")
    if "stream" in body:
        out["stream"] = body["stream"] is True
        if out["stream"]:
            # Without this OpenAI sends no token counts in a stream, and usage must be audited.
            out["stream_options"] = {"include_usage": True}


def _anthropic_tools_to_openai(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = _as_list(body.get("tools", []), "tools")
    if tools:
        # OpenAI rejects an empty tools array, so none is sent.
        out["tools"] = [
            _anthropic_tool_to_openai(_as_dict(t, f"tools[{i}]"), f"tools[{i}]") for i, t in enumerate(tools)
        ]
    choice = body.get("tool_choice")
    if choice is None:
        return
    choice = _as_dict(choice, "tool_choice")
    match choice.get("type"):
        case "auto" | "none" as kind:
            # OpenAI rejects tool_choice without tools; without tools these two mean nothing.
            if tools:
                out["tool_choice"] = kind
        case "any":
            out["tool_choice"] = "required"
        case "tool":
            name = _as_str(choice.get("name"), "tool_choice.name")
            out["tool_choice"] = {"type": "function", "function": {"name": name}}
        case _:
            raise ValueError(f"tool_choice: this tool_choice type is not supported {_TO_OPENAI}")
    if choice.get("disable_parallel_tool_use") is True and tools:
        out["parallel_tool_calls"] = False


def _anthropic_tool_to_openai(tool: dict[str, Any], where: str) -> dict[str, Any]:
    if tool.get("type") not in (None, "custom"):
        raise ValueError(f"{where}: server tools are not supported {_TO_OPENAI}")
    function: dict[str, Any] = {"name": _as_str(tool.get("name"), f"{where}.name")}
    if tool.get("description") is not None:
        function["description"] = _as_str(tool["description"], f"{where}.description")
    schema = tool.get("input_schema")
    function["parameters"] = _copy_schema(schema, f"{where}.input_schema")
    return {"type": "function", "function": function}


def openai_request_to_anthropic(body: dict[str, Any], *, default_max_tokens: int = 4096) -> dict[str, Any]:
    """Translate an OpenAI chat request body into an Anthropic ``/v1/messages`` request body.

    ``default_max_tokens`` fills Anthropic's required ``max_tokens`` when the client sent none.
    """
    body = _as_dict(body, "request body")
    _reject_untranslatable_openai_options(body)
    system, messages = _openai_messages_to_anthropic(_as_list(body.get("messages"), "messages"))
    out: dict[str, Any] = {"messages": messages}
    if "model" in body:
        out["model"] = body["model"]
    if system:
        out["system"] = "\n\n".join(system)
    _openai_options_to_anthropic(body, out, default_max_tokens)
    _openai_tools_to_anthropic(body, out)
    return out


def _reject_untranslatable_openai_options(body: dict[str, Any]) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise ValueError(f"n other than 1 is not supported {_TO_ANTHROPIC}")
    if body.get("logprobs") or body.get("top_logprobs"):
        raise ValueError(f"logprobs and top_logprobs are not supported {_TO_ANTHROPIC}")
    response_format = body.get("response_format")
    if response_format is not None and _as_dict(response_format, "response_format").get("type") != "text":
        raise ValueError(f"response_format json_object and json_schema are not supported {_TO_ANTHROPIC}")
    if body.get("functions") is not None or body.get("function_call") is not None:
        raise ValueError(f"the legacy functions and function_call fields are not supported {_TO_ANTHROPIC}")
    modalities = body.get("modalities")
    if body.get("audio") is not None or (isinstance(modalities, list) and "audio" in modalities):
        raise ValueError(f"audio output is not supported {_TO_ANTHROPIC}")


def _openai_messages_to_anthropic(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        message = _as_dict(message, where)
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_join_text(message.get("content"), f"{where}.content", "\n", _TO_ANTHROPIC))
            continue
        if role == "user":
            converted = {"role": "user", "content": _openai_user_content(message.get("content"), where)}
        elif role == "assistant":
            converted = {"role": "assistant", "content": _openai_assistant_content(message, where)}
        elif role == "tool":
            converted = {"role": "user", "content": [_openai_tool_message_to_result(message, where)]}
        else:
            raise ValueError(f"{where}.role must be one of system, developer, user, assistant, tool")
        _append_alternating(out, converted)
    return system, out


def _append_alternating(out: list[dict[str, Any]], message: dict[str, Any]) -> None:
    # Anthropic requires user/assistant alternation; OpenAI allows runs of one role
    # (and tool messages, which become user turns), so runs are folded into one turn.
    if not out or out[-1]["role"] != message["role"]:
        out.append(message)
        return
    out[-1]["content"] = _as_blocks(out[-1]["content"]) + _as_blocks(message["content"])


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return content


def _openai_user_content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    blocks: list[dict[str, Any]] = []
    for k, part in enumerate(_as_list(content, f"{where}.content")):
        part_where = f"{where}.content[{k}]"
        part = _as_dict(part, part_where)
        kind = part.get("type")
        if kind == "text":
            blocks.append(_text_block(part, part_where))
        elif kind == "image_url":
            blocks.append(_openai_image_to_anthropic(part.get("image_url"), f"{part_where}.image_url"))
        else:
            raise ValueError(f"{part_where}: this content part type is not supported {_TO_ANTHROPIC}")
    return blocks


def _openai_image_to_anthropic(image_url: Any, where: str) -> dict[str, Any]:
    if not isinstance(image_url, str):
        image_url = _as_dict(image_url, where).get("url")
    url = _as_str(image_url, f"{where}.url")
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, comma, data = url[len("data:") :].partition(",")
    params = header.split(";")
    if not comma or "base64" not in params[1:]:
        raise ValueError(f"{where}.url: data URLs must be base64-encoded")
    return {"type": "image", "source": {"type": "base64", "media_type": params[0], "data": data}}


def _openai_assistant_content(message: dict[str, Any], where: str) -> str | list[dict[str, Any]]:
    if message.get("function_call") is not None:
        raise ValueError(f"{where}.function_call: legacy function calls are not supported {_TO_ANTHROPIC}")
    content = message.get("content")
    tool_calls = message.get("tool_calls") or []
    if isinstance(content, str) and not tool_calls:
        return content
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str):
        blocks.extend(_as_blocks(content))
    elif content is not None:
        for k, part in enumerate(_as_list(content, f"{where}.content")):
            part = _as_dict(part, f"{where}.content[{k}]")
            kind = part.get("type")
            # A refusal the model gave earlier is still something it said; keep it as text.
            if kind not in ("text", "refusal"):
                raise ValueError(
                    f"{where}.content[{k}]: this content part type is not supported {_TO_ANTHROPIC}"
                )
            blocks.append({"type": "text", "text": _as_str(part.get(kind), f"{where}.content[{k}].{kind}")})
    for k, call in enumerate(_as_list(tool_calls, f"{where}.tool_calls")):
        blocks.append(openai_tool_call_to_anthropic(call, f"{where}.tool_calls[{k}]"))
    return blocks if blocks else ""


def _openai_tool_message_to_result(message: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": _as_str(message.get("tool_call_id"), f"{where}.tool_call_id"),
        "content": _join_text(message.get("content"), f"{where}.content", "\n", _TO_ANTHROPIC),
    }


def _openai_options_to_anthropic(body: dict[str, Any], out: dict[str, Any], default_max_tokens: int) -> None:
    # seed, penalties, logit_bias, stream_options, store and similar knobs have no
    # Anthropic counterpart and do not change what a correct answer looks like: dropped.
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    out["max_tokens"] = default_max_tokens if max_tokens is None else max_tokens
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise ValueError("temperature must be a number")
        # OpenAI's range is 0..2, Anthropic's 0..1; clamping keeps the request valid.
        out["temperature"] = min(max(temperature, 0), 1)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(_as_list(stop, "stop"))
    if body.get("user") is not None:
        out["metadata"] = {"user_id": _as_str(body["user"], "user")}
    if "stream" in body:
        out["stream"] = body["stream"]


def _openai_tools_to_anthropic(body: dict[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None:
        out["tools"] = [
            _openai_tool_to_anthropic(_as_dict(tool, f"tools[{i}]"), f"tools[{i}]")
            for i, tool in enumerate(_as_list(tools, "tools"))
        ]
    choice = body.get("tool_choice")
    if choice is not None:
        out["tool_choice"] = _openai_tool_choice_to_anthropic(choice)
    if body.get("parallel_tool_calls") is False and tools:
        tool_choice = out.setdefault("tool_choice", {"type": "auto"})
        # Anthropic's "none" choice has no such flag; no tools run, so nothing runs in parallel.
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True


def _openai_tool_to_anthropic(tool: dict[str, Any], where: str) -> dict[str, Any]:
    if tool.get("type") != "function":
        raise ValueError(f"{where}: only function tools are supported {_TO_ANTHROPIC}")
    function = _as_dict(tool.get("function"), f"{where}.function")
    out: dict[str, Any] = {"name": _as_str(function.get("name"), f"{where}.function.name")}
    if function.get("description") is not None:
        out["description"] = _as_str(function["description"], f"{where}.function.description")
    out["input_schema"] = _copy_schema(function.get("parameters"), f"{where}.function.parameters")
    return out


def _openai_tool_choice_to_anthropic(choice: Any) -> dict[str, Any]:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        function = _as_dict(choice.get("function"), "tool_choice.function")
        return {"type": "tool", "name": _as_str(function.get("name"), "tool_choice.function.name")}
    raise ValueError(f"tool_choice: this tool_choice value is not supported {_TO_ANTHROPIC}")
