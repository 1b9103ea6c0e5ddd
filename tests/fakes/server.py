"""Run any ASGI app under a real uvicorn server on loopback, in a background thread.

Used for the fake providers and for the gateway app under test::

    with serve_in_thread(FakeOpenAI()) as url:
        ...  # url == "http://127.0.0.1:<port>"
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

__all__ = ["ThreadedServer", "serve_in_thread"]


class ThreadedServer:
    """A uvicorn server bound to an ephemeral loopback port, running in a daemon thread.

    ``config_kwargs`` are passed to ``uvicorn.Config`` and override the defaults used here
    (``log_level="warning"``, ``log_config=None`` so uvicorn leaves the logging setup alone and its
    records propagate to the root logger, ``lifespan="off"``, ``access_log=False``,
    ``timeout_graceful_shutdown=1``).  Pass ``lifespan="on"`` for apps that need startup/shutdown.
    """

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 60.0,
        join_timeout: float = 10.0,
        **config_kwargs: Any,
    ) -> None:
        self.app = app
        self.host = host
        self.startup_timeout = startup_timeout
        self.join_timeout = join_timeout
        self.config_kwargs: dict[str, Any] = {
            "log_level": "warning",
            "log_config": None,
            "lifespan": "off",
            "access_log": False,
            "timeout_graceful_shutdown": 1,
            **config_kwargs,
        }
        self.server: uvicorn.Server | None = None
        self.url: str | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("server not started")
        port: int = self._sock.getsockname()[1]
        return port

    def start(self) -> str:
        """Start serving; return the base URL ``http://<host>:<port>`` once uvicorn has started."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
        # and without it Nagle + delayed ACKs add ~40 ms to every response on the plain asyncio loop.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, 0))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        port = self.port
        config = uvicorn.Config(self.app, host=self.host, port=port, **self.config_kwargs)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.host}:{port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start on {self.host}:{port}") from self._error
            time.sleep(0.005)
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self.url = f"http://{host}:{port}"
        return self.url

    def _run(self) -> None:
        assert self.server is not None and self._sock is not None
        try:
            self.server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit from a failed startup included
            self._error = exc

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for the thread, close the listening socket.  Idempotent."""
        if self.server is not None:
            self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.join_timeout)
            if self._thread.is_alive():
                assert self.server is not None
                self.server.force_exit = True
                self._thread.join(self.join_timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextmanager
def serve_in_thread(app: Any, *, host: str = "127.0.0.1", **config_kwargs: Any) -> Iterator[str]:
    """Serve ``app`` on an ephemeral port for the duration of the block; yield its base URL."""
    server = ThreadedServer(app, host=host, **config_kwargs)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
