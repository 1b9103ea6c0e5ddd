"""``LeanTransport`` against real servers on loopback: uvicorn for realistic HTTP, and
``RawServer`` (tests/upstream/rawserver.py) where a test needs byte-level control.

Every test runs under both the default asyncio loop and uvloop (the ``run`` fixture).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvloop

from gateway.upstream.transport import HIGH_WATER, RETRY_STALE, LeanTransport
from tests.fakes.server import ThreadedServer
from tests.upstream.rawserver import RawServer, SeenRequest, ServerConn, keep_alive, response

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, T]], T]

TIMEOUT = httpx.Timeout(2.0)
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop] | None] = {
    "asyncio": None,
    "uvloop": uvloop.new_event_loop,
}


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Iterator[Runner[Any]]:
    factory = LOOPS[request.param]

    def runner(coro: Coroutine[Any, Any, T]) -> T:
        with asyncio.Runner(loop_factory=factory) as loop_runner:
            return loop_runner.run(_checked_loop(coro, uvloop_expected=factory is not None))

    yield runner
    gc.collect()  # an unclosed transport or socket fails the test that leaked it, not a later one


async def _checked_loop(coro: Coroutine[Any, Any, T], *, uvloop_expected: bool) -> T:
    assert isinstance(asyncio.get_running_loop(), uvloop.Loop) is uvloop_expected
    return await coro


def lean(timeout: httpx.Timeout = TIMEOUT, **transport_kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LeanTransport(**transport_kwargs), timeout=timeout)


async def wait_event(event: threading.Event, timeout: float = 2.0) -> None:
    assert await asyncio.to_thread(event.wait, timeout), "the server never got there"


# -- uvicorn ------------------------------------------------------------------------------------------------


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = json.dumps(
        {
            "method": scope["method"],
            "scheme": scope["scheme"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            "body": body.decode("latin-1"),
            "client": list(scope["client"]),
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"x-echo", b"1")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    with ThreadedServer(echo_app) as url:
        yield url


def _openssl_cert(directory: Path, name: str, san: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName={san}", "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return key, cert


@pytest.fixture(scope="module")
def localhost_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(key, cert): a self-signed certificate for localhost and 127.0.0.1."""
    return _openssl_cert(tmp_path_factory.mktemp("tls"), "localhost", "DNS:localhost,IP:127.0.0.1")


@pytest.fixture(scope="module")
def tls_localhost(localhost_cert: tuple[Path, Path]) -> Iterator[tuple[str, Path]]:
    """An HTTPS echo server whose self-signed certificate names 127.0.0.1; yields (url, cert)."""
    key, cert = localhost_cert
    server = ThreadedServer(echo_app, ssl_keyfile=str(key), ssl_certfile=str(cert))
    url = server.start()
    try:
        yield url.replace("http://", "https://"), cert
    finally:
        server.stop()


# -- 1. requests arrive intact ----------------------------------------------------------------------------


def test_get_request_line_host_and_query_arrive_intact(run: Runner[Any]) -> None:
    with RawServer(keep_alive()) as server:

        async def main() -> httpx.Response:
            async with lean() as client:
                return await client.get(
                    f"{server.url}/v1/models?limit=5&q=a%20b&flag&e=%E2%82%AC", headers={"X-Trace": "abc"}
                )

        r = run(main())
    assert (r.status_code, r.content, r.http_version) == (200, b"ok", "HTTP/1.1")
    (seen,) = server.requests
    assert seen.request_line == b"GET /v1/models?limit=5&q=a%20b&flag&e=%E2%82%AC HTTP/1.1"
    assert seen.header_all("host") == [f"127.0.0.1:{server.port}".encode()]
    assert seen.header("x-trace") == b"abc"
    assert seen.header("content-length") is None and seen.header("transfer-encoding") is None
    assert seen.body == b""


def test_post_body_arrives_intact_with_one_content_length(run: Runner[Any]) -> None:
    # Binary bytes and something that looks like a second request: only a length can frame this.
    body = bytes(range(256)) * 300 + b"\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with RawServer(keep_alive(lambda req: response(hashlib.sha256(req.body).hexdigest().encode()))) as server:

        async def main() -> httpx.Response:
            async with lean() as client:
                return await client.post(f"{server.url}/v1/chat?x=1", content=body)

        r = run(main())
    assert r.text == hashlib.sha256(body).hexdigest()
    (seen,) = server.requests  # the body did not turn into a second request
    assert seen.request_line == b"POST /v1/chat?x=1 HTTP/1.1"
    assert seen.header_all("content-length") == [str(len(body)).encode()]
    assert seen.header("transfer-encoding") is None
    assert seen.body == body


def test_round_trip_through_uvicorn(run: Runner[Any], echo_url: str) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with lean() as client:
            get = await client.get(f"{echo_url}/v1/models?limit=5&q=a%20b", headers={"accept": "x/y"})
            post = await client.post(f"{echo_url}/v1/chat/completions", json={"model": "m", "n": "é"})
            return get, post

    get, post = run(main())
    port = echo_url.rsplit(":", 1)[1]
    for r in (get, post):
        assert r.status_code == 201
        assert r.headers["content-type"] == "application/json" and r.headers["x-echo"] == "1"
        assert r.json()["scheme"] == "http"
        assert ["host", f"127.0.0.1:{port}"] in r.json()["headers"]
    assert get.json()["method"] == "GET"
    assert (get.json()["raw_path"], get.json()["query"]) == ("/v1/models", "limit=5&q=a%20b")
    assert ["accept", "x/y"] in get.json()["headers"]
    assert post.json()["method"] == "POST" and post.json()["raw_path"] == "/v1/chat/completions"
    assert json.loads(post.json()["body"].encode("latin-1")) == {"model": "m", "n": "é"}
    assert get.json()["client"] == post.json()["client"]  # one keep-alive connection


# -- 2, 3. response framing ----------------------------------------------------------------------------------


def test_chunked_response_is_streamed_incrementally(run: Runner[Any]) -> None:
    acked = threading.Event()
    outcome: dict[str, bool] = {}

    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        # The second chunk is only sent once the client has seen the first.
        outcome["acked_before_second"] = acked.wait(2.0)
        conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
        conn.read_request()

    with RawServer(handler) as server:

        async def main() -> list[bytes]:
            chunks = []
            async with lean() as client, client.stream("GET", server.url) as r:
                assert r.headers["transfer-encoding"] == "chunked"
                async for chunk in r.aiter_raw():
                    chunks.append(chunk)
                    acked.set()
            return chunks

        chunks = run(main())
    assert outcome == {"acked_before_second": True}
    assert chunks[0] == b"first" and b"".join(chunks) == b"firstsecond"


@pytest.mark.parametrize("status_line", ["HTTP/1.1 200 OK\r\nConnection: close", "HTTP/1.0 200 OK"])
def test_close_delimited_response_is_read_to_the_end(run: Runner[Any], status_line: str) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(f"{status_line}\r\nContent-Type: text/plain\r\n\r\n".encode())
        for i in range(5):
            conn.send(b"part%d;" % i)
            time.sleep(0.01)
        # the handler returning closes the socket: that is the end of the body

    with RawServer(handler) as server:

        async def main() -> list[httpx.Response]:
            async with lean() as client:
                return [await client.get(server.url), await client.get(server.url)]

        responses = run(main())
    assert [r.content for r in responses] == [b"part0;part1;part2;part3;part4;"] * 2
    assert server.accepted == 2  # a close-delimited connection is never reused


def test_connection_close_response_is_not_reused(run: Runner[Any]) -> None:
    outcome: dict[int, bool] = {}

    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"bye", headers=("Connection: close",)))
        outcome[conn.index] = conn.wait_peer_close(2.0)  # the server leaves it to the client to close

    with RawServer(handler) as server:

        async def main() -> list[bytes]:
            async with lean() as client:
                return [(await client.get(server.url)).content for _ in range(2)]

        assert run(main()) == [b"bye", b"bye"]
    assert server.accepted == 2
    assert outcome == {0: True, 1: True}


# -- 4, 5. connection reuse ----------------------------------------------------------------------------------


def test_sequential_requests_reuse_one_connection(run: Runner[Any]) -> None:
    with RawServer(keep_alive(lambda req: response(req.target))) as server:

        async def main() -> list[bytes]:
            bodies = []
            async with lean() as client:
                for i in range(5):
                    bodies.append((await client.get(f"{server.url}/r{i}")).content)
                async with client.stream("GET", f"{server.url}/s") as r:
                    bodies.append(await r.aread())
                bodies.append((await client.post(f"{server.url}/p", content=b"x" * 1000)).content)
            return bodies

        assert run(main()) == [b"/r0", b"/r1", b"/r2", b"/r3", b"/r4", b"/s", b"/p"]
    assert server.accepted == 1
    assert {req.conn_index for req in server.requests} == {0}


def test_concurrent_requests_use_separate_connections(run: Runner[Any]) -> None:
    # The server answers the first four requests only once all four have arrived.
    barrier = threading.Barrier(4, timeout=2.0)

    def reply(req: SeenRequest) -> bytes:
        if req.target.startswith(b"/c"):
            barrier.wait()
        return response(req.target)

    with RawServer(keep_alive(reply)) as server:

        async def main() -> list[bytes]:
            async with lean() as client:
                rs = await asyncio.gather(*(client.get(f"{server.url}/c{i}") for i in range(4)))
                after = [await client.get(f"{server.url}/after{i}") for i in range(4)]
            return [r.content for r in [*rs, *after]]

        bodies = run(main())
    assert bodies == [b"/c0", b"/c1", b"/c2", b"/c3", b"/after0", b"/after1", b"/after2", b"/after3"]
    assert server.accepted == 4  # and the later requests reused them


def test_response_not_read_to_the_end_closes_its_connection(run: Runner[Any]) -> None:
    outcome: dict[str, bool] = {}

    def handler(conn: ServerConn) -> None:
        while (req := conn.read_request()) is not None:
            if req.target == b"/big":
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
                outcome["closed"] = conn.wait_peer_close(2.0)
                return
            conn.send(response(b"small"))

    with RawServer(handler) as server:

        async def main() -> tuple[bytes, bytes]:
            async with lean() as client:
                async with client.stream("GET", f"{server.url}/big") as r:
                    first = await anext(r.aiter_raw())
                return first, (await client.get(f"{server.url}/small")).content

        first, small = run(main())
    assert first == b"x" * 1000 and small == b"small"
    assert outcome == {"closed": True}
    assert [req.conn_index for req in server.requests] == [0, 1]  # not reused


def test_server_closing_an_idle_connection_is_noticed(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"conn%d" % conn.index))
        if conn.index > 0:
            keep_alive(lambda _req: response(b"conn%d" % conn.index))(conn)
        # connection 0: closed after one response, like a server's keep-alive timeout

    with RawServer(handler) as server:

        async def main() -> list[bytes]:
            async with lean() as client:
                first = await client.get(server.url)
                await asyncio.sleep(0.1)  # the FIN arrives while the connection is idle in the pool
                return [first.content, (await client.get(server.url)).content]

        assert run(main()) == [b"conn0", b"conn1"]
    assert [req.conn_index for req in server.requests] == [0, 1]  # the second on a new connection


def test_stale_connection_is_retried_once_on_a_new_one(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"conn%d" % conn.index))
        if conn.index == 0:
            conn.read_request()  # the second request arrives on the reused connection...
            return  # ...and the server hangs up without a byte of response
        keep_alive(lambda _req: response(b"conn%d" % conn.index))(conn)

    with RawServer(handler) as server:

        async def main() -> list[bytes]:
            async with lean() as client:
                return [(await client.get(f"{server.url}/{i}")).content for i in range(2)]

        assert run(main()) == [b"conn0", b"conn1"]
    assert [(req.conn_index, req.target) for req in server.requests] == [(0, b"/0"), (0, b"/1"), (1, b"/1")]


def test_stale_connection_post_is_not_retried(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"conn%d" % conn.index))
        conn.read_request()  # the POST arrives on the reused connection, and the server hangs up

    with RawServer(handler) as server:

        async def main() -> None:
            async with lean() as client:
                await client.get(server.url)
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.post(server.url, content=b"generate")

        run(main())
    assert len(server.requests) == 2 and server.accepted == 1


def test_stale_connection_post_is_retried_when_the_request_allows_it(run: Runner[Any]) -> None:
    # A local engine's generation is not billed, and llama.cpp's server hangs up after each stream.
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"conn%d" % conn.index))
        if conn.index == 0:
            conn.read_request()
            return
        keep_alive(lambda _req: response(b"conn%d" % conn.index))(conn)

    with RawServer(handler) as server:

        async def main() -> bytes:
            async with lean() as client:
                await client.get(server.url)
                request = client.build_request(
                    "POST", server.url, content=b"generate", extensions={RETRY_STALE: True}
                )
                return (await client.send(request)).content

        assert run(main()) == b"conn1"
    assert [req.conn_index for req in server.requests] == [0, 0, 1]


def test_no_retry_on_a_fresh_connection_or_after_part_of_a_response(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        req = conn.read_request()
        assert req is not None
        if req.target == b"/fresh":
            return  # a fresh connection closed without a response
        conn.send(response(b"one"))
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Le")  # a reused one that sent part of a response

    with RawServer(handler) as server:

        async def main() -> tuple[httpx.RemoteProtocolError, httpx.RemoteProtocolError]:
            async with lean() as client:
                with pytest.raises(httpx.RemoteProtocolError) as fresh:
                    await client.get(f"{server.url}/fresh")
                assert (await client.get(f"{server.url}/one")).content == b"one"
                with pytest.raises(httpx.RemoteProtocolError) as partial:
                    await client.get(f"{server.url}/two")
            return fresh.value, partial.value

        fresh, partial = run(main())
    assert str(fresh.request.url) == f"{server.url}/fresh"
    assert str(partial.request.url) == f"{server.url}/two"
    assert server.accepted == 2  # neither failure was retried
    assert [req.target for req in server.requests] == [b"/fresh", b"/one", b"/two"]


@pytest.mark.parametrize(("expiry", "connections"), [(0.1, 2), (5.0, 1)])
def test_keepalive_expiry_drops_old_idle_connections(
    run: Runner[Any], expiry: float, connections: int
) -> None:
    with RawServer(keep_alive()) as server:

        async def main() -> None:
            async with lean(keepalive_expiry=expiry) as client:
                assert (await client.get(server.url)).content == b"ok"
                await asyncio.sleep(0.25)
                assert (await client.get(server.url)).content == b"ok"

        run(main())
    assert server.accepted == connections
    assert [req.conn_index for req in server.requests] == [0, connections - 1]


# -- 6. errors -----------------------------------------------------------------------------------------------


def test_connection_refused_is_connect_error(run: Runner[Any]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/x"

        async def main() -> httpx.ConnectError:
            async with lean() as client:
                with pytest.raises(httpx.ConnectError) as info:
                    await client.get(url)
            return info.value

        exc = run(main())
    assert not isinstance(exc, httpx.TimeoutException)
    assert str(exc.request.url) == url


def test_connect_timeout(run: Runner[Any]) -> None:
    # A listener whose accept queue is full: Linux drops further SYNs, so connecting hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers: list[socket.socket] = []
        try:
            for _ in range(8):
                filler = socket.socket()
                fillers.append(filler)
                filler.settimeout(0.2)
                try:
                    filler.connect(("127.0.0.1", port))
                except TimeoutError:
                    break
            else:
                pytest.fail("could not fill the listen backlog")

            async def main() -> tuple[httpx.ConnectTimeout, float]:
                async with lean(httpx.Timeout(2.0, connect=0.2)) as client:
                    start = time.monotonic()
                    with pytest.raises(httpx.ConnectTimeout) as info:
                        await client.get(f"http://127.0.0.1:{port}/x")
                    return info.value, time.monotonic() - start

            exc, elapsed = run(main())
        finally:
            for filler in fillers:
                filler.close()
    assert 0.15 < elapsed < 1.5
    assert str(exc.request.url) == f"http://127.0.0.1:{port}/x"


def test_server_that_never_answers_is_read_timeout(run: Runner[Any]) -> None:
    outcome: dict[str, bool] = {}

    def handler(conn: ServerConn) -> None:
        conn.read_request()
        outcome["closed"] = conn.wait_peer_close(2.0)

    with RawServer(handler) as server:

        async def main() -> tuple[httpx.ReadTimeout, float]:
            async with lean(httpx.Timeout(2.0, read=0.2)) as client:
                start = time.monotonic()
                with pytest.raises(httpx.ReadTimeout) as info:
                    await client.get(f"{server.url}/slow")
                return info.value, time.monotonic() - start

        exc, elapsed = run(main())
    assert 0.15 < elapsed < 1.5
    assert str(exc.request.url) == f"{server.url}/slow"
    assert outcome == {"closed": True}  # the abandoned request was hung up, not left open
    assert server.accepted == 1  # a timeout is not retried


def test_stall_mid_body_is_read_timeout_while_iterating(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        conn.wait_peer_close(2.0)

    with RawServer(handler) as server:

        async def main() -> tuple[list[bytes], httpx.ReadTimeout, httpx.Request]:
            got = []
            async with lean(httpx.Timeout(2.0, read=0.2)) as client, client.stream("GET", server.url) as r:
                assert r.status_code == 200
                with pytest.raises(httpx.ReadTimeout) as info:
                    async for chunk in r.aiter_raw():
                        got.append(chunk)
            return got, info.value, r.request

        got, exc, request = run(main())
    assert got == [b"0123456789"]
    assert exc.request is request


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Len",
    ],
    ids=["content-length", "chunked", "in-headers"],
)
def test_server_cutting_the_response_short_is_remote_protocol_error(run: Runner[Any], partial: bytes) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(partial)

    with RawServer(handler) as server:

        async def main() -> httpx.RemoteProtocolError:
            async with lean() as client:
                with pytest.raises(httpx.RemoteProtocolError) as info:
                    await client.get(f"{server.url}/cut")
            return info.value

        exc = run(main())
    assert str(exc.request.url) == f"{server.url}/cut"


def test_connection_reset_mid_body_is_read_error(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        time.sleep(0.1)  # let the client take the bytes before the RST
        conn.reset()

    with RawServer(handler) as server:

        async def main() -> httpx.ReadError:
            async with lean() as client:
                with pytest.raises(httpx.ReadError) as info:
                    await client.get(f"{server.url}/reset")
            return info.value

        exc = run(main())
    assert str(exc.request.url) == f"{server.url}/reset"


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
    ],
    ids=["not-http", "bad-status", "bad-length", "bad-chunk"],
)
def test_garbage_response_is_remote_protocol_error(run: Runner[Any], garbage: bytes) -> None:
    outcome: dict[str, bool] = {}

    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(garbage)
        outcome["closed"] = conn.wait_peer_close(2.0)

    with RawServer(handler) as server:

        async def main() -> httpx.RemoteProtocolError:
            async with lean() as client:
                with pytest.raises(httpx.RemoteProtocolError) as info:
                    await client.get(f"{server.url}/garbage")
            return info.value

        exc = run(main())
    assert str(exc.request.url) == f"{server.url}/garbage"
    assert outcome == {"closed": True}  # the client dropped the broken connection


def test_unsupported_scheme(run: Runner[Any]) -> None:
    async def main() -> httpx.UnsupportedProtocol:
        async with lean() as client:
            with pytest.raises(httpx.UnsupportedProtocol) as info:
                await client.get("ftp://127.0.0.1/x")
        return info.value

    assert str(run(main()).request.url) == "ftp://127.0.0.1/x"


# -- 7, 8. cancellation and the pool -------------------------------------------------------------------------


def _hang_or_answer(reached: threading.Event, outcome: dict[str, bool]) -> Callable[[ServerConn], None]:
    """/hang: never answer; /stream: headers and one chunk, then nothing; else answer, keep-alive."""

    def handler(conn: ServerConn) -> None:
        while (req := conn.read_request()) is not None:
            if req.target == b"/hang":
                reached.set()
                outcome["closed"] = conn.wait_peer_close(2.0)
                return
            if req.target == b"/stream":
                conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
                reached.set()
                outcome["closed"] = conn.wait_peer_close(2.0)
                return
            conn.send(response(req.target))

    return handler


ONE_SLOT = {"max_connections": 1, "timeout": httpx.Timeout(2.0, pool=0.5)}


def test_cancel_while_awaiting_the_response(run: Runner[Any]) -> None:
    reached, outcome = threading.Event(), {}
    with RawServer(_hang_or_answer(reached, outcome)) as server:

        async def main() -> bytes:
            async with lean(**ONE_SLOT) as client:
                task = asyncio.create_task(client.get(f"{server.url}/hang"))
                await wait_event(reached)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return (await client.get(f"{server.url}/after")).content  # the one slot is free

        assert run(main()) == b"/after"
    assert outcome == {"closed": True}  # the upstream request was abandoned, not left running
    assert [req.conn_index for req in server.requests] == [0, 1]


def test_cancel_while_iterating_a_stream(run: Runner[Any]) -> None:
    reached, outcome = threading.Event(), {}
    with RawServer(_hang_or_answer(reached, outcome)) as server:

        async def main() -> tuple[list[bytes], bytes]:
            got: list[bytes] = []
            got_one = asyncio.Event()
            async with lean(**ONE_SLOT) as client:

                async def consume() -> None:
                    async with client.stream("GET", f"{server.url}/stream") as r:
                        async for chunk in r.aiter_raw():
                            got.append(chunk)
                            got_one.set()

                task = asyncio.create_task(consume())
                await asyncio.wait_for(got_one.wait(), 2.0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                return got, (await client.get(f"{server.url}/after")).content

        assert run(main()) == ([b"first"], b"/after")
    assert outcome == {"closed": True}
    assert [req.conn_index for req in server.requests] == [0, 1]


def test_pool_timeout_while_the_only_slot_is_held(run: Runner[Any]) -> None:
    reached, outcome = threading.Event(), {}
    with RawServer(_hang_or_answer(reached, outcome)) as server:

        async def main() -> tuple[httpx.PoolTimeout, float, bytes]:
            async with lean(max_connections=1, timeout=httpx.Timeout(2.0, pool=0.2)) as client:
                async with client.stream("GET", f"{server.url}/stream") as held:
                    assert held.status_code == 200
                    start = time.monotonic()
                    with pytest.raises(httpx.PoolTimeout) as info:
                        await client.get(f"{server.url}/queued")
                    elapsed = time.monotonic() - start
                # the held stream is closed (not read to the end): the slot is free again
                return info.value, elapsed, (await client.get(f"{server.url}/after")).content

        exc, elapsed, after = run(main())
    assert 0.15 < elapsed < 1.5
    assert str(exc.request.url) == f"{server.url}/queued"
    assert after == b"/after"
    assert [req.target for req in server.requests] == [b"/stream", b"/after"]  # /queued never went out


def test_errors_release_the_pool_slot(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        while (req := conn.read_request()) is not None:
            if req.target == b"/hang":
                conn.wait_peer_close(2.0)
                return
            if req.target == b"/stall":
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                conn.wait_peer_close(2.0)
                return
            if req.target == b"/garbage":
                conn.send(b"NOT HTTP\r\n\r\n")
                conn.wait_peer_close(2.0)
                return
            if req.target == b"/cut":
                conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                return
            conn.send(response(req.target))

    with RawServer(handler) as server, socket.socket() as refused:
        refused.bind(("127.0.0.1", 0))
        urls = [f"{server.url}{path}" for path in ("/hang", "/stall", "/garbage", "/cut")]
        urls.append(f"http://127.0.0.1:{refused.getsockname()[1]}/")

        async def main() -> list[str]:
            seen = []
            async with lean(httpx.Timeout(2.0, read=0.2, pool=0.3), max_connections=1) as client:
                for url in urls:
                    with pytest.raises(httpx.TransportError) as info:
                        await client.get(url)
                    seen.append(type(info.value).__name__)
                seen.append((await client.get(f"{server.url}/ok")).text)
            return seen

        assert run(main()) == [
            "ReadTimeout", "ReadTimeout", "RemoteProtocolError", "RemoteProtocolError", "ConnectError", "/ok"
        ]  # fmt: skip


# -- 9. backpressure -----------------------------------------------------------------------------------------


def test_slow_consumer_gets_tcp_backpressure_and_an_intact_body(run: Runner[Any]) -> None:
    size = 20 * 1024 * 1024
    body = hashlib.sha256(b"seed").digest() * (size // 32)
    conns: list[ServerConn] = []

    def handler(conn: ServerConn) -> None:
        conns.append(conn)
        conn.read_request()
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        view = memoryview(body)
        for offset in range(0, size, 65536):
            conn.send(view[offset : offset + 65536])
        conn.read_request()

    with RawServer(handler, sndbuf=64 * 1024) as server:

        async def main() -> tuple[list[int], bytes]:
            async with lean() as client, client.stream("GET", server.url) as r:
                chunks = r.aiter_raw()
                received = [await anext(chunks)]
                # A slow consumer.  Without backpressure all 20 MB would cross loopback in a few tens
                # of milliseconds; with it the server's sends stop once the transport's buffer and the
                # kernel's socket buffers are full (the kernel may take a moment to stop growing them).
                sent = [conns[0].sent]
                while len(sent) < 3 or sent[-1] != sent[-3]:
                    assert len(sent) < 15, f"the server never stopped sending: {sent}"
                    await asyncio.sleep(0.1)
                    sent.append(conns[0].sent)
                received += [chunk async for chunk in chunks]
                return sent, b"".join(received)

        sent, got = run(main())
    assert HIGH_WATER < sent[-1] < size // 2, sent
    assert len(got) == size and got == body


# -- 10. TLS -------------------------------------------------------------------------------------------------


def test_https_with_a_trusted_self_signed_certificate(
    run: Runner[Any], tls_localhost: tuple[str, Path]
) -> None:
    url, cert = tls_localhost

    async def main() -> list[httpx.Response]:
        context = ssl.create_default_context(cafile=str(cert))
        async with lean(ssl_context=context) as client:
            return [await client.post(f"{url}/tls?i={i}", content=b"secret %d" % i) for i in range(3)]

    responses = run(main())
    assert [r.status_code for r in responses] == [201] * 3
    assert [r.json()["body"] for r in responses] == ["secret 0", "secret 1", "secret 2"]
    assert {r.json()["scheme"] for r in responses} == {"https"}
    assert len({tuple(r.json()["client"]) for r in responses}) == 1  # one TLS connection, reused


def test_untrusted_certificate_is_refused(run: Runner[Any], tls_localhost: tuple[str, Path]) -> None:
    url, _ = tls_localhost

    async def main() -> httpx.ConnectError:
        async with lean() as client:  # default trust store: the self-signed certificate is unknown
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"{url}/x")
        return info.value

    exc = run(main())
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
    assert str(exc.request.url) == f"{url}/x"


def test_certificate_for_another_host_is_refused(run: Runner[Any], tmp_path: Path) -> None:
    key, cert = _openssl_cert(tmp_path, "other.invalid", "DNS:other.invalid")
    with ThreadedServer(echo_app, ssl_keyfile=str(key), ssl_certfile=str(cert)) as url:
        https = url.replace("http://", "https://")

        async def main() -> httpx.ConnectError:
            context = ssl.create_default_context(cafile=str(cert))  # trusted, but for the wrong name
            async with lean(ssl_context=context) as client:
                with pytest.raises(httpx.ConnectError) as info:
                    await client.get(f"{https}/x")
            return info.value

        exc = run(main())
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc) and "127.0.0.1" in str(exc)


def test_closing_the_client_releases_its_tls_connections(
    run: Runner[Any], localhost_cert: tuple[Path, Path]
) -> None:
    key, cert = localhost_cert
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    outcome: dict[str, bool] = {}

    def handler(conn: ServerConn) -> None:
        conn.read_request()
        conn.send(response(b"secure"))
        outcome["client_left"] = conn.wait_peer_close(2.0)
        conn.hold()  # a peer that never answers a TLS close_notify, nor closes: many do not

    with RawServer(handler, ssl_context=server_context) as server:

        async def main() -> bytes:
            async with lean(ssl_context=ssl.create_default_context(cafile=str(cert))) as client:
                return (await client.get(server.url)).content

        # The loop closes right after the client: a socket still open then is a ResourceWarning,
        # which fails this test (filterwarnings = error, and the ``run`` fixture collects garbage).
        assert run(main()) == b"secure"
    assert outcome == {"client_left": True}


# -- bugs found while writing this file ----------------------------------------------------------------------


def test_head_response_has_no_body_whatever_its_content_length(run: Runner[Any]) -> None:
    def reply(req: SeenRequest) -> bytes:
        if req.method == b"HEAD":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        return response(b"body")

    with RawServer(keep_alive(reply)) as server:

        async def main() -> tuple[httpx.Response, httpx.Response]:
            async with lean(httpx.Timeout(2.0, read=0.5)) as client:
                return await client.head(server.url), await client.get(server.url)

        head, get = run(main())
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "1234", b"")
    assert get.content == b"body"
    assert server.accepted == 1


@pytest.mark.parametrize("parts", [[b"hello ", b"world"], []], ids=["body", "empty"])
def test_streaming_request_body_is_sent_with_a_content_length(run: Runner[Any], parts: list[bytes]) -> None:
    with RawServer(keep_alive(lambda req: response(req.body))) as server:

        async def body() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        async def main() -> httpx.Response:
            async with lean(httpx.Timeout(2.0, read=0.5)) as client:
                return await client.post(server.url, content=body())

        r = run(main())
    assert r.content == b"".join(parts)
    (seen,) = server.requests
    # The transport sends the body whole; announcing "chunked" too would let the server
    # read the raw bytes as chunk framing (or, with both headers, as a smuggling attempt).
    assert seen.header("transfer-encoding") is None
    assert seen.header_all("content-length") == [str(len(b"".join(parts))).encode()]


@pytest.mark.parametrize(
    ("method", "name", "value"),
    [
        ("GET", "x-api-key", "sk-test\r\nX-Injected: yes"),
        ("GET", "x-api-key", "sk-test\n"),  # a key read from a file with its trailing newline
        ("GET", "x-a\r\nx-injected", "yes"),
        ("GET", "bad name", "v"),
        ("GET / HTTP/1.1\r\nX-Injected: yes\r\n\r\nGET", "x-ok", "v"),
    ],
    ids=["crlf-value", "lf-value", "crlf-name", "space-name", "crlf-method"],
)
def test_header_and_method_injection_is_refused(run: Runner[Any], method: str, name: str, value: str) -> None:
    # httpx's own transport (h11) refuses these with LocalProtocolError; so must this one.
    with RawServer(keep_alive()) as server:

        async def main() -> httpx.LocalProtocolError:
            async with lean() as client:
                with pytest.raises(httpx.LocalProtocolError) as info:
                    await client.request(method, f"{server.url}/x", headers={name: value})
            return info.value

        exc = run(main())
    assert str(exc.request.url) == f"{server.url}/x"
    assert server.requests == []


def test_pooled_connection_whose_reading_was_paused_still_works(run: Runner[Any]) -> None:
    # A body of HIGH_WATER + 1 bytes: the read that crosses the high-water mark (and pauses
    # reading) is the one that completes the response, so the connection goes back to the pool.
    def reply(req: SeenRequest) -> bytes:
        return response(b"x" * (HIGH_WATER + 1) if req.target == b"/big" else b"small")

    with RawServer(keep_alive(reply)) as server:

        async def main() -> bytes:
            async with lean(httpx.Timeout(2.0, read=0.5)) as client:
                async with client.stream("GET", f"{server.url}/big"):
                    await asyncio.sleep(0.2)  # the whole body arrives; the consumer reads none of it
                return (await client.get(f"{server.url}/small")).content

        assert run(main()) == b"small"


def test_bytes_after_the_end_of_a_response_are_not_part_of_it(run: Runner[Any]) -> None:
    def handler(conn: ServerConn) -> None:
        conn.read_request()
        if conn.index == 0:
            # One write: the response, then a second response nobody asked for.
            conn.send(response(b"ok") + response(b"evil", headers=("X-Evil: 1",)))
            conn.read_request()
            conn.send(response(b"answer to the second request on the first connection"))
            return
        conn.send(response(b"fresh"))
        conn.read_request()

    with RawServer(handler) as server:

        async def main() -> tuple[httpx.Response, bytes]:
            async with lean() as client:
                first = await client.get(server.url)
                return first, (await client.get(server.url)).content

        first, second = run(main())
    assert first.content == b"ok"
    assert "x-evil" not in first.headers and first.headers.get_list("content-length") == ["2"]
    assert second == b"fresh"  # a connection that spoke out of turn is not trusted again


@pytest.mark.parametrize("split", [True, False], ids=["separate-writes", "one-write"])
def test_interim_1xx_responses_are_skipped(run: Runner[Any], split: bool) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
    final = response(b"final", headers=("X-Final: yes",))

    def handler(conn: ServerConn) -> None:
        while conn.read_request() is not None:
            if split:
                conn.send(interim)
                time.sleep(0.05)
                conn.send(final)
            else:
                conn.send(interim + final)

    with RawServer(handler) as server:

        async def main() -> list[httpx.Response]:
            async with lean(httpx.Timeout(2.0, read=0.5)) as client:
                return [await client.post(server.url, content=b"data") for _ in range(2)]

        responses = run(main())
    for r in responses:
        assert (r.status_code, r.content, r.headers["x-final"]) == (200, b"final", "yes")
        assert "link" not in r.headers
    assert server.accepted == 1
