"""Reading the audit trail: the start/end merge, each filter, and the dashboard aggregates, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from gateway.audit.query import (
    INCOMPLETE,
    AuditFilter,
    FilterError,
    classes_of_entity,
    count_query,
    distinct_values,
    events_query,
    iter_records,
    kind_of,
    outcomes,
    parse_time,
    records_query,
    to_record,
    top_data_classes,
    top_users,
    traffic,
)
from gateway.audit.record import event_row
from gateway.audit.tables import audit_records
from gateway.database import create_db_engine, migrate

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def make_row(request_id: str, phase: str = "end", **values: Any) -> dict[str, Any]:
    """An audit row as the gateway writes one; ``values`` override the defaults."""
    row: dict[str, Any] = {
        "phase": phase,
        "request_id": request_id,
        "time": T0,
        "user": "alice",
        "team": "research",
        "key_id": "k1",
        "client_addr": "127.0.0.1",
        "method": "POST",
        "endpoint": "chat.completions",
        "requested_model": "gpt-4o-mini",
        "destination": "openai",
        "jurisdiction": "US",
        "stream": False,
        "status": 200,
        "latency_ms": 12.5,
        "input_tokens": 3,
        "output_tokens": 4,
        "request_bytes": 100,
        "response_bytes": 200,
        "disconnected": False,
        "truncated": False,
        "data_classes": json.dumps({}),
        "findings": 0,
        "policy_version": "v1",
        "action": "allow",
        "rules": json.dumps([]),
        "route": "direct",
        "prompt_hmac": "ab" * 32,
    }
    if "data_classes" in values and isinstance(values["data_classes"], dict):
        values["data_classes"] = json.dumps(values["data_classes"], sort_keys=True)
    if "rules" in values and isinstance(values["rules"], list):
        values["rules"] = json.dumps(values["rules"])
    row.update(values)
    return row


def sample_rows() -> list[dict[str, Any]]:
    """A small trail: finished requests of several kinds, an unfinished one, and an event."""
    day2 = T0 + timedelta(days=1)
    return [
        make_row("req_clean", phase="start", status=500, latency_ms=0.0),
        make_row("req_clean"),
        make_row(
            "req_email",
            time=T0 + timedelta(hours=1),
            data_classes={"EMAIL_ADDRESS": 2},
            findings=2,
            action="pseudonymize",
            rules=["personal-data-pseudonymized"],
            pseudonyms=2,
        ),
        make_row(
            "req_local",
            time=day2,
            user="bob",
            team="legal",
            destination="local",
            jurisdiction="LOCAL",
            data_classes={"CONFIDENTIALITY_MARKER": 1},
            findings=1,
            action="route_local",
            route="local",
            rules=["confidential-stays-local"],
        ),
        make_row(
            "req_block",
            time=day2 + timedelta(hours=2),
            user="bob",
            team="legal",
            destination="deepseek",
            jurisdiction="CN",
            data_classes={"AWS_ACCESS_KEY_ID": 1, "TERM:codenames": 3},
            findings=4,
            action="block",
            status=403,
            error="blocked_by_policy",
        ),
        # Still running (or the process died): a start row and no end row.
        make_row("req_running", phase="start", time=day2 + timedelta(hours=3), user="carol", status=500),
        {**event_row("policy.reload", policy_version="v2"), "time": T0},
    ]


def insert_rows(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert(audit_records).values(**row))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_db_engine(database_url)
    migrate(eng)
    insert_rows(eng, sample_rows())
    yield eng
    eng.dispose()


def ids(engine: Engine, f: AuditFilter) -> list[str]:
    with engine.connect() as conn:
        return [r["request_id"] for r in iter_records(conn, f)]


def test_one_record_per_request_newest_first_events_left_out(engine: Engine) -> None:
    with engine.connect() as conn:
        records = list(iter_records(conn, AuditFilter()))
        total = conn.execute(count_query(AuditFilter())).scalar_one()
    assert [r["request_id"] for r in records] == [
        "req_running",
        "req_block",
        "req_local",
        "req_email",
        "req_clean",
    ]
    assert total == 5
    by_id = {r["request_id"]: r for r in records}
    # The end row wins over the start row; a start row alone is an incomplete request.
    assert by_id["req_clean"]["status"] == 200 and by_id["req_clean"]["latency_ms"] == 12.5
    assert by_id["req_running"]["status"] == INCOMPLETE
    # JSON columns decoded, times in UTC.
    assert by_id["req_email"]["data_classes"] == {"EMAIL_ADDRESS": 2}
    assert by_id["req_email"]["rules"] == ["personal-data-pseudonymized"]
    assert by_id["req_email"]["time"] == T0 + timedelta(hours=1)
    assert by_id["req_email"]["time"].tzinfo is not None
    assert "phase" not in by_id["req_email"] and "id" not in by_id["req_email"]


@pytest.mark.parametrize(
    ("audit_filter", "expected"),
    [
        (AuditFilter(user="bob"), ["req_block", "req_local"]),
        (AuditFilter(team="research"), ["req_running", "req_email", "req_clean"]),
        (AuditFilter(destination="local"), ["req_local"]),
        (AuditFilter(jurisdiction="CN"), ["req_block"]),
        (AuditFilter(action="pseudonymize"), ["req_email"]),
        (AuditFilter(request_id="req_clean"), ["req_clean"]),
        (AuditFilter(since=T0 + timedelta(days=1)), ["req_running", "req_block", "req_local"]),
        (AuditFilter(until=T0 + timedelta(hours=1)), ["req_clean"]),
        (
            AuditFilter(since=T0 + timedelta(minutes=30), until=T0 + timedelta(days=1, hours=1)),
            ["req_local", "req_email"],
        ),
        (AuditFilter(data_class="EMAIL_ADDRESS"), ["req_email"]),
        (AuditFilter(data_class="personal_data"), ["req_email"]),
        (AuditFilter(data_class="contact"), ["req_email"]),
        (AuditFilter(data_class="credentials"), ["req_block"]),
        (AuditFilter(data_class="company_terms"), ["req_block"]),
        (AuditFilter(data_class="TERM:codenames"), ["req_block"]),
        (AuditFilter(data_class="confidential"), ["req_local"]),
        (AuditFilter(data_class="company_ip"), ["req_block", "req_local"]),
        (AuditFilter(data_class="government_id"), []),
        # `_` is a LIKE wildcard: EMAIL_ADDRESS must not match EMAILXADDRESS.
        (AuditFilter(data_class="EMAIL%"), []),
        (AuditFilter(status="incomplete"), ["req_running"]),
        (AuditFilter(status="error"), ["req_block"]),
        (AuditFilter(status="ok"), ["req_local", "req_email", "req_clean"]),
        (AuditFilter(status="403"), ["req_block"]),
        (AuditFilter(user="bob", action="block"), ["req_block"]),
        (AuditFilter(limit=2), ["req_running", "req_block"]),
        (AuditFilter(limit=2, offset=2), ["req_local", "req_email"]),
    ],
)
def test_filters(engine: Engine, audit_filter: AuditFilter, expected: list[str]) -> None:
    assert ids(engine, audit_filter) == expected
    if audit_filter.limit is None:
        with engine.connect() as conn:
            assert conn.execute(count_query(audit_filter)).scalar_one() == len(expected)


def test_like_wildcards_in_entity_names_are_literal(database_url: str) -> None:
    eng = create_db_engine(database_url)
    migrate(eng)
    insert_rows(eng, [make_row("req_x", data_classes={"EMAILXADDRESS": 1}, findings=1)])
    try:
        assert ids(eng, AuditFilter(data_class="EMAIL_ADDRESS")) == []
        assert ids(eng, AuditFilter(data_class="EMAILXADDRESS")) == ["req_x"]
    finally:
        eng.dispose()


def test_a_bad_status_is_refused() -> None:
    with pytest.raises(FilterError):
        records_query(AuditFilter(status="sideways"))


def test_offset_times_are_compared_in_utc(engine: Engine) -> None:
    # 11:30 at +02:00 is 09:30 UTC: req_clean's time exactly, and `since` is inclusive.
    since = datetime.fromisoformat("2026-03-01T11:30:00+02:00")
    assert ids(engine, AuditFilter(since=since, until=T0 + timedelta(minutes=1))) == ["req_clean"]


def test_parse_time() -> None:
    assert parse_time("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_time("2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_time("2026-03-01T10:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_time("2026-03-01T10:00Z") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_time("2026-03-01T12:00+02:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(FilterError):
        parse_time("yesterday")


def test_entity_kinds_and_classes() -> None:
    assert kind_of("EMAIL_ADDRESS") == "pii"
    assert kind_of("AWS_ACCESS_KEY_ID") == "secret"
    assert kind_of("TERM:codenames") == "term"
    assert kind_of("FINGERPRINT:handbook") == "fingerprint"
    assert kind_of("SOURCE_CODE") == "code"
    assert kind_of("PRIVILEGE_MARKER") == "marker"
    assert kind_of("IMAGE") == "unscannable"
    assert "personal_data" in classes_of_entity("EMAIL_ADDRESS")
    assert "credentials" in classes_of_entity("PRIVATE_KEY")
    assert "personal_data" not in classes_of_entity("LOCATION")


def test_events_are_listed_separately(engine: Engine) -> None:
    with engine.connect() as conn:
        events = conn.execute(events_query()).mappings().all()
    assert [(e["endpoint"], e["policy_version"]) for e in events] == [("policy.reload", "v2")]


def test_to_record_marks_a_start_row_incomplete() -> None:
    record = to_record(make_row("r", phase="start", status=500))
    assert record["status"] == INCOMPLETE


def test_traffic_per_day_and_hour(engine: Engine) -> None:
    with engine.connect() as conn:
        daily = traffic(conn, AuditFilter(), "day")
        hourly = traffic(conn, AuditFilter(user="alice"), "hour")
    assert [(p.bucket, p.destination, p.jurisdiction, p.requests) for p in daily] == [
        ("2026-03-01", "openai", "US", 2),
        ("2026-03-02", "deepseek", "CN", 1),
        ("2026-03-02", "local", "LOCAL", 1),
        ("2026-03-02", "openai", "US", 1),
    ]
    assert [(p.bucket, p.requests) for p in hourly] == [("2026-03-01 09", 1), ("2026-03-01 10", 1)]


def test_outcomes(engine: Engine) -> None:
    with engine.connect() as conn:
        counts = outcomes(conn, AuditFilter())
        bobs = outcomes(conn, AuditFilter(user="bob"))
    assert (
        counts.requests,
        counts.blocked,
        counts.routed_local,
        counts.pseudonymized,
        counts.incomplete,
    ) == (
        5,
        1,
        1,
        1,
        1,
    )
    assert (bobs.requests, bobs.blocked, bobs.routed_local, bobs.pseudonymized) == (2, 1, 1, 0)


def test_top_data_classes_and_users(engine: Engine) -> None:
    with engine.connect() as conn:
        classes = top_data_classes(conn, AuditFilter())
        users = top_users(conn, AuditFilter())
        limited = top_data_classes(conn, AuditFilter(user="alice"), limit=1)
    assert [(c.name, c.requests, c.values) for c in classes] == [
        ("AWS_ACCESS_KEY_ID", 1, 1),
        ("CONFIDENTIALITY_MARKER", 1, 1),
        ("EMAIL_ADDRESS", 1, 2),
        ("TERM:codenames", 1, 3),
    ]
    assert [(u.name, u.requests, u.values) for u in users] == [("bob", 2, 5), ("alice", 1, 2)]
    assert [c.name for c in limited] == ["EMAIL_ADDRESS"]


def test_distinct_values(engine: Engine) -> None:
    with engine.connect() as conn:
        assert list(distinct_values(conn, "destination")) == ["deepseek", "local", "openai"]
        assert list(distinct_values(conn, "user")) == ["alice", "bob", "carol"]
