"""Stage 3: read the parts of a request body every later stage needs, and usage from answers."""

from __future__ import annotations

from typing import Any, Protocol

from gateway.dialects.sse import SSEEvent
from gateway.errors import BadRequest
from gateway.exchange import Exchange, Usage


def read_request(ex: Exchange, body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "'model' is required and must be a non-empty string.", param="model", code="missing_model"
        )
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", param="stream")
    assert ex.endpoint is not None
    if stream and not ex.endpoint.streams:
        raise BadRequest(f"{ex.endpoint.path} does not support streaming.", param="stream")
    ex.model = model
    ex.stream = stream


def usage_from(payload: Any) -> Usage:
    """Token counts from any of the answer shapes we serve (chat, completions, responses, messages)."""
    if not isinstance(payload, dict):
        return Usage()
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        if isinstance(payload.get("input_tokens"), int):  # count_tokens
            return Usage(input_tokens=payload["input_tokens"])
        return Usage()
    return Usage(
        input_tokens=_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        output_tokens=_int(usage.get("completion_tokens", usage.get("output_tokens"))),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StreamAdapter(Protocol):
    """Sans-I/O: upstream events in, client events out.  One per streamed response."""

    @property
    def finished(self) -> bool: ...

    @property
    def input_tokens(self) -> int | None: ...

    @property
    def output_tokens(self) -> int | None: ...

    def feed(self, event: SSEEvent) -> list[SSEEvent]: ...

    def finish(self) -> list[SSEEvent]: ...
