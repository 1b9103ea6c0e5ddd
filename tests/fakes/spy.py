"""A spy for offshore destinations: a TCP listener that records every connection and every byte.

Where a test checks that a request the policy keeps local never leaves, a fake provider's list of
requests is not enough: a request cut off half-way, or a connection opened and closed, would never
be parsed into one.  The spy answers nothing and keeps everything it was sent.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any


class TcpSpy:
    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._received = bytearray()
        self._connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    @property
    def connections(self) -> int:
        with self._lock:
            return self._connections

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def __enter__(self) -> TcpSpy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with self._lock:
                self._connections += 1
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self._received += data


def spy_destinations(spy: TcpSpy, openai_models: list[str], anthropic_models: list[str]) -> dict[str, Any]:
    """Offshore destinations (one per wire format) for these models, all answered by ``spy``; list them
    before the others, since the first destination whose globs match a model is the one it goes to."""
    return {
        "spy-openai": {
            "type": "openai",
            "base_url": f"{spy.url}/v1",
            "api_key_env": "FAKE_OPENAI_KEY",
            "jurisdiction": "US",
            "models": openai_models,
        },
        "spy-anthropic": {
            "type": "anthropic",
            "base_url": spy.url,
            "api_key_env": "FAKE_ANTHROPIC_KEY",
            "jurisdiction": "US",
            "models": anthropic_models,
        },
    }


def assert_untouched(spy: TcpSpy) -> None:
    assert (spy.connections, spy.received) == (0, b""), "a request kept local reached an offshore destination"
