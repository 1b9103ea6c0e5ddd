"""The long-lived services one gateway process holds, built at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from gateway.admission import Admission, Drain, shared_by
from gateway.audit.anchor import Anchoring
from gateway.audit.chain import chain_key
from gateway.audit.record import content_key, event_row
from gateway.audit.store import AuditWriter
from gateway.audit.verify import prune
from gateway.auth import KeyStore
from gateway.database import create_db_engine, migrate
from gateway.endpoints import DestinationTable
from gateway.local.backend import LocalBackend
from gateway.local.build import close_locals, start_locals
from gateway.local.sticky import StickyStore, build_sticky
from gateway.metrics import Metrics
from gateway.metrics_merge import WorkerMetrics, snapshots
from gateway.models_catalog import ModelCatalog
from gateway.policy.store import PolicyEvent, PolicyStore
from gateway.rules import Rules, load_rules, rule_files
from gateway.scan.build import build_engine
from gateway.scan.service import Scanner
from gateway.secret import resolve_secret
from gateway.settings import Settings
from gateway.transform.surrogates import Surrogates
from gateway.transform.vault import Vault, VaultUnavailable, build_vault
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
    policies: PolicyStore[Rules]  # the policy with the term lists and fingerprints it decides with
    secret: bytes = field(repr=False)
    vault: Vault
    surrogates: Surrogates
    # Housekeeping in the background: the vault sweep, the audit retention.
    chores: tuple[asyncio.Task[None], ...]
    # Local destinations by name: readiness, admission, and where the embedded engine listens.
    locals: dict[str, LocalBackend]
    sticky: StickyStore | None
    audit_key: bytes = field(repr=False)  # keys the records' content hashes (prompt_hmac, answer_hmac)
    metrics: Metrics
    admission: Admission
    drain: Drain

    @classmethod
    async def start(cls, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
        # First: a bad policy stops the start-up before anything else is opened.
        files, scan = settings.file.policies, settings.file.scan
        policies = await asyncio.to_thread(
            PolicyStore, rule_files(files, scan), functools.partial(load_rules, files, scan)
        )
        engine = create_db_engine(settings.database_url)
        try:
            await asyncio.to_thread(migrate, engine)
            keys = KeyStore(engine, ttl=settings.server.key_cache_seconds)
            await asyncio.to_thread(keys.load)
            secret = await asyncio.to_thread(resolve_secret, settings, engine)
        except BaseException:
            engine.dispose()
            raise
        anchor = settings.file.audit.anchor
        audit = AuditWriter(
            engine,
            chain_key(secret),
            batch_size=settings.file.audit.batch_size,
            flush_interval=settings.file.audit.flush_interval,
            anchoring=Anchoring(
                chain_key(secret), file=anchor.file, syslog=anchor.syslog, interval=anchor.interval
            ),
        )
        audit.start()
        client = make_client(settings.upstream, transport)
        destinations = DestinationTable(settings.destinations)
        models = ModelCatalog(destinations, client, settings.credentials)
        scanner = None
        if settings.file.scan.enabled:
            # Seconds of model loading and hash checking: off the event loop, once.
            scan_engine = await asyncio.to_thread(build_engine, settings.file.scan, source=settings.source)
            scan = settings.file.scan
            scanner = Scanner(
                scan_engine,
                timeout=scan.timeout,
                threads=scan.threads,
                max_queued=scan.max_queued,
                heavy_bytes=scan.heavy_bytes,
            )

        def record(event: PolicyEvent) -> None:
            problem = "policy_invalid" if event.kind == "policy.rejected" else None
            detail = "\n".join(event.problems) or None
            audit.submit(event_row(event.kind, policy_version=event.version, error=problem, detail=detail))

        policies.report_to(record)
        if settings.file.policy_watch_interval > 0:
            policies.watch(settings.file.policy_watch_interval)
        vault = build_vault(settings.file.vault, engine, secret)
        sticky = build_sticky(settings.file.sticky_local, engine, secret)
        try:
            locals_ = await start_locals(destinations, client, settings.credentials, settings.cache_dir)
        except BaseException:
            await client.aclose()
            await vault.close()
            if sticky is not None:
                await sticky.close()
            audit.close()
            engine.dispose()
            raise
        admission = Admission(shared_by(settings.file.limits, settings.worker_count))
        metrics = Metrics((d.name for d in destinations), locals_, audit, admission, scanner)
        return cls(
            settings,
            destinations,
            engine,
            keys,
            audit,
            client,
            models,
            scanner,
            policies,
            secret,
            vault,
            Surrogates(),
            _chores(settings, vault, engine, chain_key(secret), metrics),
            locals_,
            sticky,
            content_key(secret),
            metrics=metrics,
            admission=admission,
            drain=Drain(admission, settings.server.drain_seconds),
        )

    async def close(self) -> None:
        await close_locals(self.locals)
        if self.sticky is not None:
            await self.sticky.close()
        for chore in self.chores:
            chore.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await chore
        self.policies.close()
        if self.scanner is not None:
            self.scanner.close()
        await self.client.aclose()
        await self.vault.close()
        await asyncio.to_thread(self.audit.close)
        self.engine.dispose()


log = logging.getLogger("gateway.vault")
audit_log = logging.getLogger("gateway.audit")
RETENTION_INTERVAL = 6 * 3600.0


def _chores(
    settings: Settings, vault: Vault, engine: Engine, key: bytes, metrics: Metrics
) -> tuple[asyncio.Task[None], ...]:
    tasks = [asyncio.create_task(_sweep(vault, settings.file.vault.ttl_seconds))]
    if settings.worker_dir is not None:
        worker = WorkerMetrics(settings.worker_dir)
        tasks.append(asyncio.create_task(snapshots(worker, metrics.render)))
    days = settings.file.audit.retention_days
    if days is not None:
        tasks.append(asyncio.create_task(_retain(engine, key, days)))
    return tuple(tasks)


async def _retain(engine: Engine, key: bytes, days: float) -> None:
    """Prune audit records past retention now and then, leaving tombstones the trail verifies from."""
    while True:
        cutoff = datetime.now(UTC) - timedelta(days=days)
        try:
            removed, problem = await asyncio.to_thread(prune, engine, key, cutoff)
        except SQLAlchemyError as exc:
            audit_log.warning("audit retention could not run (%s)", type(exc).__name__)
        else:
            if problem is not None:
                # Never pruned past: a record that does not verify is evidence, kept for the auditors.
                audit_log.error("audit retention stopped at a record that does not verify: %s", problem)
            elif removed:
                audit_log.info("audit retention pruned %d records older than %s", removed, cutoff.date())
        await asyncio.sleep(RETENTION_INTERVAL)


async def _sweep(vault: Vault, ttl: float) -> None:
    """Delete expired vault entries now and then (loads already ignore them; this frees the space)."""
    interval = min(max(ttl / 4, 1.0), 3600.0)
    while True:
        await asyncio.sleep(interval)
        try:
            removed = await vault.purge_expired()
        except VaultUnavailable:
            log.warning("expired vault entries could not be purged")
            continue
        if removed:
            log.info("purged %d expired vault entries", removed)
