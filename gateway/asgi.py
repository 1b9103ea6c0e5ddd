"""Minimal ASGI plumbing shared by the stages: typed aliases and response senders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gateway.jsonwire import dumps_bytes

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = b"application/json"
SSE_TYPE = b"text/event-stream; charset=utf-8"


def header_map(scope: Scope) -> dict[str, str]:
    # Header names arrive lower-cased from ASGI servers; latin-1 round-trips any byte.
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_bytes(
    send: Send, status: int, body: bytes, headers: dict[str, str], content_type: bytes = JSON_TYPE
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    raw.extend(encode_headers(headers))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    await send_bytes(send, status, dumps_bytes(payload), headers or {})
