"""The server's own client deadlines and header limits (gateway.serving), on a real uvicorn socket with
small ASGI apps: what a slow or greedy client gets, and that its socket is let go."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.serving import GuardedProtocol
from gateway.settings import ServerSettings
from tests.fakes.server import ThreadedServer

SETTINGS = ServerSettings(
    header_timeout=1.0, max_header_bytes=4096, max_headers=20, write_timeout=0.5, body_timeout=1.0
)


class Recorder:
    """An ASGI app answering 200 to everything, or streaming megabytes for ``/flood``; records cuts."""

    def __init__(self) -> None:
        self.cuts: list[str] = []
        self.requests = 0
        self.flood_ended = threading.Event()

    def cut(self, reason: str) -> None:
        self.cuts.append(reason)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.requests += 1
        if scope["path"] == "/flood":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            chunk = b"x" * (1 << 20)
            gone = asyncio.ensure_future(_disconnected(receive))
            try:
                for _ in range(4096):  # 4 GiB: never finishes while someone reads nothing
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if gone.done():
                        break
            except OSError:
                pass
            finally:
                gone.cancel()
                self.flood_ended.set()
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Recorder, int]]:
    app = Recorder()
    server = ThreadedServer(app, http=GuardedProtocol.configured(SETTINGS, app.cut))
    server.start()
    try:
        yield app, server.port
    finally:
        server.stop()


def _connect(port: int, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _status_and_json(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_headers_dripped_a_byte_at_a_time_get_408_and_the_socket_closes(served: tuple[Recorder, int]) -> None:
    app, port = served
    before = app.requests
    started = time.monotonic()
    with _connect(port) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        for byte in b"x-slow: 1234567890":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        raw = _read_all(sock)
    status, body = _status_and_json(raw)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert b"connection: close" in raw
    assert 0.9 < time.monotonic() - started < 4
    assert app.requests == before  # the app never saw it
    assert "header_timeout" in app.cuts


def test_many_slow_clients_are_all_let_go(served: tuple[Recorder, int]) -> None:
    _, port = served
    socks = [_connect(port) for _ in range(60)]
    try:
        for i, sock in enumerate(socks):
            if i % 2:
                sock.sendall(b"GET / HTTP/1.1\r\n")  # half send part of a request, half nothing
        started = time.monotonic()
        for sock in socks:
            _read_all(sock)  # returns once the server closed it
        assert time.monotonic() - started < 5
    finally:
        for sock in socks:
            sock.close()


def test_an_idle_connection_is_closed_without_an_answer(served: tuple[Recorder, int]) -> None:
    app, port = served
    with _connect(port) as sock:
        assert _read_all(sock) == b""
    assert "idle_connection" in app.cuts


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (b"x-big: " + b"a" * 200_000 + b"\r\n", "larger than this gateway's limit of 4096 bytes"),
        (b"".join(b"x-h%d: 1\r\n" % i for i in range(10_000)), "more than 20 headers"),
        (b"x-a: " + b"a" * 3000 + b"\r\nx-b: " + b"b" * 3000 + b"\r\n", "larger than"),
    ],
)
def test_oversized_headers_get_431_in_the_clients_format(
    served: tuple[Recorder, int], headers: bytes, message: str
) -> None:
    app, port = served
    before = app.requests
    with _connect(port) as sock:
        # The server may close before it has read everything: the answer is still there.
        with contextlib.suppress(OSError):
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n")
        raw = _read_all(sock)
    status, body = _status_and_json(raw)
    assert status == 431
    assert body["type"] == "error" and message in body["error"]["message"]  # Anthropic's shape
    assert app.requests == before


def test_headers_that_never_end_are_cut_at_the_limit_not_buffered(served: tuple[Recorder, int]) -> None:
    _, port = served
    with _connect(port) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nx-endless: ")
        for _ in range(16):
            sock.sendall(b"a" * 1024)
        # Refused once past the limit, with headers still coming: the answer is already there.
        assert sock.recv(12) == b"HTTP/1.1 431"
        # What still comes is dropped for a while, then the connection is let go: never read whole.
        sent = 0
        with pytest.raises(OSError):
            while sent < 64 << 20:
                sock.sendall(b"a" * 65536)
                sent += 65536
        assert sent < 32 << 20


def test_a_keep_alive_connection_serves_requests_under_the_limits(served: tuple[Recorder, int]) -> None:
    _, port = served
    with _connect(port) as sock:
        for _ in range(3):
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert sock.recv(4096).endswith(b"ok")
            time.sleep(0.6)  # more than half the header deadline between requests


def test_a_client_that_stops_reading_is_cut_after_the_write_deadline(served: tuple[Recorder, int]) -> None:
    app, port = served
    app.flood_ended.clear()
    with _connect(port, rcvbuf=4096) as sock:
        sock.sendall(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
        started = time.monotonic()
        # Reads nothing: the socket buffers fill, the server's writes stall, the deadline cuts it.
        assert app.flood_ended.wait(15)
        assert time.monotonic() - started < 10
    assert "write_timeout" in app.cuts


def test_a_connection_answered_before_its_body_was_read_is_let_go(served: tuple[Recorder, int]) -> None:
    # A 401 or 404 comes before the body is read: no deadline covers what the client still sends, so
    # the connection ends after the answer instead of waiting for ever.
    _, port = served
    with _connect(port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 200000\r\n\r\n")
        assert sock.recv(4096).endswith(b"ok")  # answered without reading the body
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(100):
                sock.sendall(b"z")  # a drip the header and body deadlines never see
                time.sleep(0.05)
        assert _read_all_or_reset(sock) == b""
        assert time.monotonic() - started < 6


def _read_all_or_reset(sock: socket.socket) -> bytes:
    try:
        return _read_all(sock)
    except ConnectionResetError:
        return b""


def test_a_refusal_waits_for_the_answer_in_progress_on_a_pipelined_connection(
    served: tuple[Recorder, int],
) -> None:
    _, port = served
    with _connect(port) as sock:
        sock.sendall(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
        # A second request pipelined behind it, with too many headers: its 431 must not be written
        # into the middle of the first answer's body.
        sock.sendall(b"GET / HTTP/1.1\r\n" + b"".join(b"x-h%d: 1\r\n" % i for i in range(50)) + b"\r\n")
        data = b""
        with contextlib.suppress(OSError):
            while len(data) < 48 << 20:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        assert b"HTTP/1.1 431" not in data
