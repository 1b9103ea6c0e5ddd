"""Bodies and SSE sequences of the fake OpenAI Responses API (``POST /v1/responses``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.fakes._common import (
    DELTA_CHARS,
    HOLE,
    TOOL_ARG_CHARS,
    StreamPlan,
    Template,
    injected,
    jstr,
    new_id,
    pieces,
    sse,
    text_of,
    tool_args,
    words,
)


def read_input(body: dict[str, Any]) -> tuple[str, int, bool]:
    """Return (answer text, prompt words, whether the last input item is a tool result)."""
    raw = body.get("input")
    instructions = body.get("instructions")
    prompt_words = words(instructions) if isinstance(instructions, str) else 0
    if isinstance(raw, str):
        return "echo: " + raw, prompt_words + words(raw), False
    items = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
    for item in items:
        prompt_words += words(text_of(item.get("content"))) + words(str(item.get("output", "")))
    if items and items[-1].get("type") == "function_call_output":
        return "echo: " + str(items[-1].get("output", "")), prompt_words, True
    user = [i for i in items if i.get("role") == "user"]
    return "echo: " + (text_of(user[-1].get("content")) if user else ""), prompt_words, False


def first_tool(body: dict[str, Any], model: str) -> str | None:
    tools = body.get("tools")
    if "tool" not in model or not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
        return None
    fn = tools[0].get("function", tools[0])  # chat tools nest under "function", responses tools are flat
    return str(fn.get("name", "")) if isinstance(fn, dict) else None


def responses_answer(
    body: dict[str, Any], model: str
) -> tuple[Callable[[], dict[str, Any]], Callable[[], StreamPlan]]:
    """Build the non-stream body and the stream plan for one Responses request."""
    answer, prompt_words, after_tool = read_input(body)
    tool = None if after_tool else first_tool(body, model)
    # read_input answers "echo: " + the last user text unless the last item is a tool result.
    args = tool_args(model, answer.removeprefix("echo: "))
    answer = injected(model, answer)
    out_words = words(args if tool is not None else answer)
    usage = {
        "input_tokens": prompt_words,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": out_words,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt_words + out_words,
    }
    rid, created = new_id("resp_"), int(time.time())
    item_id = new_id("fc_" if tool is not None else "msg_")
    call_id = new_id("call_")[:29]

    def part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def item(done: bool) -> dict[str, Any]:
        status = "completed" if done else "in_progress"
        if tool is not None:
            return {
                "id": item_id,
                "type": "function_call",
                "status": status,
                "arguments": args if done else "",
                "call_id": call_id,
                "name": tool,
            }
        content = [part(answer)] if done else []
        return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}

    def response(done: bool) -> dict[str, Any]:
        return {
            "id": rid,
            "object": "response",
            "created_at": created,
            "status": "completed" if done else "in_progress",
            "background": False,
            "completed_at": created if done else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": model,
            "output": [item(True)] if done else [],
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": usage if done else None,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def event(kind: str, seq: int, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": seq, **fields}, event=kind)

    def plan() -> StreamPlan:
        events: list[bytes] = []

        def add(kind: str, **fields: Any) -> None:
            events.append(event(kind, len(events), **fields))

        def add_deltas(kind: str, texts: list[str], **fields: Any) -> Template:
            template = Template({"type": kind, "sequence_number": HOLE, **fields, "delta": HOLE}, event=kind)
            for text in texts:
                events.append(template.fill(str(len(events)).encode(), jstr(text)))
            return template

        add("response.created", response=response(False))
        add("response.in_progress", response=response(False))
        add("response.output_item.added", output_index=0, item=item(False))
        loc: dict[str, Any] = {"item_id": item_id, "output_index": 0}
        if tool is not None:
            head = len(events)
            drip_t = add_deltas("response.function_call_arguments.delta", pieces(args, TOOL_ARG_CHARS), **loc)
            add("response.function_call_arguments.done", **loc, arguments=args, name=tool)
        else:
            loc["content_index"] = 0
            add("response.content_part.added", **loc, part=part(""))
            head = len(events)
            drip_t = add_deltas("response.output_text.delta", pieces(answer, DELTA_CHARS), **loc, logprobs=[])
            add("response.output_text.done", **loc, text=answer, logprobs=[])
            add("response.content_part.done", **loc, part=part(answer))
        add("response.output_item.done", output_index=0, item=item(True))
        add("response.completed", response=response(True))

        def drip(n: int) -> bytes:
            return drip_t.fill(str(head + n).encode(), b'"."')

        def error(sent: int) -> bytes:
            return event("error", sent, code="server_error", message="upstream exploded", param=None)

        return StreamPlan(events, head, drip, error)

    return lambda: response(True), plan
