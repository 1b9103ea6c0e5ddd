"""Audit writer: rows are queued by the request path and inserted in batches by one thread.

Batching keeps a disk or network round trip off every request (one transaction
covers many rows), and the thread keeps blocking database drivers off the event
loop.  ``flush()`` waits until everything queued so far is committed; ``close()``
drains the queue on shutdown.  A failed batch is retried, then logged by count
only (rows may hold identifiers, never content, but the log stays terse anyway).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import Engine, insert

from gateway.audit.tables import audit_records

log = logging.getLogger("gateway.audit")

_STOP = object()


class AuditWriter:
    def __init__(self, engine: Engine, *, batch_size: int = 256, flush_interval: float = 0.05) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._failed = 0
        self._thread: threading.Thread | None = None

    @property
    def failed(self) -> int:
        return self._failed

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()

    def submit(self, row: dict[str, Any]) -> None:
        with self._done:
            self._submitted += 1
        self._queue.put(row)

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

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch = [first]
            # Gather what else is already waiting, briefly, so a burst shares one commit.
            deadline = time.monotonic() + self._flush_interval
            while len(batch) < self._batch_size:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        error = self._insert(batch, attempts=3)
        if error is not None and len(batch) > 1:
            # One bad row must not sink the others: write them one by one.
            lost = [row for row in batch if self._insert([row], attempts=1) is not None]
        else:
            lost = batch if error is not None else []
        if lost:
            log.error("audit write failed; %d records lost (%s)", len(lost), error)
        with self._done:
            self._written += len(batch) - len(lost)
            self._failed += len(lost)
            self._done.notify_all()

    def _insert(self, rows: list[dict[str, Any]], attempts: int) -> str | None:
        """Insert in one transaction; None on success, else the error class (never its text: it may
        quote row values)."""
        error = None
        # An executemany takes its columns from the first row: a request row batched after an event
        # row (which has no policy columns) would silently lose its own.  Every row names every column.
        defaults = {
            c.name: c.default.arg if c.default is not None else None  # type: ignore[attr-defined]
            for c in audit_records.columns
            if c.name != "id"
        }
        full = [{**defaults, **row} for row in rows]
        for attempt in range(attempts):
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(audit_records), full)
                return None
            except Exception as exc:  # any driver error: retry, then report
                error = type(exc).__name__
                if attempt + 1 < attempts:
                    time.sleep(0.05 * (attempt + 1))
        return error
