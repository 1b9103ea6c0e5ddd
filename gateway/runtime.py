"""The long-lived services one gateway process holds, built at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from gateway.audit.store import AuditWriter
from gateway.auth import KeyStore
from gateway.database import create_db_engine, metadata
from gateway.endpoints import DestinationTable
from gateway.models_catalog import ModelCatalog
from gateway.scan.build import build_engine
from gateway.scan.service import Scanner
from gateway.settings import Settings
from gateway.upstream.client import make_client


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    destinations: DestinationTable
    engine: Engine
    keys: KeyStore
    audit: AuditWriter
    client: httpx.AsyncClient
    models: ModelCatalog
    scanner: Scanner | None

    @classmethod
    async def start(cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
        engine = create_db_engine(settings.database_url)
        try:
            await asyncio.to_thread(metadata.create_all, engine)
            keys = KeyStore(engine)
            await asyncio.to_thread(keys.load)
        except BaseException:
            engine.dispose()
            raise
        audit = AuditWriter(
            engine,
            batch_size=settings.file.audit.batch_size,
            flush_interval=settings.file.audit.flush_interval,
        )
        audit.start()
        client = make_client(settings.upstream, transport)
        destinations = DestinationTable(settings.destinations)
        models = ModelCatalog(destinations, client, settings.credentials)
        scanner = None
        if settings.file.scan.enabled:
            # Seconds of model loading and hash checking: off the event loop, once.
            scan_engine = await asyncio.to_thread(build_engine, settings.file.scan, source=settings.source)
            scanner = Scanner(scan_engine, timeout=settings.file.scan.timeout)
        return cls(settings, destinations, engine, keys, audit, client, models, scanner)

    async def close(self) -> None:
        if self.scanner is not None:
            self.scanner.close()
        await self.client.aclose()
        await asyncio.to_thread(self.audit.close)
        self.engine.dispose()
