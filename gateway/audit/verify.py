"""``gateway audit verify`` and ``gateway audit prune``: check the chains, and retire old records.

Both read the database in seq order, one chain at a time, streaming, so a large trail is checked in
bounded memory.  The rules of the chain are in :mod:`gateway.audit.chain`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, MappingResult, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway.audit.anchor import Anchor
from gateway.audit.chain import (
    GENESIS,
    Head,
    Problem,
    Tombstone,
    head_mac,
    link,
    tombstone_mac,
    verify_chain,
)
from gateway.audit.tables import audit_chain_heads, audit_records, audit_tombstones

_BATCH = 1000


@dataclass(slots=True)
class Report:
    records: int = 0
    chains: int = 0
    problem: Problem | None = None
    heads: list[Head] = field(default_factory=list)
    anchors: int = 0  # outside anchors checked
    # Chains in the database no anchor names: written since the last anchor, or by a process whose
    # anchors were not among those given (each replica's anchors must be collected).
    unanchored: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.problem is None


def _heads(conn: Connection) -> dict[str, Head]:
    rows = conn.execute(select(audit_chain_heads)).mappings()
    return {r["writer"]: Head(r["writer"], r["last_seq"], r["last_hash"], r["mac"]) for r in rows}


def _tombstones(conn: Connection) -> dict[str, Tombstone]:
    rows = conn.execute(select(audit_tombstones)).mappings()
    return {
        r["writer"]: Tombstone(r["writer"], r["up_to_seq"], r["anchor_hash"], r["pruned"], r["mac"])
        for r in rows
    }


def _chain_rows(conn: Connection, writer: str) -> MappingResult:
    """Streamed (a server-side cursor on PostgreSQL): close it before the next statement."""
    stmt = select(audit_records).where(audit_records.c.writer == writer).order_by(audit_records.c.seq)
    # On the statement, not the connection: a connection's options stay, and a DELETE through a
    # server-side cursor is a syntax error on PostgreSQL.
    return conn.execute(stmt.execution_options(yield_per=_BATCH)).mappings()


def _writers(conn: Connection, known: set[str]) -> list[str]:
    """Every chain, in the order of its first record (chains with no records left come last)."""
    first = (
        select(audit_records.c.writer, func.min(audit_records.c.id))
        .where(audit_records.c.writer.is_not(None))
        .group_by(audit_records.c.writer)
        .order_by(func.min(audit_records.c.id))
    )
    ordered = [str(w) for w, _ in conn.execute(first)]
    return ordered + sorted(known - set(ordered))


def verify_trail(engine: Engine, key: bytes, anchors: Sequence[Anchor] = ()) -> Report:
    """Check every chain; then, against ``anchors`` (heads kept outside the database), that no chain
    they name is shorter than they say, gone, or rewritten."""
    report = Report()
    with engine.connect() as conn:
        heads, tombstones = _heads(conn), _tombstones(conn)
        report.heads = sorted(heads.values(), key=lambda h: h.writer)
        loose = conn.execute(
            select(audit_records.c.id, audit_records.c.request_id)
            .where(audit_records.c.writer.is_(None))
            .order_by(audit_records.c.id)
            .limit(1)
        ).first()
        if loose is not None:
            report.problem = Problem(
                loose.id, None, None, loose.request_id, "it belongs to no chain: inserted after the fact"
            )
            return report
        for writer in _writers(conn, set(heads) | set(tombstones)):
            with _chain_rows(conn, writer) as rows:
                checked, problem = verify_chain(key, writer, rows, heads.get(writer), tombstones.get(writer))
            report.records += checked
            report.chains += 1
            if problem is not None:
                report.problem = problem
                return report
        report.problem = _check_anchors(conn, key, anchors, heads, tombstones)
        report.anchors = len(anchors)
        if anchors:
            named = {anchor.writer for anchor in anchors}
            report.unanchored = sorted(set(heads) - named)
    return report


def _check_anchors(
    conn: Connection,
    key: bytes,
    anchors: Sequence[Anchor],
    heads: dict[str, Head],
    tombstones: dict[str, Tombstone],
) -> Problem | None:
    """The first anchor the (already verified) trail contradicts.  The anchored records are read a
    chain at a time, in batches: a year of anchors is hundreds of thousands of lines."""
    by_writer: dict[str, list[Anchor]] = {}
    for anchor in anchors:
        by_writer.setdefault(anchor.writer, []).append(anchor)
    for writer in sorted(by_writer):
        listed = sorted(by_writer[writer], key=lambda a: -a.seq)
        rows = _anchored_rows(conn, writer, sorted({a.seq for a in listed}))
        for anchor in listed:
            problem = _contradicts(key, anchor, heads.get(writer), tombstones.get(writer), rows)
            if problem is not None:
                return problem
    return None


# seq -> (record id, request id, hash)
_Anchored = dict[int, tuple[int, str | None, str]]


def _anchored_rows(conn: Connection, writer: str, seqs: Sequence[int]) -> _Anchored:
    rows: _Anchored = {}
    for start in range(0, len(seqs), _BATCH):
        stmt = select(
            audit_records.c.seq, audit_records.c.id, audit_records.c.request_id, audit_records.c.hash
        ).where(audit_records.c.writer == writer, audit_records.c.seq.in_(seqs[start : start + _BATCH]))
        rows.update((int(r.seq), (int(r.id), r.request_id, str(r.hash))) for r in conn.execute(stmt))
    return rows


def _contradicts(
    key: bytes,
    anchor: Anchor,
    head: Head | None,
    tombstone: Tombstone | None,
    rows: _Anchored,
) -> Problem | None:
    writer, seq = anchor.writer, anchor.seq
    if anchor.mac is not None and not hmac.compare_digest(
        anchor.mac, head_mac(key, writer, seq, anchor.hash)
    ):
        return _at(anchor, "the anchor was not written with this secret")
    if head is None and tombstone is None:
        return _at(anchor, "the anchored chain is gone from the trail: records, head and all")
    last = max(head.seq if head else 0, tombstone.up_to_seq if tombstone else 0)
    if seq > last:
        return _at(anchor, f"the trail is shorter than anchored: the chain ends at seq {last}")
    if tombstone is not None and seq <= tombstone.up_to_seq:
        if seq == tombstone.up_to_seq and anchor.hash != tombstone.anchor:
            return _at(anchor, "the retention tombstone does not carry the anchored hash")
        return None  # pruned; the tombstone's own MAC vouches for it
    found = rows.get(seq)
    if found is None:
        return _at(anchor, "the anchored record is missing")
    record_id, request_id, record_hash = found
    if record_hash != anchor.hash:
        return _at(anchor, "the record is not the one anchored: rewritten", record_id, request_id)
    return None


def _at(anchor: Anchor, what: str, record_id: int | None = None, request: str | None = None) -> Problem:
    return Problem(record_id, anchor.writer, anchor.seq, request, f"{what} (anchor at {anchor.where})")


def prune(engine: Engine, key: bytes, cutoff: datetime) -> tuple[int, Problem | None]:
    """Delete each chain's records older than ``cutoff`` (the prefix of the chain before its first
    newer record) and leave a tombstone the rest verifies from.  A prefix that does not verify is not
    pruned: retention must never launder tampering.  Returns (records deleted, problem)."""
    cutoff = cutoff if cutoff.tzinfo is not None else cutoff.replace(tzinfo=UTC)
    deleted = 0
    with engine.connect() as conn:
        writers = _writers(conn, set(_heads(conn)) | set(_tombstones(conn)))
    for writer in writers:
        with engine.begin() as conn:
            tombstone = _tombstones(conn).get(writer)
            seq, last = (tombstone.up_to_seq, tombstone.anchor) if tombstone else (0, GENESIS)
            if tombstone is not None:
                mac = tombstone_mac(key, writer, tombstone.up_to_seq, tombstone.anchor, tombstone.pruned)
                if mac != tombstone.mac:
                    return deleted, Problem(None, writer, seq, None, "the retention tombstone was altered")
            count = 0
            problem = None
            with _chain_rows(conn, writer) as rows:
                for row in rows:
                    when = row["time"] if row["time"].tzinfo else row["time"].replace(tzinfo=UTC)
                    if when >= cutoff:
                        break
                    if (
                        row["seq"] != seq + 1
                        or row["prev_hash"] != last
                        or link(key, last, row) != row["hash"]
                    ):
                        what = (
                            "it does not verify; nothing of this chain was pruned (run gateway audit verify)"
                        )
                        problem = Problem(row["id"], writer, row["seq"], row["request_id"], what)
                        break
                    seq, last = row["seq"], row["hash"]
                    count += 1
            if problem is not None:
                return deleted, problem
            if not count:
                continue
            conn.execute(
                delete(audit_records).where(audit_records.c.writer == writer, audit_records.c.seq <= seq)
            )
            total = count + (tombstone.pruned if tombstone else 0)
            values = {
                "writer": writer,
                "up_to_seq": seq,
                "anchor_hash": last,
                "pruned": total,
                "cutoff": cutoff,
                "mac": tombstone_mac(key, writer, seq, last, total),
            }
            dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(audit_tombstones).values(values)
            refresh = {k: stmt.excluded[k] for k in values if k != "writer"}
            conn.execute(stmt.on_conflict_do_update(index_elements=["writer"], set_=refresh))
            deleted += count
    return deleted, None
