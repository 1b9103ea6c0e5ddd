"""Stage 3: read the parts of a request body every later stage needs, and usage from answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gateway.dialects import fields
from gateway.dialects.sse import SSEEvent
from gateway.errors import BadRequest
from gateway.exchange import Exchange, Usage


def read_request(ex: Exchange, body: dict[str, Any], listed: Callable[[str], bool]) -> None:
    """The model and stream flag, and every non-text field checked against the field table.  ``listed``:
    whether a model name is one the config names literally (those skip the model-name grammar)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "'model' is required and must be a non-empty string.", param="model", code="missing_model"
        )
    ex.model = model
    if not listed(model):
        problem = fields.model_name_problem(model)
        if problem is not None:
            raise BadRequest(f"The model name {problem}.", param="model", code="invalid_model")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", param="stream")
    assert ex.endpoint is not None
    if stream and not ex.endpoint.streams:
        raise BadRequest(f"{ex.endpoint.path} does not support streaming.", param="stream")
    ex.stream = stream
    fields.validate(ex.endpoint.name, body)


def check_model_scan(ex: Exchange, listed: Callable[[str], bool]) -> None:
    """A model name in which the scan found something is refused (400 ``invalid_model``), before any
    decision: a model name is not content and is never rewritten.  A name the config lists literally is
    not data.  Once it passed, the audit keeps it."""
    if ex.scan is not None and not listed(ex.model or ""):
        segments = ex.scan.extracted.segments
        for finding in ex.scan.findings:
            if finding.kind in ("unscannable", "scan_failed") or finding.segment < 0:
                continue
            segment = segments[finding.segment]
            if segment.path == ("model",) and not segment.is_key:
                raise BadRequest(
                    "The model name holds data the gateway does not send (found: "
                    f"{finding.entity.split(':', 1)[0]}).",
                    param="model",
                    code="invalid_model",
                )
    ex.model_checked = True


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
