"""Audit writer: rows are queued by the request path and inserted in batches by one thread.

Batching keeps a disk or network round trip off every request (one transaction
covers many rows), and the thread keeps blocking database drivers off the event
loop.  The thread is also the only writer of this process's hash chain
(:mod:`gateway.audit.chain`): it links each batch and moves the chain's head in
the same transaction, so the chain has no gaps and no forks.

Two ways in:

* :meth:`AuditWriter.submit`: fire and forget (the end of a request, events);
* :meth:`AuditWriter.commit`: wait until the row is committed, or raise
  :class:`AuditUnavailable`.  The request path uses it for the record of where a
  request goes, before anything is sent: no record, no egress.  A waiting row
  is written at once, with whatever else is queued, instead of after the
  batching pause.

``flush()`` waits until everything queued so far is committed; ``close()``
drains the queue on shutdown.  A failed batch is retried, then its rows one by
one; a row that still fails is logged by count only (rows hold identifiers,
never content, but the log stays terse anyway).

A store that cannot be written makes the writer *unavailable* (:attr:`AuditWriter.available`):
logged once, loudly, shown by ``/readyz`` and the ``gateway_audit_store_up`` metric.  Every model
request is refused meanwhile, since its first record fails.  Nothing has to come in for it to recover:
while unavailable the writer tries every ``probe_interval`` seconds to write an ``audit.recovered``
event, and the first write that succeeds, probe or not, makes it available again.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.dialects import postgresql, sqlite

from gateway.audit.anchor import Anchoring
from gateway.audit.chain import Chain, head_mac, new_writer_id
from gateway.audit.record import event_row
from gateway.audit.tables import audit_chain_heads, audit_records
from gateway.errors import ServiceUnavailable

log = logging.getLogger("gateway.audit")

_STOP = object()


class AuditUnavailable(ServiceUnavailable):
    default_code = "audit_unavailable"


@dataclass(slots=True, eq=False)  # compared by identity
class _Item:
    row: dict[str, Any]
    # Set for commit(): where to report the outcome (the event loop of the waiting request).
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = None


class AuditWriter:
    def __init__(
        self,
        engine: Engine,
        chain_key: bytes,
        *,
        batch_size: int = 256,
        flush_interval: float = 0.05,
        writer_id: str | None = None,
        probe_interval: float = 2.0,
        anchoring: Anchoring | None = None,
    ) -> None:
        self._engine = engine
        self.anchoring = anchoring
        self._chain = Chain(chain_key, writer_id or new_writer_id())
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._failed = 0
        self._thread: threading.Thread | None = None
        self._probe_interval = probe_interval
        self._available = True
        self._outage_lost = 0  # records lost since the store became unavailable
        self._defaults = {
            c.name: c.default.arg if c.default is not None else None  # type: ignore[attr-defined]
            for c in audit_records.columns
            if c.name != "id"
        }

    @property
    def writer_id(self) -> str:
        return self._chain.writer

    @property
    def failed(self) -> int:
        return self._failed

    @property
    def anchor_failures(self) -> int:
        return self.anchoring.failures if self.anchoring is not None else 0

    @property
    def available(self) -> bool:
        """False from a write that failed until one succeeds (see the module's docstring)."""
        return self._available

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def submit(self, row: dict[str, Any]) -> None:
        with self._done:
            self._submitted += 1
        self._queue.put(_Item(dict(row)))

    async def commit(self, row: dict[str, Any]) -> None:
        """Return once ``row`` is committed; :class:`AuditUnavailable` if it cannot be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._done:
            self._submitted += 1
        self._queue.put(_Item(dict(row), loop, future))
        await future

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every row submitted before this call is written (or failed)."""
        deadline = time.monotonic() + timeout
        with self._done:
            target = self._submitted
            while self._written + self._failed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._done.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None
        if self.anchoring is not None:
            self.anchoring.write_pending()  # the last head, whatever the interval

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=None if self._available else self._probe_interval)
            except queue.Empty:
                self._probe()
                continue
            if first is _STOP:
                break
            batch: list[_Item] = [first]
            urgent = first.future is not None
            # Gather what else is already waiting; unless someone waits for a commit, pause briefly so
            # that a burst shares one transaction.
            deadline = time.monotonic() + (0.0 if urgent else self._flush_interval)
            while len(batch) < self._batch_size:
                try:
                    wait = 0.0 if urgent else max(0.0, deadline - time.monotonic())
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                urgent = urgent or item.future is not None
            self._write(batch)

    def _write(self, batch: list[_Item]) -> None:
        error = self._insert(batch, attempts=3)
        if error is None:
            lost: list[_Item] = []
        elif len(batch) > 1:
            # One bad row must not sink the others: write them one by one.
            lost = [item for item in batch if self._insert([item], attempts=1) is not None]
        else:
            lost = batch
        if lost:
            log.error("audit write failed; %d records lost (%s)", len(lost), error)
            self._unavailable(len(lost), error)
        elif not self._available:
            self._recovered()
        for item in batch:
            if item.future is not None and item.loop is not None:
                failed = item in lost
                item.loop.call_soon_threadsafe(_settle, item.future, failed)
        with self._done:
            self._written += len(batch) - len(lost)
            self._failed += len(lost)
            self._done.notify_all()

    def _unavailable(self, lost: int, error: str | None) -> None:
        self._outage_lost += lost
        if self._available:
            self._available = False
            log.critical(
                "audit store unavailable (%s): every model request is refused with 503 audit_unavailable "
                "until a write succeeds; retrying every %.0f s",
                error,
                self._probe_interval,
            )

    def _probe(self) -> None:
        """Write the event that closes an outage; if it commits, the store is back."""
        if self._insert([_Item(self._recovery_row())], attempts=1) is None:
            self._back()

    def _recovered(self) -> None:
        """A write succeeded while unavailable: the outage goes on record as the probe would put it."""
        row = self._recovery_row()
        self._back()
        self.submit(row)

    def _recovery_row(self) -> dict[str, Any]:
        return event_row("audit.recovered", policy_version=None, error=f"records lost: {self._outage_lost}")

    def _back(self) -> None:
        log.warning("audit store available again; %d records were lost meanwhile", self._outage_lost)
        self._available = True
        self._outage_lost = 0

    def _insert(self, items: list[_Item], attempts: int) -> str | None:
        """Link and insert in one transaction; None on success, else the error class (never its text:
        it may quote row values)."""
        error = None
        for attempt in range(attempts):
            # An executemany takes its columns from the first row: a request row batched after an
            # event row (which has no policy columns) would silently lose its own.  Every row names
            # every column.
            rows = [{**self._defaults, **item.row} for item in items]
            seq, last = self._chain.extend(rows)
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(audit_records), rows)
                    self._move_head(conn, seq, last)
            except Exception as exc:  # any driver error: retry, then report
                error = type(exc).__name__
                if attempt + 1 < attempts:
                    time.sleep(0.05 * (attempt + 1))
                continue
            self._chain.advance(seq, last)
            if self.anchoring is not None:
                self.anchoring.moved(self._chain.writer, seq, last)
            return None
        return error

    def _move_head(self, conn: Connection, seq: int, last: str) -> None:
        writer = self._chain.writer
        values = {
            "writer": writer,
            "last_seq": seq,
            "last_hash": last,
            "mac": head_mac(self._chain.key, writer, seq, last),
            "updated_at": datetime.now(UTC),
        }
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(audit_chain_heads).values(values)
        refresh = {name: stmt.excluded[name] for name in ("last_seq", "last_hash", "mac", "updated_at")}
        conn.execute(stmt.on_conflict_do_update(index_elements=["writer"], set_=refresh))


def _settle(future: asyncio.Future[None], failed: bool) -> None:
    if future.done():  # the waiting request was cancelled (its client left)
        return
    if failed:
        future.set_exception(
            AuditUnavailable(
                "The gateway could not record this request in its audit trail, so it was not sent."
            )
        )
    else:
        future.set_result(None)
