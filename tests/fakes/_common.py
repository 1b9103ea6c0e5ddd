"""Plumbing shared by the fake providers: request recording, disconnect watching, failure modes, SSE."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# Model-name substrings that switch a fake into a failure mode, checked in this order.
FAILURE_MODES: tuple[str, ...] = ("fail500", "fail429", "fail400", "hang", "slow", "cut", "midstreamerror")
DELTA_CHARS = 3
TOOL_ARGS = json.dumps({"city": "Paris"})
TOOL_ARG_CHARS = 5
# ``inject``: the answer ends with values the user never sent (for output scanning tests).
INJECTED = " Contact bob.stone@corp-example.net or 4012 8888 8888 1881."


def tool_args(model: str, user_text: str) -> str:
    """Arguments of a tool call: ``toolecho`` models put the last user text in them, others TOOL_ARGS."""
    return json.dumps({"note": user_text}) if "toolecho" in model else TOOL_ARGS


def injected(model: str, answer: str) -> str:
    """``answer``, followed by :data:`INJECTED` for an ``inject`` model."""
    return answer + INJECTED if "inject" in model else answer


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    body: bytes
    json: Any | None  # parsed body, None when empty or not JSON
    request_id: str = ""  # the request id the fake answered with (x-request-id / request-id)


class UpstreamCut(Exception):
    """Raised by a fake after a partial response so that uvicorn drops the connection."""


class _DropCutRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, UpstreamCut)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropCutRecords) for f in logger.filters):
        logger.addFilter(_DropCutRecords())


_install_log_filter()


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
HOLE = "\x00hole\x00"  # placeholder string value in a Template


def dumps(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


def jstr(text: str) -> bytes:
    """``text`` as a JSON string literal."""
    return encode_basestring(text).encode()


def words(text: str) -> int:
    return len(text.split())


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def text_of(content: Any) -> str:
    """Text of a message content: a string, or the text parts/blocks of a list joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def failure_mode(model: str) -> str | None:
    for mode in FAILURE_MODES:
        if mode in model:
            return mode
    return None


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, bytes) else dumps(data)
    if event is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"


class Template:
    """An SSE event serialised once, with ``HOLE`` string values to fill with raw JSON per event.

    Keeps the per-delta cost of a stream to a few byte concatenations instead of a full json.dumps.
    """

    __slots__ = ("parts",)

    def __init__(self, data: Any, event: str | None = None) -> None:
        self.parts = sse(data, event).split(dumps(HOLE))

    def fill(self, *values: bytes) -> bytes:
        parts = self.parts
        if len(values) == 1:
            return parts[0] + values[0] + parts[1]
        out = [parts[0]]
        for value, part in zip(values, parts[1:], strict=True):
            out += (value, part)
        return b"".join(out)


@dataclass(slots=True)
class StreamPlan:
    """A complete SSE event sequence; ``head`` events precede the first content delta."""

    events: list[bytes]
    head: int
    drip: Callable[[int], bytes]  # n-th extra delta event for the endless drip
    error: Callable[[int], bytes]  # the provider's mid-stream error event, given the events sent before it


class Exchange:
    """The response side of one request, with optional watching for the client going away."""

    __slots__ = ("_gone", "_provider", "_receive", "_send", "_watcher", "complete", "request_id")

    def __init__(self, provider: FakeProvider, receive: Receive, send: Send, request_id: str) -> None:
        self._provider = provider
        self._receive = receive
        self._send = send
        self._watcher: asyncio.Task[None] | None = None
        self._gone: asyncio.Event | None = None
        self.complete = False
        self.request_id = request_id

    def watch(self) -> None:
        if self._watcher is None:
            self._gone = asyncio.Event()
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self.complete:
                    assert self._gone is not None
                    self._gone.set()
                    self._provider._note_disconnect()
                return

    @property
    def gone(self) -> bool:
        return self._gone is not None and self._gone.is_set()

    async def wait_disconnect(self, limit: float | None) -> bool:
        """Wait up to ``limit`` seconds (None: forever) for the client to disconnect."""
        self.watch()
        assert self._gone is not None
        try:
            await asyncio.wait_for(self._gone.wait(), limit)
        except TimeoutError:
            return False
        return True

    async def stop_watching(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            await asyncio.wait([self._watcher])

    async def start(self, status: int, headers: Headers) -> None:
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def body(self, chunk: bytes) -> None:
        await self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def end(self, chunk: bytes = b"") -> None:
        self.complete = True
        await self._send({"type": "http.response.body", "body": chunk, "more_body": False})


Handler = Callable[[Received, Exchange], Awaitable[None]]


class FakeProvider:
    """Base ASGI app: records requests, routes them, and implements the model-name failure modes.

    Attributes tests may tweak: ``slow_seconds`` (non-stream ``slow`` delay), ``drip_interval``
    (seconds between events of a ``slow`` stream), ``partial_deltas`` (content deltas sent before a
    ``cut`` or ``midstreamerror``).
    """

    request_id_header: bytes = b"x-request-id"
    request_id_prefix: str = "req_"

    def __init__(self, api_key: str, models: Iterable[str]) -> None:
        self.api_key = api_key
        self.models: list[str] = list(models)
        self.slow_seconds: float = 30.0
        self.drip_interval: float = 0.2
        self.partial_deltas: int = 2
        self.received: list[Received] = []
        self.disconnects: int = 0
        self.active: int = 0
        self._cond = threading.Condition()
        self.routes: dict[tuple[str, str], Handler] = {}

    # --- test helpers -------------------------------------------------------------------------
    def reset(self) -> None:
        with self._cond:
            self.received.clear()
            self.disconnects = 0

    def wait_for_disconnects(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` client disconnects were seen; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.disconnects >= count, timeout)

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout)

    def _note_disconnect(self) -> None:
        with self._cond:
            self.disconnects += 1
            self._cond.notify_all()

    # --- ASGI ---------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        parsed: Any | None = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        request_id = new_id(self.request_id_prefix)
        req = Received(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=body,
            json=parsed,
            request_id=request_id,
        )
        with self._cond:
            self.received.append(req)
            self.active += 1
            self._cond.notify_all()
        ex = Exchange(self, receive, send, request_id)
        try:
            await self.dispatch(req, ex)
        finally:
            with self._cond:
                self.active -= 1
            await ex.stop_watching()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def dispatch(self, req: Received, ex: Exchange) -> None:
        if not await self.authorize(req, ex):
            return
        handler = self.routes.get((req.method, req.path))
        if handler is None:
            await self.not_found(req, ex)
            return
        await handler(req, ex)

    # --- provider specifics (overridden) ------------------------------------------------------
    async def authorize(self, req: Received, ex: Exchange) -> bool:
        raise NotImplementedError

    async def not_found(self, req: Received, ex: Exchange) -> None:
        raise NotImplementedError

    async def error(self, ex: Exchange, status: int, kind: str, message: str) -> None:
        """Send an error response; ``kind`` is one of: server, rate_limit, invalid_request, auth."""
        raise NotImplementedError

    def headers(self, ex: Exchange, content_type: bytes) -> Headers:
        return [(b"content-type", content_type), (self.request_id_header, ex.request_id.encode())]

    # --- responses ----------------------------------------------------------------------------
    async def send_json(
        self, ex: Exchange, status: int, obj: Any, extra: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        payload = dumps(obj)
        headers = self.headers(ex, b"application/json")
        headers.append((b"content-length", str(len(payload)).encode()))
        headers.extend(extra)
        await ex.start(status, headers)
        await ex.end(payload)

    async def bad_json(self, ex: Exchange) -> None:
        await self.error(ex, 400, "invalid_request", "The request body is not valid JSON.")

    async def generate(
        self,
        ex: Exchange,
        model: str,
        stream: bool,
        build: Callable[[], Any],
        plan: Callable[[], StreamPlan],
    ) -> None:
        """Answer a generation request, honouring the failure mode named in ``model``."""
        mode = failure_mode(model) if model else None
        if mode is None:
            if stream:
                await self.send_stream(ex, plan(), None)
            else:
                await self.send_json(ex, 200, build())
            return
        if mode == "fail500":
            await self.error(ex, 500, "server", "The server had an error while processing your request.")
        elif mode == "fail429":
            await self.error(ex, 429, "rate_limit", f"Rate limit reached for {model} (fake).")
        elif mode == "fail400":
            await self.error(ex, 400, "invalid_request", "bad parameter from fake")
        elif mode == "hang":
            await ex.wait_disconnect(None)
        elif stream:
            await self.send_stream(ex, plan(), mode)
        elif mode == "slow":
            if not await ex.wait_disconnect(self.slow_seconds):
                await self.send_json(ex, 200, build())
        elif mode == "cut":
            payload = dumps(build())
            headers = self.headers(ex, b"application/json")
            headers.append((b"content-length", str(len(payload) + 64).encode()))
            await ex.start(200, headers)
            await ex.body(payload[: len(payload) // 2])
            raise UpstreamCut("fake upstream cut the connection mid-body")
        else:  # midstreamerror has nothing to interrupt in a plain JSON answer
            await self.send_json(ex, 200, build())

    async def send_stream(self, ex: Exchange, plan: StreamPlan, mode: str | None) -> None:
        ex.watch()
        await ex.start(200, self.headers(ex, b"text/event-stream; charset=utf-8"))
        events = plan.events
        if mode == "slow":
            for event in events[: plan.head]:
                await ex.body(event)
            n = 0
            while not await ex.wait_disconnect(self.drip_interval):
                await ex.body(plan.drip(n))
                n += 1
            return
        if mode in ("cut", "midstreamerror"):
            partial = min(plan.head + self.partial_deltas, len(events) - 2)
            for event in events[:partial]:
                await ex.body(event)
            if mode == "cut":
                raise UpstreamCut("fake upstream cut the stream")
            await ex.end(plan.error(partial))
            return
        for event in events[:-1]:
            if ex.gone:
                return
            await ex.body(event)
        await ex.end(events[-1])
