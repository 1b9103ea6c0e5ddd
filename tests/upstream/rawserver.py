"""A byte-level HTTP server on loopback for transport tests: one thread per accepted connection.

The handler gets a :class:`ServerConn` and writes whatever bytes it likes, so tests can send
malformed, close-delimited, stalled or cut responses and watch what the client does to the
socket (``wait_peer_close``).  The server counts accepted TCP connections and records every
request it parsed.  Handler exceptions are collected and re-raised when the server stops, so
an assertion inside a handler fails the test.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RawServer", "SeenRequest", "ServerConn", "keep_alive", "response"]

# Long enough never to fire in a passing test, short enough that a broken one does not hang.
SAFETY_TIMEOUT = 5.0


@dataclass
class SeenRequest:
    conn_index: int
    request_line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raw: bytes = field(repr=False)

    @property
    def method(self) -> bytes:
        return self.request_line.split(b" ")[0]

    @property
    def target(self) -> bytes:
        return self.request_line.split(b" ")[1]

    def header(self, name: str) -> bytes | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[bytes]:
        wanted = name.lower().encode()
        return [value for key, value in self.headers if key.lower() == wanted]


def response(body: bytes = b"ok", *, status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    """A complete content-length response."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class ServerConn:
    def __init__(self, server: RawServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        self.sent = 0  # bytes the kernel accepted from us
        self._buf = b""

    def _recv(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        return self.sock.recv(65536)

    def read_request(self, timeout: float = SAFETY_TIMEOUT) -> SeenRequest | None:
        """The next request on this connection (content-length or chunked body), None at a clean EOF."""
        while b"\r\n\r\n" not in self._buf:
            data = self._recv(timeout)
            if not data:
                if self._buf:
                    raise AssertionError(f"client closed mid-request: {self._buf!r}")
                return None
            self._buf += data
        head, self._buf = self._buf.split(b"\r\n\r\n", 1)
        request_line, *lines = head.split(b"\r\n")
        headers = []
        for line in lines:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip()))
        seen = SeenRequest(self.index, request_line, headers, b"", raw=head + b"\r\n\r\n")
        length = seen.header("content-length")
        if length is not None:
            seen.body = self._read_exactly(int(length), timeout)
        elif (seen.header("transfer-encoding") or b"").lower() == b"chunked":
            seen.body = self._read_chunked(timeout)
        seen.raw += seen.body
        with self.server.lock:
            self.server.requests.append(seen)
        return seen

    def _read_exactly(self, n: int, timeout: float) -> bytes:
        while len(self._buf) < n:
            data = self._recv(timeout)
            if not data:
                raise AssertionError("client closed mid-body")
            self._buf += data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_line(self, timeout: float) -> bytes:
        while b"\r\n" not in self._buf:
            data = self._recv(timeout)
            if not data:
                raise AssertionError("client closed mid-body")
            self._buf += data
        line, self._buf = self._buf.split(b"\r\n", 1)
        return line

    def _read_chunked(self, timeout: float) -> bytes:
        body = b""
        while size := int(self._read_line(timeout).split(b";")[0], 16):
            body += self._read_exactly(size, timeout)
            assert self._read_line(timeout) == b""
        assert self._read_line(timeout) == b""  # no trailers from our client
        return body

    def send(self, data: bytes) -> None:
        self.sock.settimeout(SAFETY_TIMEOUT)
        self.sock.sendall(data)
        self.sent += len(data)

    def wait_peer_close(self, timeout: float = SAFETY_TIMEOUT) -> bool:
        """True once the client has closed (or reset) the connection; False if it is still open."""
        try:
            while True:
                if not self._recv(timeout):
                    return True
        except TimeoutError:
            return False
        except OSError:  # reset by the peer
            return True

    def hold(self, timeout: float = SAFETY_TIMEOUT) -> None:
        """Keep the connection open, saying nothing, until the server stops (or the timeout)."""
        self.server.stopping.wait(timeout)

    def close(self) -> None:
        self.sock.close()

    def reset(self) -> None:
        """Close with an RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()


Handler = Callable[[ServerConn], None]


class RawServer:
    def __init__(
        self,
        handler: Handler,
        *,
        backlog: int = 64,
        sndbuf: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.handler = handler
        self.ssl_context = ssl_context
        self.backlog = backlog
        self.sndbuf = sndbuf
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.conns: list[ServerConn] = []
        self.requests: list[SeenRequest] = []
        self.errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        with self.lock:
            return len(self.conns)

    def start(self) -> RawServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.sndbuf is not None:  # inherited by accepted sockets
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.sndbuf)
        listener.bind(("127.0.0.1", 0))
        listener.listen(self.backlog)
        listener.settimeout(0.02)
        self._listener = listener
        self.port = listener.getsockname()[1]
        thread = threading.Thread(target=self._accept_loop, name=f"raw-accept-{self.port}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                conn = ServerConn(self, sock, len(self.conns))
                self.conns.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: ServerConn) -> None:
        try:
            if self.ssl_context is not None:
                conn.sock.settimeout(SAFETY_TIMEOUT)
                conn.sock = self.ssl_context.wrap_socket(conn.sock, server_side=True)
            self.handler(conn)
        except TimeoutError as exc:  # the safety timeout: the test would have hung
            if not self.stopping.is_set():
                with self.lock:
                    self.errors.append(exc)
        except OSError:
            pass  # a client resetting the connection is the client's business; tests check it
        except BaseException as exc:
            if not self.stopping.is_set():
                with self.lock:
                    self.errors.append(exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(SAFETY_TIMEOUT)
        for conn in conns:
            conn.close()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.stop()
        if exc_type is None and self.errors:
            raise self.errors[0]


def keep_alive(reply: Callable[[SeenRequest], bytes] = lambda _req: response()) -> Handler:
    """A handler that answers every request on the connection until the client hangs up."""

    def handler(conn: ServerConn) -> None:
        while (req := conn.read_request()) is not None:
            conn.send(reply(req))

    return handler
