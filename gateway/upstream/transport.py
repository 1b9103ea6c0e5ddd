"""A lean HTTP/1.1 transport for the shared ``httpx.AsyncClient``.

Why not httpcore: profiling the proxy at 32 concurrent requests showed ~40% of the
process's CPU inside httpcore's pool (it probes every pooled socket for
readability on each request) and anyio stream wrappers, and its per-chunk cost
dominated long streams.  This transport keeps httpx as the API (auth, timeouts,
``MockTransport`` in tests, response decoding) and does the wire work with
asyncio protocols and the ``httptools`` parser that uvicorn already uses.

Behaviour:
  * one LIFO idle stack per origin; idle connections expire after
    ``keepalive_expiry`` seconds and are dropped as soon as the server closes them;
  * at most ``max_connections`` requests in flight (``PoolTimeout`` past the pool timeout);
  * a connection whose response was not read to the end is closed, never reused
    (so a cancelled request also cancels the upstream one);
  * an idempotent request (GET, HEAD) on a reused connection that the server
    closed before sending anything is retried once on a new connection; a POST
    is not (the server may have read it), the caller gets the error instead;
  * reading stops (TCP backpressure) while more than ``HIGH_WATER`` bytes are buffered;
  * errors are httpx's own exception types, so callers handle one hierarchy.
"""

from __future__ import annotations

import asyncio
import collections
import re
import ssl
import time
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

HIGH_WATER = 1024 * 1024
# Request extension: send this request again if a pooled connection turns out closed before any answer.
# Set for local destinations: llama.cpp's server closes its connection after every streamed answer,
# and a second local generation is neither billed nor seen by anyone else.
RETRY_STALE = "gateway.retry_stale"
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
LOW_WATER = 256 * 1024


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response currently being read from it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: asyncio.Future[None] = loop.create_future()  # done once the socket is released
        self.idle_since = 0.0
        self._start_response()

    # -- per-response state ---------------------------------------------------------------
    def _start_response(self, head: bool = False) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._head = head  # a response to HEAD has no body, whatever its headers say
        self._interim = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.received_any = False
        self.error: Exception | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._has_length = False
        self._chunked = False

    def prepare(self, *, head: bool = False) -> None:
        if self._paused and self.transport is not None:
            # The last response completed while reading was paused and was never drained.
            self.transport.resume_reading()
        self._start_response(head)

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but have the same methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the destination tried to upgrade the connection"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response from the destination: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        if self.headers_done and not self.complete and not self._has_length and not self._chunked:
            # A body without length or chunking ends when the server closes the connection.
            self.complete = True
        elif not self.complete and self.error is None:
            if isinstance(exc, ConnectionResetError):
                self.error = httpx.ReadError("the destination reset the connection")
            else:
                self.error = httpx.RemoteProtocolError(
                    "the destination closed the connection before the response was complete"
                )
        self._wake()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self.complete:  # raising makes the parser fail: the connection is not trusted again
            raise httpx.RemoteProtocolError("the destination sent more than one response")

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == b"content-length":
            self._has_length = True
        elif lower == b"transfer-encoding" and b"chunked" in value.lower():
            self._chunked = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if 100 <= self.status < 200 and self.status != 101:
            # An interim response (100 Continue, 103 Early Hints): the real one follows.
            self._interim = True
            self.headers = []
            self._has_length = self._chunked = False
            return
        self.headers_done = True
        if self._head:
            self.keep_alive = self._parser.should_keep_alive()
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:  # the body a HEAD response's headers announced, sent anyway
            raise httpx.RemoteProtocolError("the destination sent a body where none belongs")
        self._chunks.append(bytes(body))
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        # llhttp clears its flags once the message is complete, after which should_keep_alive()
        # says False for every response framed by a length or chunking: ask now.
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True
        self._wake()

    # -- used by the transport ---------------------------------------------------------------
    def _fail(self, error: Exception) -> None:
        self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None) -> None:
        self._waiter = self._loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        finally:
            self._waiter = None

    async def read_headers(self, timeout: float | None) -> None:
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise httpx.RemoteProtocolError("the destination closed the connection without a response")
            try:
                await self._wait(timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for the destination's response") from None

    async def read_chunk(self, timeout: float | None) -> bytes | None:
        while not self._chunks:
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            try:
                await self._wait(timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out waiting for more of the destination's response") from None
        # Hand over everything already buffered at once: under load several upstream writes arrive
        # together, and one downstream write for them costs far less than one each.  Nothing waits.
        if len(self._chunks) == 1:
            chunk = self._chunks.popleft()
        else:
            chunk = b"".join(self._chunks)
            self._chunks.clear()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def reusable(self) -> bool:
        return self.complete and not self.closed and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


Origin = tuple[str, str, int]


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self, owner: LeanTransport, origin: Origin, conn: _Connection, timeout: float | None
    ) -> None:
        self._owner = owner
        self._origin = origin
        self._conn = conn
        self._timeout = timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self._conn.read_chunk(self._timeout)) is not None:
                yield chunk
        except BaseException:
            self._conn.close()
            raise
        finally:
            if self._conn.complete:
                self._release()

    async def aclose(self) -> None:
        self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._owner._release(self._origin, self._conn)


class LeanTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        max_connections: int = 512,
        max_idle_per_origin: int = 256,
        keepalive_expiry: float = 4.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._slots: asyncio.Semaphore | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}", request=request)
        origin: Origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        payload = _serialise(request, await request.aread())
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no free upstream connection in time", request=request) from None
        try:
            conn = await self._exchange(origin, payload, timeouts, request)
        except BaseException:
            self._slots.release()
            raise
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_ResponseStream(self, origin, conn, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def _exchange(
        self, origin: Origin, payload: bytes, timeouts: dict[str, float | None], request: httpx.Request
    ) -> _Connection:
        for attempt in (1, 2):
            conn, reused = self._take_idle(origin)
            if conn is None:
                conn = await self._connect(origin, timeouts.get("connect"), request)
            conn.prepare(head=request.method == "HEAD")
            try:
                assert conn.transport is not None
                conn.transport.write(payload)
                await conn.read_headers(timeouts.get("read"))
                return conn
            except httpx.TransportError as exc:
                conn.close()
                stale = reused and not conn.received_any and not isinstance(exc, httpx.TimeoutException)
                # Only idempotent requests are retried: a server can read a request and then drop the
                # connection, and a second POST to an LLM provider is a second (billed) generation.
                retry = request.method in _IDEMPOTENT or request.extensions.get(RETRY_STALE, False)
                if attempt == 1 and stale and retry:
                    continue
                exc.request = request
                raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    def _take_idle(self, origin: Origin) -> tuple[_Connection | None, bool]:
        stack = self._idle.get(origin)
        now = time.monotonic()
        while stack:
            conn = stack.pop()
            if not conn.closed and now - conn.idle_since < self._expiry:
                return conn, True
            conn.close()
        return None, False

    async def _connect(self, origin: Origin, timeout: float | None, request: httpx.Request) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop), host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting to the destination", request=request) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(
                f"could not connect to the destination: {exc}", request=request
            ) from None
        return conn

    def _release(self, origin: Origin, conn: _Connection) -> None:
        if self._slots is not None:
            self._slots.release()
        if conn.reusable():
            stack = self._idle.setdefault(origin, [])
            if len(stack) < self._max_idle:
                conn.idle_since = time.monotonic()
                stack.append(conn)
                return
        conn.close()

    async def aclose(self) -> None:
        idle = [conn for stack in self._idle.values() for conn in stack]
        self._idle.clear()
        for conn in idle:
            # abort(), not close(): a TLS close() waits for the peer's close_notify, which may never
            # come, and the loop may be closed as soon as we return.  An idle connection has
            # nothing left to send.  connection_lost() follows on the next turn of the loop.
            conn.closed = True
            if conn.transport is not None:
                conn.transport.abort()
        if idle:
            await asyncio.wait([conn.lost for conn in idle], timeout=1.0)


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(rb"[\r\n\x00]")


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    # Refuse what would split the request (h11 does the same for httpx's default transport):
    # a key read with its trailing newline must not become a header of its own.
    method = request.method.encode("utf-8", "replace")
    if not _TOKEN.match(method):
        raise httpx.LocalProtocolError(f"invalid HTTP method {request.method!r}", request=request)
    target = request.url.raw_path  # httpx percent-encodes spaces and refuses control characters
    lines = [b"%s %s HTTP/1.1" % (method, target)]
    has_length = streamed = False
    for name, value in request.headers.raw:
        if not _TOKEN.match(name) or _BAD_VALUE.search(value):
            raise httpx.LocalProtocolError(f"invalid request header {name!r}", request=request)
        lower = name.lower()
        if lower == b"transfer-encoding":
            streamed = True  # httpx announces chunking for a streamed body; it is sent whole instead
            continue
        if lower == b"content-length":
            has_length = True
        lines.append(name + b": " + value)
    if (body or streamed) and not has_length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
