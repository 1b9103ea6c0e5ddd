"""The HTTP server around the app: uvicorn, with the client deadlines and limits it lacks, and a
graceful drain on SIGTERM.

uvicorn's httptools protocol has no deadline for a request's headers and no limit on their size or
count, so a client sending one byte a second holds a socket (and a task) for ever, and a 200 KB
header is read whole.  :class:`GuardedProtocol` adds, per connection:

- the request line and headers within ``server.header_timeout`` of the request's first byte (and of
  the connection's opening): past it, 408 if part of a request came, and the connection closed;
- at most ``server.max_header_bytes`` of request line and headers, and ``server.max_headers``
  headers: past them, 431 and the connection closed, before the rest is buffered;
- a client that stops reading an answer (its socket buffer full) is cut after
  ``server.write_timeout``; what waits to be written is bounded by the transport's high-water mark.

The body's deadline (``server.body_timeout``) is the app's (``gateway.ingress.read_body``), which
reads it.  Each cut is reported to ``on_cut`` (metrics and the audit trail).
"""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.errors import GatewayError, HeadersTooLarge, RequestTimeout, Wire, error_body
from gateway.exchange import new_request_id
from gateway.settings import ServerSettings

log = logging.getLogger("gateway.server")

OnCut = Callable[[str], None]

# After refusing a request: how long, and how much of the rest of it, is read and dropped.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1 << 20


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with client deadlines and header limits (see the module)."""

    settings: ClassVar[ServerSettings] = ServerSettings()
    on_cut: ClassVar[OnCut] = staticmethod(lambda reason: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._in_headers = False  # between a request's first byte and the end of its headers
        self._header_bytes = 0
        self._header_count = 0
        self._fed = 0  # bytes received while the current request's headers were incomplete
        self._refused = False
        self._discarded = 0
        self._request_done = True  # the current request's body was read to its end
        self._pending: tuple[GatewayError, str] | None = None  # a refusal waiting for an answer to end

    @classmethod
    def configured(cls, settings: ServerSettings, on_cut: OnCut | None) -> type[GuardedProtocol]:
        return type(
            "GatewayProtocol", (cls,), {"settings": settings, "on_cut": staticmethod(on_cut or _ignore)}
        )

    # -- connection ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            # Lingering after a refusal: read and drop what the client still sends, up to a bound.
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.abort()
            return
        super().data_received(data)
        if self._in_headers and not self._refused:
            # Headers still incomplete after this much: refuse before the parser buffers more of them.
            # (A chunk that also held the end of the request before counts whole: an over-count by at
            # most one read, only for pipelined requests.)
            self._fed += len(data)
            if self._fed > self.settings.max_header_bytes:
                self._refuse(HeadersTooLarge(self._too_large()), "headers_too_large")

    # -- parser callbacks ----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._refused:
            return
        super().on_message_begin()
        self._request_done = False
        self._in_headers = True
        self._fed = 0
        self._header_bytes = 0
        self._header_count = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)
        self._header_bytes += len(url)
        self._check_headers()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value) + 4
        self._header_count += 1
        self._check_headers()

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_headers = False
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._request_done = True
        if not self._refused:
            super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._pending is not None:
            err, reason = self._pending
            self._pending = None
            self._answer(err, reason)
        elif not self._request_done and not self.transport.is_closing():
            # Answered before the body was read (401, 404, 413, ...): no deadline covers what the client
            # still sends, so the connection ends here (after a moment for the answer to be read).
            self._refused = True
            self._linger_close()

    # -- writing -------------------------------------------------------------------------------
    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            loop = asyncio.get_running_loop()
            self._write_timer = loop.call_later(self.settings.write_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().resume_writing()

    def _write_stalled(self) -> None:
        self._write_timer = None
        if not self.transport.is_closing():
            # Abort, not close: close would wait for the buffer to drain, which is what never happens.
            self.transport.abort()
            self._report("write_timeout")

    # -- limits --------------------------------------------------------------------------------
    def _check_headers(self) -> None:
        if self._header_count > self.settings.max_headers:
            self._refuse(
                HeadersTooLarge(
                    f"The request has more than {self.settings.max_headers} headers, this gateway's limit."
                ),
                "too_many_headers",
            )
        elif self._header_bytes > self.settings.max_header_bytes:
            self._refuse(HeadersTooLarge(self._too_large()), "headers_too_large")

    def _too_large(self) -> str:
        return (
            f"The request line and headers are larger than this gateway's limit of "
            f"{self.settings.max_header_bytes} bytes."
        )

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(self.settings.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._in_headers:
            message = f"The request headers did not arrive within {self.settings.header_timeout:g} s."
            self._refuse(RequestTimeout(message), "header_timeout")
        elif self.cycle is None:
            # A connection that never sent a byte: nothing to answer.
            self._refused = True
            self.transport.close()
            self._report("idle_connection")

    def _refuse(self, err: GatewayError, reason: str) -> None:
        """Answer ``err`` and close the connection; nothing more of it is read.  While an earlier
        request's answer is still being written (pipelining), the refusal waits for it to end."""
        self._refused = True
        self._cancel_header_timer()
        if self.cycle is not None and not self.cycle.response_complete:
            self._pending = (err, reason)
            return
        self._answer(err, reason)

    def _answer(self, err: GatewayError, reason: str) -> None:
        request_id = new_request_id()
        wire: Wire = "anthropic" if self.url.startswith(b"/v1/messages") else "openai"
        body = error_body(err, wire, request_id)
        head = (
            f"HTTP/1.1 {err.http_status} {_REASONS[err.http_status]}\r\n"
            "content-type: application/json\r\n"
            f"content-length: {len(body)}\r\n"
            f"x-request-id: {request_id}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        self._report(reason)
        self._linger_close()

    def _linger_close(self) -> None:
        # Closing with unread request bytes in the socket makes the kernel send a reset, which can
        # destroy the answer before the client reads it.  So: end our side, drop what still comes for
        # a moment (bounded in time and bytes), then close.
        if self.transport.can_write_eof():
            self.transport.write_eof()
            loop = asyncio.get_running_loop()
            loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _report(self, reason: str) -> None:
        log.warning("client connection cut: %s", reason)
        type(self).on_cut(reason)

    # ``url`` is set by on_message_begin; a connection refused before its first request has none.
    url: bytes = b""


def _ignore(reason: str) -> None:
    pass


_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class GatewayServer(uvicorn.Server):
    """uvicorn's server, telling the app the moment a shutdown signal arrives (before uvicorn closes
    its listeners), so that readiness fails and requests in flight start their drain window."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        first = not self.should_exit
        super().handle_exit(sig, frame)
        if first and sig in (signal.SIGTERM, signal.SIGINT):
            self._on_exit()


def server_config(
    app: Any, settings: ServerSettings, host: str, port: int, log_level: str, on_cut: OnCut | None
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http=GuardedProtocol.configured(settings, on_cut),
        lifespan="on",
        # Our own request log line replaces uvicorn's, which would print query strings.
        access_log=False,
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (any local process); the gateway reads
        # it itself, from server.trusted_proxies only (gateway.ingress.client_address).
        proxy_headers=False,
        log_level=log_level,
        # The app ends what is still running at drain_seconds; uvicorn's own cut comes after that.
        timeout_graceful_shutdown=math.ceil(settings.drain_seconds) + 3,
    )
