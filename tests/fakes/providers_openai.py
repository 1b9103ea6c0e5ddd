"""A fake OpenAI API: chat completions, completions, embeddings, responses, models."""

from __future__ import annotations

import base64
import hashlib
import struct
import time
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
from tests.fakes.providers_openai_responses import first_tool, responses_answer

DEFAULT_OPENAI_MODELS = ("gpt-4o-mini", "gpt-4.1", "text-embedding-3-small")
_DONE = b"data: [DONE]\n\n"
_FINGERPRINT = "fp_fake0001"

_ERRORS: dict[str, tuple[str, str | None]] = {  # kind -> (type, code)
    "server": ("server_error", None),
    "rate_limit": ("requests", "rate_limit_exceeded"),
    "invalid_request": ("invalid_request_error", None),
    "auth": ("invalid_request_error", "invalid_api_key"),
    "not_found": ("invalid_request_error", None),
}
_EXTRA_HEADERS: Headers = [
    (b"openai-version", b"2020-10-01"),
    (b"openai-processing-ms", b"1"),
    (b"x-ratelimit-limit-requests", b"10000"),
    (b"x-ratelimit-remaining-requests", b"9999"),
]


def embedding(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 127.5 - 1.0, 6) for b in digest[:8]]


class FakeOpenAI(FakeProvider):
    """Fake of ``https://api.openai.com``; point SDKs at ``f"{url}/v1"``."""

    request_id_header = b"x-request-id"

    def __init__(
        self, api_key: str = "sk-fake-openai", models: Iterable[str] = DEFAULT_OPENAI_MODELS
    ) -> None:
        super().__init__(api_key, models)
        self._auth = f"Bearer {api_key}"
        self.routes = {
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", "/v1/completions"): self.completions,
            ("POST", "/v1/embeddings"): self.embeddings,
            ("POST", "/v1/responses"): self.responses,
            ("GET", "/v1/models"): self.list_models,
        }

    # --- provider plumbing --------------------------------------------------------------------
    def headers(self, ex: Exchange, content_type: bytes) -> Headers:
        return [*super().headers(ex, content_type), *_EXTRA_HEADERS]

    async def error(self, ex: Exchange, status: int, kind: str, message: str) -> None:
        etype, code = _ERRORS[kind]
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
        extra: Headers = [(b"retry-after", b"1")] if status == 429 else []
        await self.send_json(ex, status, body, extra)

    async def authorize(self, req: Received, ex: Exchange) -> bool:
        given = req.headers.get("authorization")
        if given == self._auth:
            return True
        if not given:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
        else:
            key = given.removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key[:3]}***{key[-4:]}. You can find your API key at https://platform.openai.com/account/api-keys."
        await self.error(ex, 401, "auth", message)
        return False

    async def not_found(self, req: Received, ex: Exchange) -> None:
        await self.error(ex, 404, "not_found", f"Invalid URL ({req.method} {req.path})")

    async def _body(self, req: Received, ex: Exchange, *required: str) -> dict[str, Any] | None:
        body = req.json
        if not isinstance(body, dict):
            await self.bad_json(ex)
            return None
        for name in required:
            if name not in body:
                await self.error(ex, 400, "invalid_request", f"Missing required parameter: '{name}'.")
                return None
        return body

    # --- chat completions ---------------------------------------------------------------------
    async def chat_completions(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model", "messages")
        if body is None:
            return
        model = str(body["model"])
        messages = body["messages"] if isinstance(body["messages"], list) else []
        prompt_words = sum(words(text_of(m.get("content"))) for m in messages if isinstance(m, dict))
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        tool = None if last.get("role") == "tool" else first_tool(body, model)
        user = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        user_text = text_of(user[-1].get("content")) if user else ""
        if last.get("role") == "tool":
            answer = "echo: " + text_of(last.get("content"))
        else:
            answer = "echo: " + user_text
        answer = injected(model, answer)
        args = tool_args(model, user_text)
        out_words = words(args if tool is not None else answer)
        usage = {
            "prompt_tokens": prompt_words,
            "completion_tokens": out_words,
            "total_tokens": prompt_words + out_words,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        cid, created = new_id("chatcmpl-"), int(time.time())
        call_id = new_id("call_")[:29]

        def build() -> dict[str, Any]:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": answer,
                "refusal": None,
                "annotations": [],
            }
            if tool is not None:
                message["content"] = None
                message["tool_calls"] = [
                    {"id": call_id, "type": "function", "function": {"name": tool, "arguments": args}}
                ]
            choice = {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "stop" if tool is None else "tool_calls",
            }
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [choice],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": _FINGERPRINT,
            }

        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True

        def chunk_obj(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            obj: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": _FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                obj["usage"] = None
            return obj

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse(chunk_obj(delta, finish))

        def plan() -> StreamPlan:
            if tool is None:
                events = [chunk({"role": "assistant", "content": "", "refusal": None})]
                text_t = Template(chunk_obj({"content": HOLE}))
                events += [text_t.fill(jstr(p)) for p in pieces(answer, DELTA_CHARS)]
            else:
                head_call = {
                    "index": 0,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool, "arguments": ""},
                }
                events = [
                    chunk({"role": "assistant", "content": None, "tool_calls": [head_call], "refusal": None})
                ]
                args_t = Template(chunk_obj({"tool_calls": [{"index": 0, "function": {"arguments": HOLE}}]}))
                events += [args_t.fill(jstr(p)) for p in pieces(args, TOOL_ARG_CHARS)]
            events.append(chunk({}, "stop" if tool is None else "tool_calls"))
            if include_usage:
                final = {**chunk_obj({}), "choices": [], "usage": usage}
                events.append(sse(final))
            events.append(_DONE)
            return StreamPlan(events, 1, lambda n: chunk({"content": "."}), _stream_error)

        await self.generate(ex, model, body.get("stream") is True, build, plan)

    # --- legacy completions -------------------------------------------------------------------
    async def completions(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model", "prompt")
        if body is None:
            return
        model, prompt = str(body["model"]), body["prompt"]
        if isinstance(prompt, list):
            prompt = " ".join(p for p in prompt if isinstance(p, str))
        prompt = prompt if isinstance(prompt, str) else ""
        answer = injected(model, "echo: " + prompt)
        usage = {
            "prompt_tokens": words(prompt),
            "completion_tokens": words(answer),
            "total_tokens": words(prompt) + words(answer),
        }
        cid, created = new_id("cmpl-"), int(time.time())

        def obj(text: str, finish: str | None, with_usage: bool) -> dict[str, Any]:
            out: dict[str, Any] = {
                "id": cid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "system_fingerprint": _FINGERPRINT,
                "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
            }
            if with_usage:
                out["usage"] = usage
            return out

        opts = body.get("stream_options")
        include_usage = isinstance(opts, dict) and opts.get("include_usage") is True

        def plan() -> StreamPlan:
            text_t = Template(obj(HOLE, None, False))
            events = [text_t.fill(jstr(p)) for p in pieces(answer, DELTA_CHARS)]
            events.append(sse(obj("", "stop", False)))
            if include_usage:
                final = obj("", None, True)
                final["choices"] = []
                events.append(sse(final))
            events.append(_DONE)
            return StreamPlan(events, 0, lambda n: sse(obj(".", None, False)), _stream_error)

        await self.generate(ex, model, body.get("stream") is True, lambda: obj(answer, "stop", True), plan)

    # --- embeddings ---------------------------------------------------------------------------
    async def embeddings(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model", "input")
        if body is None:
            return
        model, raw = str(body["model"]), body["input"]
        if not isinstance(raw, str | list) or not raw:
            await self.error(ex, 400, "invalid_request", "'input' must be a non-empty string or array.")
            return
        inputs: list[Any] = [raw] if isinstance(raw, str) or isinstance(raw[0], int) else list(raw)
        as_base64 = body.get("encoding_format") == "base64"
        data: list[dict[str, Any]] = []
        tokens = 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            tokens += words(text) if isinstance(item, str) else len(item)
            vector = embedding(text)
            value: Any = base64.b64encode(struct.pack("<8f", *vector)).decode() if as_base64 else vector
            data.append({"object": "embedding", "index": i, "embedding": value})
        result = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        await self.generate(ex, model, False, lambda: result, _no_stream)

    # --- responses ----------------------------------------------------------------------------
    async def responses(self, req: Received, ex: Exchange) -> None:
        body = await self._body(req, ex, "model")
        if body is None:
            return
        model = str(body["model"])
        build, plan = responses_answer(body, model)
        await self.generate(ex, model, body.get("stream") is True, build, plan)

    # --- models -------------------------------------------------------------------------------
    async def list_models(self, req: Received, ex: Exchange) -> None:
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"} for m in self.models
        ]
        await self.send_json(ex, 200, {"object": "list", "data": data})


def _stream_error(sent: int) -> bytes:
    error = {"message": "upstream exploded", "type": "server_error", "param": None, "code": "server_error"}
    return sse({"error": error})


def _no_stream() -> StreamPlan:
    raise AssertionError("embeddings never stream")
