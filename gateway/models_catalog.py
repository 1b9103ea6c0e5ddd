"""``GET /v1/models``: the models the configured destinations serve.

A destination's ``models:`` entries are globs, so the concrete names come from
the destination's own model list (fetched with the server's key, filtered by the
globs, cached), plus any entry that is a literal name.  A destination that cannot
be listed contributes its literal names only; the listing never fails as a whole.
The answer is in the Anthropic shape when the client sends ``anthropic-version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.asgi import Send, send_json
from gateway.endpoints import Destination, DestinationTable
from gateway.errors import GatewayError, ModelNotFound
from gateway.exchange import Exchange
from gateway.upstream.client import auth_for

_GLOB_CHARS = frozenset("*?[")
LIST_TIMEOUT = 5.0


class ModelCatalog:
    def __init__(
        self,
        destinations: DestinationTable,
        client: httpx.AsyncClient,
        credentials: Mapping[str, str],
        *,
        ttl: float = 300.0,
    ) -> None:
        self._destinations = destinations
        self._client = client
        self._credentials = credentials
        self._ttl = ttl
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def models(self) -> list[tuple[str, Destination]]:
        dests = list(self._destinations)
        listed = await asyncio.gather(*(self._models_of(d) for d in dests))
        seen: set[str] = set()
        result: list[tuple[str, Destination]] = []
        for dest, names in zip(dests, listed, strict=True):
            for name in names:
                # The first destination whose globs match a name is the one requests go to.
                if name not in seen and self._destinations.for_model(name) is dest:
                    seen.add(name)
                    result.append((name, dest))
        return result

    async def _models_of(self, dest: Destination) -> tuple[str, ...]:
        cached = self._cache.get(dest.name)
        now = time.monotonic()
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        literal = [m for m in dest.settings.models if not _GLOB_CHARS & set(m)]
        fetched: list[str] = []
        if dest.settings.base_url is not None:  # the embedded engine serves what its entry names
            with contextlib.suppress(httpx.HTTPError, ValueError, GatewayError):
                fetched = await self._fetch(dest)
        names = tuple(dict.fromkeys([*literal, *(n for n in fetched if dest.serves(n))]))
        self._cache[dest.name] = (now, names)
        return names

    async def _fetch(self, dest: Destination) -> list[str]:
        path = "/v1/models" if dest.wire == "anthropic" else "/models"
        response = await self._client.get(
            f"{dest.settings.base_url}{path}",
            auth=auth_for(dest, self._credentials),
            timeout=LIST_TIMEOUT,
        )
        response.raise_for_status()
        data = response.json().get("data", [])
        return [item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]

    async def respond(self, ex: Exchange, send: Send) -> None:
        anthropic = "anthropic-version" in ex.headers
        entries = await self.models()
        headers = {"x-request-id": ex.request_id, "request-id": ex.request_id}
        wanted = ex.path.rstrip("/").removeprefix("/v1/models").lstrip("/")
        if wanted:
            ex.model = wanted
            for name, dest in entries:
                if name == wanted:
                    ex.status = 200
                    await send_json(send, 200, _entry(name, dest, anthropic), headers)
                    return
            raise ModelNotFound("The model does not exist or is not served by this gateway.", param="model")
        items = [_entry(name, dest, anthropic) for name, dest in entries]
        payload: dict[str, Any]
        if anthropic:
            payload = {
                "data": items,
                "has_more": False,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
            }
        else:
            payload = {"object": "list", "data": items}
        ex.status = 200
        await send_json(send, 200, payload, headers)


def _entry(name: str, dest: Destination, anthropic: bool) -> dict[str, Any]:
    if anthropic:
        return {"type": "model", "id": name, "display_name": name, "created_at": "1970-01-01T00:00:00Z"}
    return {"id": name, "object": "model", "created": 0, "owned_by": dest.name}
