from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from gateway.audit.record import event_row
from gateway.audit.store import AuditUnavailable, AuditWriter
from gateway.audit.tables import audit_records
from gateway.database import create_db_engine, metadata

KEY = b"chain-key-for-tests-0123456789ab"


def _row(i: int) -> dict[str, Any]:
    return {
        "request_id": f"req_{i}",
        "time": datetime.now(UTC),
        "user": "alice",
        "team": "t",
        "key_id": "k",
        "client_addr": "127.0.0.1",
        "method": "POST",
        "endpoint": "chat.completions",
        "requested_model": "gpt-4o-mini",
        "destination": "openai",
        "jurisdiction": "US",
        "stream": False,
        "status": 200,
        "latency_ms": 1.5,
        "input_tokens": 3,
        "output_tokens": 4,
        "request_bytes": 10,
        "response_bytes": 20,
        "error": None,
        "disconnected": False,
        "truncated": False,
    }


def test_batches_are_written_and_flush_waits(database_url: str) -> None:
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, batch_size=50, flush_interval=0.01)
    writer.start()
    for i in range(500):
        writer.submit(_row(i))
    assert writer.flush(timeout=30)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_records)).scalar_one() == 500
        ids = conn.execute(select(audit_records.c.request_id).order_by(audit_records.c.id)).scalars().all()
    assert ids == [f"req_{i}" for i in range(500)]
    writer.close()
    engine.dispose()


def test_close_drains_the_queue(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, batch_size=7, flush_interval=0.5)
    writer.start()
    for i in range(20):
        writer.submit(_row(i))
    writer.close()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_records)).scalar_one() == 20
    engine.dispose()


def test_failed_writes_are_counted_not_hidden(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)  # no tables created: every insert fails
    writer = AuditWriter(engine, KEY, batch_size=5, flush_interval=0.01)
    writer.start()
    writer.submit(_row(1))
    assert writer.flush(timeout=10)
    assert writer.failed == 1
    writer.close()
    engine.dispose()


def test_one_bad_row_does_not_sink_the_batch(database_url: str) -> None:
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, batch_size=50, flush_interval=0.2)
    writer.start()
    rows = [_row(i) for i in range(5)]
    rows[2]["status"] = None  # NOT NULL: refused by both databases
    for row in rows:
        writer.submit(row)
    assert writer.flush(timeout=30)
    assert writer.failed == 1
    with engine.connect() as conn:
        ids = conn.execute(select(audit_records.c.request_id).order_by(audit_records.c.id)).scalars().all()
    assert ids == ["req_0", "req_1", "req_3", "req_4"]
    writer.close()
    engine.dispose()


def test_rows_with_different_columns_in_one_batch_keep_all_their_values(database_url: str) -> None:
    # An event row (no policy columns) batched before a request row used to drop the request row's
    # policy columns: an executemany takes its column list from the first row.
    engine = create_db_engine(database_url)
    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, batch_size=50, flush_interval=0.5)
    writer.start()
    writer.submit(event_row("policy.reloaded", policy_version="sha256:0000000000000001"))
    writer.submit(
        {**_row(1), "policy_version": "sha256:0000000000000001", "rules": '["r1"]', "action": "redact"}
    )
    assert writer.flush(timeout=30)
    with engine.connect() as conn:
        row = (
            conn.execute(select(audit_records).where(audit_records.c.request_id == "req_1")).mappings().one()
        )
    assert (row["rules"], row["action"]) == ('["r1"]', "redact")
    writer.close()
    engine.dispose()


def _immutable(path: Path, on: bool) -> None:
    """``chattr +i``: even root cannot write the file (what the audit store faults were found with)."""
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


def _needs_chattr(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.touch()
    try:
        _immutable(probe, True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root and chattr on an ext2/3/4 file system (the CI machine has both)")
    _immutable(probe, False)


def _recovered_rows(engine: Engine) -> list[str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_records.c.error).where(audit_records.c.endpoint == "audit.recovered")
        )
        return [r[0] for r in rows]


def test_a_store_that_stops_taking_writes_is_unavailable_and_recovers_by_itself(tmp_path: Path) -> None:
    _needs_chattr(tmp_path)
    db = tmp_path / "audit.db"
    engine = create_db_engine(f"sqlite:///{db}")
    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, flush_interval=0.01, probe_interval=0.1)
    writer.start()
    try:
        asyncio.run(writer.commit(_row(1)))
        assert writer.available
        journal = tmp_path / "audit.db-journal"  # reads still work; every write fails
        _immutable(journal, True)
        try:
            with pytest.raises(AuditUnavailable):
                asyncio.run(writer.commit(_row(2)))
            assert not writer.available
            time.sleep(0.3)  # probes fail meanwhile, and nothing comes in
            assert not writer.available
        finally:
            _immutable(journal, False)
        deadline = time.monotonic() + 10
        while not writer.available and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.available  # with no request to write: the probe's own record got through
        assert _recovered_rows(engine) == ["records lost: 1"]
        asyncio.run(writer.commit(_row(3)))
    finally:
        writer.close()
        engine.dispose()


@pytest.mark.postgres
def test_a_read_only_postgresql_makes_the_store_unavailable_until_it_takes_writes(postgres_url: str) -> None:
    read_only = {"on": False}
    engine = create_db_engine(postgres_url)

    @event.listens_for(engine, "connect")
    def _maybe_read_only(dbapi_connection: Any, _record: Any) -> None:
        if read_only["on"]:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_connection.commit()

    metadata.create_all(engine)
    writer = AuditWriter(engine, KEY, flush_interval=0.01, probe_interval=0.1)
    writer.start()
    try:
        asyncio.run(writer.commit(_row(1)))
        read_only["on"] = True
        engine.dispose()
        with pytest.raises(AuditUnavailable):
            asyncio.run(writer.commit(_row(2)))
        assert not writer.available
        read_only["on"] = False
        engine.dispose()
        deadline = time.monotonic() + 10
        while not writer.available and time.monotonic() < deadline:
            time.sleep(0.05)
        assert writer.available
        assert _recovered_rows(engine) == ["records lost: 1"]
    finally:
        writer.close()
        engine.dispose()
