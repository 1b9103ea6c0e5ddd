"""Tamper evidence for the audit trail: every record is a link of a hash chain.

Each gateway process writes its own chain (a random ``writer`` id per start), so several processes
can write to one database without contending for a shared tail.  A record's ``hash`` is an HMAC,
keyed from the server secret, of the previous record's hash and this record's content (every column
but ``id`` and ``hash``, ``writer`` and ``seq`` included).  A chain's latest (seq, hash) is kept in
``audit_chain_heads`` with its own HMAC, so that losing the last records is seen too.

Pruning old records (retention) replaces a chain's prefix by a tombstone that names the last pruned
record's seq and hash, HMAC'd as well: the remaining records still verify from it.

What this detects, record by record: a changed column, a deleted record (a gap in seq, a broken
link), an inserted one (a seq that does not fit, an unknown chain, a record past its chain's head),
records reordered (links do not match), and a truncated chain (the head is ahead of the records).
What it cannot detect, and why: whoever holds the server secret can rewrite a chain completely; and
a whole chain deleted together with its head and tombstone leaves nothing to compare with (export
the heads elsewhere now and then if that matters: ``gateway audit verify`` prints them).

Everything here is pure (no I/O): :mod:`gateway.audit.verify` feeds it rows from the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.audit.tables import audit_records

GENESIS = "0" * 64
# The chained content: every column but the database's own row id and the hash itself.
CHAINED: tuple[str, ...] = tuple(c.name for c in audit_records.columns if c.name not in ("id", "hash"))
# Columns added after records were first chained: left out of a record's content while NULL, so that
# the records written before them still verify (and a value, once written, is covered).
LATER: frozenset[str] = frozenset({"dropped_events", "detail"})


def chain_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"audit-chain-v1", hashlib.sha256).digest()


def new_writer_id() -> str:
    return "w" + secrets.token_hex(8)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        # SQLite hands back naive datetimes, PostgreSQL aware ones: the same instant must hash the same.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(row: Mapping[Any, Any]) -> bytes:
    content = {
        name: _plain(row.get(name)) for name in CHAINED if name not in LATER or row.get(name) is not None
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(key: bytes, prev_hash: str, row: Mapping[Any, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(row), hashlib.sha256).hexdigest()


def head_mac(key: bytes, writer: str, seq: int, last_hash: str) -> str:
    return hmac.new(key, f"head\n{writer}\n{seq}\n{last_hash}".encode(), hashlib.sha256).hexdigest()


def tombstone_mac(key: bytes, writer: str, up_to_seq: int, anchor: str, pruned: int) -> str:
    message = f"tombstone\n{writer}\n{up_to_seq}\n{anchor}\n{pruned}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(slots=True)
class Chain:
    """One writer's chain position; :meth:`extend` computes links without moving it (the caller
    commits, then :meth:`advance`s), so a failed transaction leaves no gap."""

    key: bytes
    writer: str
    seq: int = 0
    last: str = GENESIS

    def extend(self, rows: Iterable[dict[str, Any]]) -> tuple[int, str]:
        seq, last = self.seq, self.last
        for row in rows:
            seq += 1
            row["writer"], row["seq"], row["prev_hash"] = self.writer, seq, last
            row["hash"] = last = link(self.key, last, row)
        return seq, last

    def advance(self, seq: int, last: str) -> None:
        self.seq, self.last = seq, last


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with the trail, in words an auditor can act on."""

    record_id: int | None
    writer: str | None
    seq: int | None
    request_id: str | None
    what: str

    def __str__(self) -> str:
        where = f"record id={self.record_id}" if self.record_id is not None else "the trail"
        if self.writer is not None:
            where += f" (chain {self.writer}, seq {self.seq}"
            where += f", request {self.request_id})" if self.request_id else ")"
        return f"{where}: {self.what}"


@dataclass(frozen=True, slots=True)
class Head:
    writer: str
    seq: int
    last_hash: str
    mac: str


@dataclass(frozen=True, slots=True)
class Tombstone:
    writer: str
    up_to_seq: int
    anchor: str
    pruned: int
    mac: str


def verify_chain(
    key: bytes,
    writer: str,
    rows: Iterable[Mapping[Any, Any]],
    head: Head | None,
    tombstone: Tombstone | None,
) -> tuple[int, Problem | None]:
    """Walk one chain's records in seq order; (records checked, the first problem or None)."""
    seq, last = 0, GENESIS
    if tombstone is not None:
        if (
            tombstone_mac(key, writer, tombstone.up_to_seq, tombstone.anchor, tombstone.pruned)
            != tombstone.mac
        ):
            return 0, Problem(None, writer, tombstone.up_to_seq, None, "the retention tombstone was altered")
        seq, last = tombstone.up_to_seq, tombstone.anchor
    if head is not None and head_mac(key, writer, head.seq, head.last_hash) != head.mac:
        return 0, Problem(None, writer, head.seq, None, "the chain's head record was altered")
    checked = 0
    previous: Mapping[Any, Any] | None = None
    for row in rows:
        here = Problem(row.get("id"), writer, row.get("seq"), row.get("request_id"), "")
        expected = seq + 1
        found = row.get("seq")
        if not isinstance(found, int) or found < expected:
            return checked, _with(
                here, "a record out of place: its seq repeats or goes back (reordered or inserted)"
            )
        if found > expected:
            missing = f"seq {expected}" if found == expected + 1 else f"seq {expected} to {found - 1}"
            return checked, _with(here, f"records before it are missing ({missing}): deleted")
        if row.get("prev_hash") != last:
            return checked, _with(
                here, "it does not link to the record before it (reordered, or one was replaced)"
            )
        if link(key, last, row) != row.get("hash"):
            return checked, _with(here, "its content does not match its hash: the record was modified")
        if head is not None and found > head.seq:
            return checked, _with(here, "it lies past its chain's head: inserted after the fact")
        seq, last, previous = found, str(row.get("hash")), row
        checked += 1
    if head is None:
        # Pruning never deletes a head, so a tombstone without one (even with every record gone)
        # means the head was deleted: the tombstone says records existed.
        where = previous or {}
        return checked, Problem(
            where.get("id"),
            writer,
            seq,
            where.get("request_id"),
            "its chain has no head record: inserted, or the head was deleted",
        )
    if head.seq > seq:
        return checked, Problem(
            previous.get("id") if previous else None,
            writer,
            seq,
            previous.get("request_id") if previous else None,
            f"the chain ends at seq {seq} but its head says {head.seq}: "
            "the last records were deleted (truncated)",
        )
    if head.last_hash != last:
        return checked, Problem(
            None, writer, seq, None, "the chain's last record is not the one its head names"
        )
    return checked, None


def _with(problem: Problem, what: str) -> Problem:
    return Problem(problem.record_id, problem.writer, problem.seq, problem.request_id, what)
