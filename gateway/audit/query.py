"""Reading the audit trail for review: one record per request, typed filters, and dashboard aggregates.

A request leaves a "start" row before egress and an "end" row when it is over.  Reviewers see one
record per request: the "end" row, or, where none exists, the "start" row as an *incomplete* request
(still running, or the process died before finishing it).  Gateway events (policy reloads) are not
requests and are left out of records; :func:`events_query` lists them separately.

Everything here is plain SQLAlchemy Core that runs on SQLite and PostgreSQL; the two places where
the dialects differ (time buckets, reading the data-class JSON) are chosen by dialect name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

from gateway.audit.tables import audit_records
from gateway.policy.classes import DATA_CLASSES, classes_of
from gateway.scan.findings import Kind
from gateway.scan.opaque import ENTITY as SUSPICIOUS_ENCODING

INCOMPLETE = "incomplete"
STATUSES = ("ok", "error", INCOMPLETE)
MAX_LIMIT = 1000
Bucket = Literal["hour", "day"]

_t = audit_records.c
# Columns that hold JSON text; decoded for export and display.
JSON_COLUMNS = frozenset({"data_classes", "rules", "shadow_rules"})
# What a reviewer sees of a record: every column but the row id and the phase (which becomes the status).
RECORD_FIELDS: tuple[str, ...] = tuple(c.name for c in audit_records.columns if c.name not in ("id", "phase"))

# Entity names the detectors report outside PII, so that a data-class filter knows each entity's kind.
# Anything else in a record is a PII entity (as in classes_of, where an unknown PII type is personal data).
_MARKERS = frozenset({"CONFIDENTIALITY_MARKER", "PRIVILEGE_MARKER", "CLASSIFICATION_BANNER"})
_MEDIA = frozenset({"IMAGE", "AUDIO", "FILE", "DOCUMENT", "VIDEO", "UNKNOWN_BINARY"})
_PREFIX_KINDS: Mapping[str, Kind] = {"TERM:": "term", "FINGERPRINT:": "fingerprint"}


class FilterError(ValueError):
    """A filter value that cannot be understood (a bad date, an unknown status)."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a reviewer asks for.  ``since`` is inclusive, ``until`` exclusive; both are UTC-aware."""

    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    team: str | None = None
    destination: str | None = None
    jurisdiction: str | None = None
    action: str | None = None
    # An entity name (EMAIL_ADDRESS, TERM:codenames) or a policy data class (personal_data, credentials).
    data_class: str | None = None
    # "ok" (<400), "error" (>=400), "incomplete", or an HTTP status code ("403").
    status: str | None = None
    request_id: str | None = None
    limit: int | None = None
    offset: int = 0


def parse_time(value: str, *, end: bool = False) -> datetime:
    """An ISO 8601 date or date-time as UTC.  A bare date as ``end`` means the end of that day, so
    ``--until 2026-03-31`` includes the 31st.  A time without offset is read as UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        raise FilterError(f"not an ISO 8601 date or time: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _secret_entities() -> frozenset[str]:
    from gateway.scan.recognizers.secrets import DEFAULT_RULES

    return frozenset({r.entity for r in DEFAULT_RULES} | {"PRIVATE_KEY", "GENERIC_HIGH_ENTROPY_SECRET"})


def kind_of(entity: str, secrets: frozenset[str] | None = None) -> Kind:
    """The detector kind of an entity name as the records hold it (they keep entities, not kinds)."""
    for prefix, kind in _PREFIX_KINDS.items():
        if entity.startswith(prefix):
            return kind
    if entity == "SCAN_FAILED":
        return "scan_failed"
    if entity == "SOURCE_CODE":
        return "code"
    if entity in _MARKERS:
        return "marker"
    if entity in _MEDIA:
        return "unscannable"
    if entity == SUSPICIOUS_ENCODING:
        return "suspicious_encoding"
    if entity in (secrets if secrets is not None else _secret_entities()):
        return "secret"
    return "pii"


def classes_of_entity(entity: str) -> frozenset[str]:
    """The policy data classes of an entity name found in a record."""
    return classes_of(kind_of(entity), entity)


def _known_entities() -> tuple[frozenset[str], frozenset[str]]:
    # Imported here: the PII module is slow to import, and only a data-class filter needs it.
    from gateway.scan.pii import ENTITIES

    secrets = _secret_entities()
    others = {"SCAN_FAILED", "SOURCE_CODE", SUSPICIOUS_ENCODING}
    return secrets, frozenset(ENTITIES) | secrets | _MARKERS | _MEDIA | others


def _has_entity(entity: str) -> ColumnElement[bool]:
    # data_classes is json.dumps(..., sort_keys=True): every key appears as `"NAME": `.  autoescape
    # keeps the `_` in entity names from acting as a LIKE wildcard.
    return _t.data_classes.contains(json.dumps(entity) + ": ", autoescape=True)


def _data_class_clause(name: str) -> ColumnElement[bool]:
    if name not in DATA_CLASSES:
        return _has_entity(name)
    secrets, known = _known_entities()
    entities = sorted(e for e in known if name in classes_of(kind_of(e, secrets), e))
    clauses = [_has_entity(e) for e in entities]
    for prefix, kind in _PREFIX_KINDS.items():
        if name in classes_of(kind, prefix):
            clauses.append(_t.data_classes.contains('"' + prefix, autoescape=True))
    return or_(*clauses) if clauses else false()


def _status_clause(status: str) -> ColumnElement[bool]:
    if status == INCOMPLETE:
        return _t.phase == "start"
    if status == "ok":
        return and_(_t.phase == "end", _t.status < 400)
    if status == "error":
        return and_(_t.phase == "end", _t.status >= 400)
    if status.isdigit():
        return and_(_t.phase == "end", _t.status == int(status))
    raise FilterError(f"status must be one of {', '.join(STATUSES)} or an HTTP status code, not {status!r}")


def _merged() -> ColumnElement[bool]:
    """Rows that stand for a request: its "end" row, or its "start" row when it has no "end" row."""
    ends = audit_records.alias("ends")
    finished = exists().where(ends.c.request_id == _t.request_id, ends.c.phase == "end")
    return or_(_t.phase == "end", and_(_t.phase == "start", ~finished))


def _where(f: AuditFilter) -> list[ColumnElement[bool]]:
    clauses = [_merged()]
    equal = {
        "user": f.user,
        "team": f.team,
        "destination": f.destination,
        "jurisdiction": f.jurisdiction,
        "action": f.action,
        "request_id": f.request_id,
    }
    clauses += [_t[name] == value for name, value in equal.items() if value]
    if f.since is not None:
        clauses.append(_t.time >= _utc(f.since))
    if f.until is not None:
        clauses.append(_t.time < _utc(f.until))
    if f.data_class:
        clauses.append(_data_class_clause(f.data_class))
    if f.status:
        clauses.append(_status_clause(f.status))
    return clauses


def _utc(moment: datetime) -> datetime:
    # SQLite stores the wall time without its offset, and the gateway writes UTC: compare in UTC.
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def records_query(f: AuditFilter) -> Select[Any]:
    """The records matching ``f``, newest first, limited and offset as asked."""
    stmt = select(audit_records).where(*_where(f)).order_by(_t.time.desc(), _t.id.desc())
    if f.limit is not None:
        stmt = stmt.limit(min(max(f.limit, 0), MAX_LIMIT))
    if f.offset:
        stmt = stmt.offset(max(f.offset, 0))
    return stmt


def count_query(f: AuditFilter) -> Select[int]:
    return select(func.count()).select_from(audit_records).where(*_where(f))


def events_query(limit: int = 50) -> Select[Any]:
    """Gateway events (policy reloads and rejected edits), newest first."""
    return (
        select(_t.request_id, _t.time, _t.endpoint, _t.policy_version, _t.error, _t.detail)
        .where(_t.phase == "event")
        .order_by(_t.time.desc(), _t.id.desc())
        .limit(limit)
    )


def to_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A reviewer's view of a row: JSON columns decoded, time in UTC, an unfinished request's status
    "incomplete"."""
    out: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = row.get(name)
        if name in JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        elif isinstance(value, datetime):
            value = _utc(value)
        out[name] = value
    if row.get("phase") == "start":
        out["status"] = INCOMPLETE
    return out


def iter_records(conn: Connection, f: AuditFilter, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Stream the records matching ``f`` without holding them all (a server-side cursor on PostgreSQL)."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(records_query(f))
    for row in result.mappings():
        yield to_record(row)


# Dashboard aggregates -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    bucket: str  # "2026-03-31" or "2026-03-31 14" (UTC)
    destination: str
    jurisdiction: str
    requests: int


@dataclass(frozen=True, slots=True)
class Outcomes:
    requests: int
    blocked: int
    routed_local: int
    pseudonymized: int
    incomplete: int


@dataclass(frozen=True, slots=True)
class Ranked:
    name: str
    requests: int
    values: int = 0


def _bucket(dialect: str, unit: Bucket) -> ColumnElement[str]:
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD HH24" if unit == "hour" else "YYYY-MM-DD"
        return func.to_char(func.timezone("UTC", _t.time), pattern)
    return func.strftime("%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d", _t.time)


def traffic(conn: Connection, f: AuditFilter, unit: Bucket = "day") -> list[TrafficPoint]:
    """Requests per time bucket, destination and jurisdiction, oldest bucket first."""
    bucket = _bucket(conn.dialect.name, unit).label("bucket")
    dest = func.coalesce(_t.destination, "none").label("dest")
    juris = func.coalesce(_t.jurisdiction, "-").label("juris")
    stmt = (
        select(bucket, dest, juris, func.count().label("n"))
        .where(*_where(f))
        .group_by(bucket, dest, juris)
        .order_by(bucket, dest, juris)
    )
    return [TrafficPoint(str(b), str(d), str(j), int(n)) for b, d, j, n in conn.execute(stmt)]


def outcomes(conn: Connection, f: AuditFilter) -> Outcomes:
    """Blocked (action block), routed local (route local or action route_local), pseudonymized
    (pseudonyms issued) and incomplete requests among those matching ``f``."""

    def counted(cond: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    stmt = select(
        func.count(),
        counted(_t.action == "block"),
        counted(or_(_t.route == "local", _t.action == "route_local")),
        counted(_t.pseudonyms > 0),
        counted(_t.phase == "start"),
    ).where(*_where(f))
    total, blocked, local, pseudo, incomplete = conn.execute(stmt).one()
    return Outcomes(int(total), int(blocked), int(local), int(pseudo), int(incomplete))


def top_data_classes(conn: Connection, f: AuditFilter, limit: int = 10) -> list[Ranked]:
    """Entities by the number of requests that held them (and the values found), most first."""
    if conn.dialect.name == "postgresql":
        each = func.jsonb_each_text(cast(_t.data_classes, JSONB)).table_valued("key", "value")
        values: ColumnElement[Any] = cast(each.c.value, Integer)
    else:
        each = func.json_each(_t.data_classes).table_valued("key", "value")
        values = each.c.value
    requests = func.count().label("requests")
    stmt = (
        select(each.c.key, requests, func.sum(values))
        .select_from(audit_records)
        .join(each, literal(True))
        .where(*_where(f), _t.data_classes.is_not(None))
        .group_by(each.c.key)
        .order_by(requests.desc(), each.c.key)
        .limit(limit)
    )
    return [Ranked(str(k), int(n), int(v or 0)) for k, n, v in conn.execute(stmt)]


def top_users(conn: Connection, f: AuditFilter, limit: int = 10) -> list[Ranked]:
    """Users by the number of their requests with findings, most first."""
    requests = func.count().label("requests")
    user = func.coalesce(_t.user, "(none)").label("who")
    stmt = (
        select(user, requests, func.coalesce(func.sum(_t.findings), 0))
        .where(*_where(f), _t.findings > 0)
        .group_by(user)
        .order_by(requests.desc(), user)
        .limit(limit)
    )
    return [Ranked(str(u), int(n), int(v)) for u, n, v in conn.execute(stmt)]


def distinct_values(conn: Connection, column: str, limit: int = 200) -> Sequence[str]:
    """Values a filter field takes (for the form's suggestions), request rows only."""
    col = _t[column]
    stmt = select(col).where(col.is_not(None), _t.phase != "event").group_by(col).order_by(col).limit(limit)
    return [str(v) for v in conn.execute(stmt).scalars()]
