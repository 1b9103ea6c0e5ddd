"""Provider keys, attached by the HTTP client at send time.

The key lives on the server only (read from ``api_key_env`` at start-up); it is
never taken from the client, never stored on the exchange and never logged.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

ANTHROPIC_VERSION = "2023-06-01"


class BearerKey(httpx.Auth):
    def __init__(self, key: str) -> None:
        self._header = f"Bearer {key}"

    def __repr__(self) -> str:
        return "BearerKey(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class AnthropicKey(httpx.Auth):
    def __init__(self, key: str) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "AnthropicKey(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-api-key"] = self._key
        request.headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        yield request


class NoKey(httpx.Auth):
    """For destinations that need no key (a local server on loopback)."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield request
