"""A fake Anthropic API: messages (stream and not), count_tokens, models."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.fakes._common import (
    DELTA_CHARS,
    HOLE,
    TOOL_ARG_CHARS,
    Exchange,
    FakeProvider,
    Headers,
    Received,
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

# Not "claude-sonnet-4-5": anthropic 2.10 warns (DeprecationWarning) when a deprecated model is requested.
DEFAULT_ANTHROPIC_MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7")

_ERRORS = {
    "server": "api_error",
    "rate_limit": "rate_limit_error",
    "invalid_request": "invalid_request_error",
    "auth": "authentication_error",
    "not_found": "not_found_error",
}
_EXTRA_HEADERS: Headers = [
    (b"anthropic-organization-id", b"00000000-0000-4000-8000-000000000000"),
    (b"anthropic-ratelimit-requests-limit", b"4000"),
    (b"anthropic-ratelimit-requests-remaining", b"3999"),
]


def _block_text(content: Any) -> str:
    """Text of a content list including what sits inside tool_result blocks."""
    if not isinstance(content, list):
        return text_of(content)
    parts = [text_of(content)]
    parts += [
        text_of(b.get("content")) for b in content if isinstance(b, dict) and b.get("type") == "tool_result"
    ]
    return " ".join(p for p in parts if p)


def read_messages(body: dict[str, Any]) -> tuple[str, int, bool]:
    """Return (answer text, prompt words, whether the last message carries a tool result)."""
    prompt_words = words(text_of(body.get("system")))
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    for message in messages:
        prompt_words += words(_block_text(message.get("content")))
    last = messages[-1].get("content") if messages else None
    results = (
        [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"]
        if isinstance(last, list)
        else []
    )
    if results:
        return "echo: " + text_of(results[-1].get("content")), prompt_words, True
    user = [m for m in messages if m.get("role") == "user"]
    return "echo: " + (text_of(user[-1].get("content")) if user else ""), prompt_words, False


class FakeAnthropic(FakeProvider):
    """Fake of ``https://api.anthropic.com``; point SDKs at ``url`` (the SDK appends ``/v1``)."""

    request_id_header = b"request-id"
    request_id_prefix = "req_011"

    def __init__(
        self, api_key: str = "sk-ant-fake", models: Iterable[str] = DEFAULT_ANTHROPIC_MODELS
    ) -> None:
        super().__init__(api_key, models)
        self.routes = {
            ("POST", "/v1/messages"): self.messages,
            ("POST", "/v1/messages/count_tokens"): self.count_tokens,
            ("GET", "/v1/models"): self.list_models,
        }

    # --- provider plumbing --------------------------------------------------------------------
    def headers(self, ex: Exchange, content_type: bytes) -> Headers:
        return [*super().headers(ex, content_type), *_EXTRA_HEADERS]

    async def error(self, ex: Exchange, status: int, kind: str, message: str) -> None:
        body = {
            "type": "error",
            "error": {"type": _ERRORS[kind], "message": message},
            "request_id": ex.request_id,
        }
        extra: Headers = [(b"retry-after", b"1")] if status == 429 else []
        await self.send_json(ex, status, body, extra)

    async def authorize(self, req: Received, ex: Exchange) -> bool:
        # The API takes the key as x-api-key; anthropic 2.x SDKs send it as "Authorization: Bearer <key>".
        key = req.headers.get("x-api-key")
        if key is None and req.headers.get("authorization", "").startswith("Bearer "):
            key = req.headers["authorization"][len("Bearer ") :]
        if key != self.api_key:
            await self.error(
                ex, 401, "auth", "x-api-key header is required" if not key else "invalid x-api-key"
            )
            return False
        if not req.headers.get("anthropic-version"):
            await self.error(ex, 400, "invalid_request", "anthropic-version: header is required")
            return False
        return True

    async def not_found(self, req: Received, ex: Exchange) -> None:
        await self.error(ex, 404, "not_found", "Not Found")

    async def _body(self, req: Received, ex: Exchange, *required: str) -> dict[str, Any] | None:
        body = req.json
        if not isinstance(body, dict):
            await self.bad_json(ex)
            return None
        for name in required:
            if name not in body:
                await self.error(ex, 400, "invalid_request", f"{name}: Field required")
                return None
        return body

    # --- messages -----------------------------------------------------------------------------
    async def messages(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model", "max_tokens", "messages")
        if body is None:
            return
        model = str(body["model"])
        answer, prompt_words, after_tool = read_messages(body)
        tools = body.get("tools")
        tool: str | None = None
        if (
            not after_tool
            and "tool" in model
            and isinstance(tools, list)
            and tools
            and isinstance(tools[0], dict)
        ):
            tool = str(tools[0].get("name", ""))
        args = tool_args(model, answer.removeprefix("echo: "))
        answer = injected(model, answer)
        out_words = words(args if tool is not None else answer)
        mid = new_id("msg_01")[:30]
        tool_id = new_id("toolu_01")[:32]
        stop_reason = "end_turn" if tool is None else "tool_use"

        def usage(output_tokens: int) -> dict[str, Any]:
            return {
                "input_tokens": prompt_words,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
                "output_tokens": output_tokens,
                "service_tier": "standard",
            }

        def message(done: bool) -> dict[str, Any]:
            content: list[dict[str, Any]] = []
            if done and tool is None:
                content = [{"type": "text", "text": answer}]
            elif done:
                content = [{"type": "tool_use", "id": tool_id, "name": tool, "input": json.loads(args)}]
            return {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop_reason if done else None,
                "stop_sequence": None,
                "usage": usage(out_words if done else 1),
            }

        def event(kind: str, **fields: Any) -> bytes:
            return sse({"type": kind, **fields}, event=kind)

        text_t = Template(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": HOLE}},
            event="content_block_delta",
        )

        def text_delta(text: str) -> bytes:
            return text_t.fill(jstr(text))

        def plan() -> StreamPlan:
            if tool is None:
                block: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [text_delta(p) for p in pieces(answer, DELTA_CHARS)]
            else:
                block = {"type": "tool_use", "id": tool_id, "name": tool, "input": {}}
                json_delta = {"type": "input_json_delta", "partial_json": HOLE}
                json_t = Template(
                    {"type": "content_block_delta", "index": 0, "delta": json_delta}, "content_block_delta"
                )
                deltas = [json_t.fill(jstr(p)) for p in pieces(args, TOOL_ARG_CHARS)]
            events = [
                event("message_start", message=message(False)),
                event("content_block_start", index=0, content_block=block),
                event("ping"),
                *deltas,
                event("content_block_stop", index=0),
                event(
                    "message_delta",
                    delta={"stop_reason": stop_reason, "stop_sequence": None},
                    usage={"output_tokens": out_words},
                ),
                event("message_stop"),
            ]
            error = {"type": "overloaded_error", "message": "upstream exploded"}
            return StreamPlan(events, 3, lambda n: text_delta("."), lambda sent: event("error", error=error))

        await self.generate(ex, model, body.get("stream") is True, lambda: message(True), plan)

    async def count_tokens(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model", "messages")
        if body is None:
            return
        _, prompt_words, _ = read_messages(body)
        result = {"input_tokens": prompt_words}
        await self.generate(ex, str(body["model"]), False, lambda: result, _no_stream)

    # --- models -------------------------------------------------------------------------------
    async def list_models(self, req: Received, ex: Exchange) -> None:
        data = [
            {
                "type": "model",
                "id": m,
                "display_name": m.replace("-", " ").title(),
                "created_at": "2025-01-01T00:00:00Z",
                "lifecycle": "active",
            }
            for m in self.models
        ]
        body = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
        await self.send_json(ex, 200, body)


def _no_stream() -> StreamPlan:
    raise AssertionError("count_tokens never streams")
