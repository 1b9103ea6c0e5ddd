"""The hash-chained trail on real SQLite and PostgreSQL: written by the audit writer, tampered with
by SQL as an intruder with database access would, and checked by ``verify_trail``.  One test per kind
of tampering; each names the first bad record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from gateway.audit.chain import chain_key
from gateway.audit.record import event_row
from gateway.audit.store import AuditWriter
from gateway.audit.tables import audit_chain_heads, audit_records, audit_tombstones
from gateway.audit.verify import prune, verify_trail
from gateway.database import create_db_engine, migrate

KEY = chain_key(b"server-secret-for-the-chain-tests")


def _row(i: int, when: datetime | None = None) -> dict[str, Any]:
    return {
        "phase": "end",
        "request_id": f"req_{i}",
        "time": when or datetime.now(UTC),
        "user": "alice",
        "method": "POST",
        "endpoint": "chat.completions",
        "destination": "openai",
        "jurisdiction": "US",
        "stream": False,
        "status": 200,
        "latency_ms": 1.25 + i,
        "request_bytes": 10,
        "response_bytes": 20,
        "disconnected": False,
        "truncated": False,
        "data_classes": '{"EMAIL_ADDRESS": 1}',
    }


@dataclass
class Trail:
    engine: Engine
    writers: list[str]

    def rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            stmt = select(audit_records).order_by(audit_records.c.id)
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def execute(self, stmt: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(stmt)


def write(engine: Engine, rows: list[dict[str, Any]], batch_size: int = 4) -> str:
    writer = AuditWriter(engine, KEY, batch_size=batch_size, flush_interval=0.01)
    writer.start()
    for row in rows:
        writer.submit(row)
    assert writer.flush(timeout=30)
    assert writer.failed == 0
    writer.close()
    return writer.writer_id


@pytest.fixture
def trail(database_url: str) -> Iterator[Trail]:
    engine = create_db_engine(database_url)
    migrate(engine)
    # Two processes' worth of chains, interleaved in the table as concurrent gateways would leave them.
    first = write(engine, [_row(i) for i in range(10)])
    second = write(
        engine, [_row(100 + i) for i in range(6)] + [event_row("policy.reloaded", policy_version="v")]
    )
    yield Trail(engine, [first, second])
    engine.dispose()


def test_an_untouched_trail_verifies(trail: Trail) -> None:
    report = verify_trail(trail.engine, KEY)
    assert report.intact and (report.records, report.chains) == (17, 2)
    assert {h.writer: h.seq for h in report.heads} == {trail.writers[0]: 10, trail.writers[1]: 7}


def test_the_wrong_key_fails_at_the_first_record(trail: Trail) -> None:
    report = verify_trail(trail.engine, chain_key(b"another-secret-entirely-xxxxxxxx"))
    assert report.problem is not None and "head record was altered" in report.problem.what


def test_a_modified_record_is_named(trail: Trail) -> None:
    victim = trail.rows()[4]
    trail.execute(update(audit_records).where(audit_records.c.id == victim["id"]).values(status=403))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.record_id == victim["id"]
    assert "content does not match its hash: the record was modified" in str(problem)
    assert victim["request_id"] in str(problem)


def test_a_modified_timestamp_is_named(trail: Trail) -> None:
    victim = trail.rows()[2]
    moved = victim["time"] - timedelta(days=3)
    trail.execute(update(audit_records).where(audit_records.c.id == victim["id"]).values(time=moved))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.record_id == victim["id"] and "modified" in problem.what


def test_a_deleted_record_is_named_by_the_one_after_it(trail: Trail) -> None:
    rows = [r for r in trail.rows() if r["writer"] == trail.writers[0]]
    trail.execute(delete(audit_records).where(audit_records.c.id == rows[3]["id"]))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.record_id == rows[4]["id"]
    assert "missing (seq 4): deleted" in problem.what


def test_an_inserted_record_is_named(trail: Trail) -> None:
    forged = {**_row(999), "writer": trail.writers[0], "seq": 11, "prev_hash": "0" * 64, "hash": "f" * 64}
    trail.execute(insert(audit_records).values(forged))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.request_id == "req_999"


def test_a_record_with_no_chain_is_named(trail: Trail) -> None:
    trail.execute(insert(audit_records).values(_row(998)))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.request_id == "req_998" and "no chain" in problem.what


def test_reordered_records_are_named(trail: Trail) -> None:
    rows = [r for r in trail.rows() if r["writer"] == trail.writers[0]]
    a, b = rows[2], rows[5]
    # Swap the two records' places in the chain (their seq), keeping everything else.
    trail.execute(update(audit_records).where(audit_records.c.id == a["id"]).values(seq=-1))
    trail.execute(update(audit_records).where(audit_records.c.id == b["id"]).values(seq=a["seq"]))
    trail.execute(update(audit_records).where(audit_records.c.id == a["id"]).values(seq=b["seq"]))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.record_id == b["id"] and problem.seq == a["seq"]


def test_a_truncated_chain_is_named(trail: Trail) -> None:
    rows = [r for r in trail.rows() if r["writer"] == trail.writers[1]]
    trail.execute(delete(audit_records).where(audit_records.c.id.in_([r["id"] for r in rows[-2:]])))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.record_id == rows[-3]["id"]
    assert "ends at seq 5 but its head says 7" in problem.what and "truncated" in problem.what


def test_a_whole_chain_deleted_but_its_head_is_named(trail: Trail) -> None:
    trail.execute(delete(audit_records).where(audit_records.c.writer == trail.writers[1]))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and problem.writer == trail.writers[1] and "truncated" in problem.what


def test_a_deleted_head_is_named(trail: Trail) -> None:
    trail.execute(delete(audit_chain_heads).where(audit_chain_heads.c.writer == trail.writers[0]))
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and "no head record" in problem.what


def test_a_head_moved_back_with_the_tail_is_named(trail: Trail) -> None:
    # Deleting the last record and rewinding the head to the one before: the head's MAC gives it away.
    rows = [r for r in trail.rows() if r["writer"] == trail.writers[0]]
    trail.execute(delete(audit_records).where(audit_records.c.id == rows[-1]["id"]))
    trail.execute(
        update(audit_chain_heads)
        .where(audit_chain_heads.c.writer == trail.writers[0])
        .values(last_seq=rows[-2]["seq"], last_hash=rows[-2]["hash"])
    )
    problem = verify_trail(trail.engine, KEY).problem
    assert problem is not None and "head record was altered" in problem.what


def test_prune_leaves_a_tombstone_that_the_rest_verifies_from(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine)
    old = datetime.now(UTC) - timedelta(days=100)
    writer = write(engine, [_row(i, old + timedelta(minutes=i)) for i in range(6)] + [_row(50)])
    deleted, problem = prune(engine, KEY, datetime.now(UTC) - timedelta(days=30))
    assert (deleted, problem) == (6, None)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_records)).scalar() == 1
        stone = conn.execute(select(audit_tombstones)).mappings().one()
    assert (stone["writer"], stone["up_to_seq"], stone["pruned"]) == (writer, 6, 6)
    assert verify_trail(engine, KEY).intact
    # Pruning again finds nothing older; an altered tombstone is named.
    assert prune(engine, KEY, datetime.now(UTC) - timedelta(days=30)) == (0, None)
    with engine.begin() as conn:
        conn.execute(update(audit_tombstones).values(up_to_seq=5))
    problem = verify_trail(engine, KEY).problem
    assert problem is not None and "tombstone was altered" in problem.what
    engine.dispose()


def test_prune_refuses_to_launder_a_tampered_prefix(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    migrate(engine)
    old = datetime.now(UTC) - timedelta(days=100)
    write(engine, [_row(i, old) for i in range(5)])
    with engine.begin() as conn:
        conn.execute(update(audit_records).where(audit_records.c.seq == 3).values(status=500))
    deleted, problem = prune(engine, KEY, datetime.now(UTC))
    assert deleted == 0 and problem is not None and problem.seq == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(audit_records)).scalar() == 5
    engine.dispose()
