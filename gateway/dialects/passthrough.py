"""Stream adapters for a client and a destination that speak the same format.

Events pass unchanged; the adapter watches for the terminal event (so a cut
stream is told from a complete one) and for token usage (for the audit record).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.dialects.sse import SSEEvent, json_event
from gateway.errors import UpstreamError

_RESPONSES_TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})


class _Tracker:
    def __init__(self) -> None:
        self._finished = False
        self._input: int | None = None
        self._output: int | None = None

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def input_tokens(self) -> int | None:
        return self._input

    @property
    def output_tokens(self) -> int | None:
        return self._output

    def finish(self) -> list[SSEEvent]:
        return []

    def _take_usage(self, usage: Any, input_key: str, output_key: str) -> None:
        if isinstance(usage, dict):
            if isinstance(usage.get(input_key), int):
                self._input = usage[input_key]
            if isinstance(usage.get(output_key), int):
                self._output = usage[output_key]


class OpenAIPassThrough(_Tracker):
    """Chat and text completions: ``data:`` chunks ending in ``[DONE]``.

    With ``strip_usage`` the gateway asked the destination for a usage chunk the
    client did not request; it is recorded and then dropped, so the client sees
    exactly the stream it asked for.
    """

    def __init__(self, *, strip_usage: bool, local_quirks: bool = False) -> None:
        super().__init__()
        self._strip_usage = strip_usage
        # A local server's stream, normalised (see _text_content and _local_error).
        self._local = local_quirks

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        data = event.data
        if data == "[DONE]":
            self._finished = True
            return [event]
        if self._local:
            if data.startswith('{"error"'):
                _local_error(data)
            if '"content":null' in data or '"content": null' in data:
                event = _text_content(event)
        # Only chunks that mention usage are parsed; the rest pass untouched (the per-event cost matters).
        if '"usage"' in data:
            try:
                chunk = json.loads(data)
            except ValueError:
                return [event]
            if isinstance(chunk, dict) and chunk.get("usage"):
                self._take_usage(chunk["usage"], "prompt_tokens", "completion_tokens")
                if self._strip_usage and not chunk.get("choices"):
                    return []
        return [event]


def _text_content(event: SSEEvent) -> SSEEvent:
    """llama.cpp and some other local servers open a stream with ``"content": null`` where OpenAI sends
    ``""``; clients that append deltas as strings break on the null.  A tool-call delta keeps its null,
    as OpenAI's own does."""
    try:
        chunk = json.loads(event.data)
    except ValueError:
        return event
    changed = False
    for choice in chunk.get("choices") or () if isinstance(chunk, dict) else ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if isinstance(delta, dict) and delta.get("content", "") is None and not delta.get("tool_calls"):
            delta["content"] = ""
            changed = True
    return json_event(chunk, event=event.event) if changed else event


def _local_error(data: str) -> None:
    """llama.cpp, vLLM and Ollama report a failure mid-stream as a ``data: {"error": ...}`` chunk and then
    stop, without ``[DONE]``.  Raised here, it ends the stream with one error event in the client's format
    (the relay turns a local destination's failure into ``local_unavailable``), instead of the server's
    own event followed by the gateway's "stream ended early"."""
    try:
        payload = json.loads(data)
    except ValueError:
        return
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and not payload.get("choices"):
        message = error.get("message")
        said = f": {message[:300]}" if isinstance(message, str) and message else ""
        err = UpstreamError(f"the server reported an error mid-stream{said}", code="upstream_stream_error")
        err.quotes_destination = True
        raise err


class ResponsesPassThrough(_Tracker):
    """OpenAI Responses API: named events ending in ``response.completed`` (or failed/incomplete).
    Also notes the answer's id (``response.created``): a later call may continue from it."""

    def __init__(self) -> None:
        super().__init__()
        self.response_id: str | None = None

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        if event.event == "response.created" and self.response_id is None:
            try:
                created = json.loads(event.data).get("response", {}).get("id")
            except (ValueError, AttributeError):
                created = None
            self.response_id = created if isinstance(created, str) else None
        if event.event in _RESPONSES_TERMINAL:
            self._finished = True
            try:
                payload = json.loads(event.data)
            except ValueError:
                return [event]
            response = payload.get("response") if isinstance(payload, dict) else None
            if isinstance(response, dict):
                self._take_usage(response.get("usage"), "input_tokens", "output_tokens")
        return [event]


class AnthropicPassThrough(_Tracker):
    """Anthropic Messages: ``message_start`` carries input tokens, ``message_delta`` output tokens."""

    def feed(self, event: SSEEvent) -> list[SSEEvent]:
        name = event.event
        if name == "message_stop":
            self._finished = True
        elif name in ("message_start", "message_delta"):
            try:
                payload = json.loads(event.data)
            except ValueError:
                return [event]
            if isinstance(payload, dict):
                usage = payload.get("usage")
                message = payload.get("message")
                if isinstance(message, dict):
                    usage = message.get("usage")
                self._take_usage(usage, "input_tokens", "output_tokens")
        return [event]
