"""Build, start and stop the backends of the configured local destinations."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

import httpx

from gateway.endpoints import DestinationTable
from gateway.local.backend import LocalBackend, RemoteServer
from gateway.local.engine import EmbeddedEngine


async def start_locals(
    destinations: DestinationTable,
    client: httpx.AsyncClient,
    credentials: Mapping[str, str],
    cache_dir: Path,
) -> dict[str, LocalBackend]:
    backends: dict[str, LocalBackend] = {}
    for dest in destinations:
        if dest.settings.type != "local":
            continue
        if dest.settings.base_url is None:
            backends[dest.name] = EmbeddedEngine(dest, client, cache_dir)
        else:
            backends[dest.name] = RemoteServer(dest, client, credentials)
    results = await asyncio.gather(*(b.start() for b in backends.values()), return_exceptions=True)
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        await close_locals(backends)
        raise failed
    return backends


async def close_locals(backends: Mapping[str, LocalBackend]) -> None:
    await asyncio.gather(*(b.close() for b in backends.values()))
