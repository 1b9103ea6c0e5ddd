"""Chain heads anchored outside the database, and ``gateway audit verify`` against them: a trail
shorter than anchored, a chain gone with its head, a rewritten chain, each named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from gateway.audit.anchor import Anchoring, read_anchors
from gateway.audit.chain import chain_key
from gateway.audit.store import AuditWriter
from gateway.audit.tables import audit_chain_heads, audit_records, audit_tombstones
from gateway.audit.verify import prune, verify_trail
from gateway.database import create_db_engine, migrate
from tests.audit.test_verify import KEY, _row

OTHER_KEY = chain_key(b"somebody-else's-secret-entirely")


def _write(engine: Engine, rows: list[dict[str, Any]], anchors: Path, key: bytes = KEY) -> str:
    anchoring = Anchoring(key, file=str(anchors), syslog=False, interval=0.0)
    writer = AuditWriter(engine, key, batch_size=3, flush_interval=0.01, anchoring=anchoring)
    writer.start()
    for row in rows:
        writer.submit(row)
    assert writer.flush(timeout=30) and writer.failed == 0
    writer.close()
    return writer.writer_id


def _anchors(path: Path) -> list[Any]:
    return read_anchors(path.read_text().splitlines(), str(path))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def _delete(engine: Engine, *statements: Any) -> None:
    with engine.begin() as conn:
        for stmt in statements:
            conn.execute(stmt)


def test_heads_are_anchored_as_they_move_and_the_trail_verifies_against_them(
    engine: Engine, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.log"
    writer = _write(engine, [_row(i) for i in range(8)], anchors)
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert lines and lines[-1]["writer"] == writer and lines[-1]["seq"] == 8
    assert all(set(line) == {"anchor", "time", "writer", "seq", "hash", "mac"} for line in lines)
    assert "req_" not in anchors.read_text()  # heads only: nothing of a record's content
    report = verify_trail(engine, KEY, _anchors(anchors))
    assert report.intact and report.anchors == len(lines) and report.unanchored == []
    other = _write(engine, [_row(50)], tmp_path / "elsewhere.log")  # anchored somewhere not given
    assert verify_trail(engine, KEY, _anchors(anchors)).unanchored == [other]


def test_a_whole_chain_deleted_with_its_head_is_caught_only_by_anchors(
    engine: Engine, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.log"
    _write(engine, [_row(i) for i in range(5)], anchors)
    _delete(engine, delete(audit_records), delete(audit_chain_heads))
    alone = verify_trail(engine, KEY)
    assert alone.intact and alone.records == 0  # what the database alone can say
    problem = verify_trail(engine, KEY, _anchors(anchors)).problem
    assert problem is not None and "gone from the trail" in problem.what and "anchors.log:" in problem.what


def test_a_trail_shorter_than_anchored_is_named(engine: Engine, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.log"
    writer = _write(engine, [_row(i) for i in range(6)], anchors)
    saved = anchors.read_text()
    _write(engine, [_row(10 + i) for i in range(3)], tmp_path / "later.log")  # another chain
    # An insider with the secret rewrites the first chain to its first three records, head included.
    with engine.connect() as conn:
        third = conn.execute(
            select(audit_records.c.hash).where(audit_records.c.writer == writer, audit_records.c.seq == 3)
        ).scalar_one()
    from gateway.audit.chain import head_mac

    _delete(
        engine,
        delete(audit_records).where(audit_records.c.writer == writer, audit_records.c.seq > 3),
        audit_chain_heads.update()
        .where(audit_chain_heads.c.writer == writer)
        .values(last_seq=3, last_hash=third, mac=head_mac(KEY, writer, 3, third)),
    )
    assert verify_trail(engine, KEY).intact  # consistent inside the database
    problem = verify_trail(engine, KEY, read_anchors(saved.splitlines(), "anchors.log")).problem
    assert problem is not None and "shorter than anchored: the chain ends at seq 3" in problem.what


def test_a_rewritten_record_is_named_by_its_anchor(engine: Engine, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.log"
    writer = _write(engine, [_row(i) for i in range(4)], anchors)
    # The insider rebuilds the whole chain with other content, head and all, keyed correctly.
    _delete(engine, delete(audit_records), delete(audit_chain_heads))
    forged = AuditWriter(engine, KEY, batch_size=10, flush_interval=0.01, writer_id=writer)
    forged.start()
    for i in range(4):
        forged.submit(_row(900 + i))
    assert forged.flush()
    forged.close()
    assert verify_trail(engine, KEY).intact
    problem = verify_trail(engine, KEY, _anchors(anchors)).problem
    assert problem is not None and "rewritten" in problem.what


def test_anchors_written_with_another_secret_do_not_count(engine: Engine, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.log"
    _write(engine, [_row(i) for i in range(3)], anchors, key=OTHER_KEY)
    problem = verify_trail(engine, OTHER_KEY, _anchors(anchors)).problem
    assert problem is None
    problem = verify_trail(engine, KEY, _anchors(anchors)).problem
    assert problem is not None  # the chain itself fails first with the wrong key


def test_pruned_anchored_records_verify_from_the_tombstone(engine: Engine, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.log"
    old = datetime.now(UTC) - timedelta(days=100)
    _write(engine, [_row(i, old + timedelta(minutes=i)) for i in range(5)], anchors)
    assert prune(engine, KEY, datetime.now(UTC) - timedelta(days=30)) == (5, None)
    assert verify_trail(engine, KEY, _anchors(anchors)).intact
    # Everything deleted, tombstone left: the tombstone says records existed.
    _delete(engine, delete(audit_chain_heads))
    problem = verify_trail(engine, KEY).problem
    assert problem is not None
    _delete(engine, delete(audit_tombstones))
    problem = verify_trail(engine, KEY, _anchors(anchors)).problem
    assert problem is not None and "gone" in problem.what


def test_heads_printed_by_an_earlier_verify_are_anchors_too(engine: Engine, tmp_path: Path) -> None:
    writer = _write(engine, [_row(i) for i in range(4)], tmp_path / "a.log")
    head = verify_trail(engine, KEY).heads[0]
    printed = [f"  chain {head.writer}: head seq {head.seq} hash {head.last_hash}"]
    anchors = read_anchors(printed, "saved.txt")
    assert [(a.writer, a.seq, a.mac) for a in anchors] == [(writer, 4, None)]
    _delete(engine, delete(audit_records), delete(audit_chain_heads))
    problem = verify_trail(engine, KEY, anchors).problem
    assert problem is not None and "saved.txt:1" in problem.what


def test_a_syslog_prefix_is_ignored_and_a_malformed_anchor_is_an_error(tmp_path: Path) -> None:
    line = Anchoring(KEY, file=None, syslog=False, interval=1.0)
    assert not line.enabled
    from gateway.audit.anchor import anchor_line

    text = anchor_line(KEY, "w0123456789abcdef", 3, "ab" * 32)
    found = read_anchors([f"Dec  7 12:00:00 host llm-gateway-audit[42]: {text}", "unrelated"], "syslog")
    assert [(a.seq, a.where) for a in found] == [(3, "syslog:1")]
    with pytest.raises(ValueError, match="x:1: a malformed anchor"):
        read_anchors(['{"anchor":"gateway-audit-head","writer":"w1"}'], "x")


def test_an_unwritable_anchor_file_is_counted_and_logged_never_raised(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_db_engine(sqlite_url)
    migrate(engine)
    # A directory where the file should be: unwritable even for root.
    anchoring = Anchoring(KEY, file=str(tmp_path), syslog=False, interval=0.0)
    writer = AuditWriter(engine, KEY, flush_interval=0.01, anchoring=anchoring)
    writer.start()
    writer.submit(_row(1))
    assert writer.flush()
    writer.submit(_row(2))
    assert writer.flush()
    writer.close()
    assert writer.failed == 0 and writer.anchor_failures >= 2  # records written; anchors retried
    assert "audit anchor not written" in caplog.text
    assert verify_trail(engine, KEY).records == 2
    engine.dispose()


def test_another_programs_log_line_is_not_an_anchor() -> None:
    from gateway.audit.anchor import anchor_line

    text = anchor_line(KEY, "w0123456789abcdef", 3, "ab" * 32)
    lines = [
        f"Dec  7 12:00:01 host sshd[7]: Invalid user {text}",
        "Dec  7 12:00:02 host sshd[7]: Invalid user chain w1: head seq 999 hash " + "c" * 64,
        f"Dec  7 12:00:03 host llm-gateway-audit[42]: {text}",
    ]
    assert [a.where for a in read_anchors(lines, "syslog")] == ["syslog:3"]


def test_verify_with_an_anchor_file_that_holds_no_anchors_fails(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.cli import main

    empty = tmp_path / "anchors.log"
    empty.write_text('{"anchor":"gateway-audit-he')  # torn
    config = tmp_path / "gateway.yaml"
    config.write_text(f"database_url: '{engine.url.render_as_string(hide_password=False)}'\n")
    monkeypatch.setenv("GATEWAY_SECRET", "server-secret-for-the-chain-tests")
    assert main(["audit", "verify", "--config", str(config), "--anchors", str(empty)]) == 2
    assert "no anchors in" in capsys.readouterr().err
