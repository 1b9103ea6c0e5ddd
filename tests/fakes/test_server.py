"""Tests of the threaded uvicorn runner, and of the ASGI-level framing of the fakes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from tests.fakes.providers import FakeOpenAI
from tests.fakes.server import ThreadedServer, serve_in_thread

USER = [{"role": "user", "content": "hello big world"}]


async def _hello(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def test_serve_in_thread_serves_any_asgi_app_and_stops() -> None:
    with serve_in_thread(_hello) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/ping").text == "/ping"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/ping", timeout=2)


def test_threaded_server_class_form_with_lifespan() -> None:
    server = ThreadedServer(FakeOpenAI(), lifespan="on")
    url = server.start()
    try:
        models = httpx.get(f"{url}/v1/models", headers={"authorization": "Bearer sk-fake-openai"})
        assert models.json()["object"] == "list"
        assert url.endswith(f":{server.port}")
    finally:
        server.stop()
    server.stop()  # idempotent


def test_each_sse_event_is_its_own_asgi_send() -> None:
    fake = FakeOpenAI()
    sent: list[dict[str, Any]] = []
    body = json.dumps({"model": "m", "messages": USER, "stream": True}).encode()

    async def run() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)
            raise AssertionError

        async def send(message: Any) -> None:
            sent.append(message)

        headers = [(b"authorization", b"Bearer sk-fake-openai")]
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "query_string": b"",
            "headers": headers,
        }
        await fake(scope, receive, send)

    asyncio.run(run())
    bodies = [m["body"] for m in sent[1:]]
    assert all(b.startswith(b"data: ") and b.endswith(b"\n\n") and b.count(b"data: ") == 1 for b in bodies)
    assert bodies[-1] == b"data: [DONE]\n\n" and sent[-1]["more_body"] is False


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_no_nagle_delay(loop: str) -> None:
    # Header and body leave in separate writes; without TCP_NODELAY each response waits ~40 ms for an ACK.
    with serve_in_thread(_hello, loop=loop) as url, httpx.Client(base_url=url) as client:
        client.get("/warm")
        start = time.monotonic()
        for _ in range(20):
            client.post("/x", json={"a": 1})
        assert time.monotonic() - start < 0.4
