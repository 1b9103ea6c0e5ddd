"""``gateway audit export``: formats, filters and streaming, through the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from gateway.audit.export import write_csv
from gateway.audit.query import RECORD_FIELDS
from gateway.cli import main
from gateway.database import create_db_engine, migrate
from tests.audit.test_query import insert_rows, make_row, sample_rows


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "audit.db"
    engine: Engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    insert_rows(engine, sample_rows())
    engine.dispose()
    path = tmp_path / "gateway.yaml"
    path.write_text(f"database_url: sqlite:///{db}\n", encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["audit", "export", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_jsonl_is_one_record_per_request(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, config)
    assert code == 0, err
    records = jsonl(out)
    assert [r["request_id"] for r in records] == [
        "req_running",
        "req_block",
        "req_local",
        "req_email",
        "req_clean",
    ]
    email = records[3]
    assert email["data_classes"] == {"EMAIL_ADDRESS": 2}
    assert email["rules"] == ["personal-data-pseudonymized"]
    assert email["time"] == "2026-03-01T10:30:00+00:00"
    assert email["status"] == 200 and email["pseudonyms"] == 2
    assert records[0]["status"] == "incomplete"
    assert set(email) == set(RECORD_FIELDS)


def test_csv_has_a_header_and_the_same_records(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, config, "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(RECORD_FIELDS)
    assert [r["request_id"] for r in rows] == [
        "req_running",
        "req_block",
        "req_local",
        "req_email",
        "req_clean",
    ]
    email = rows[3]
    assert json.loads(email["data_classes"]) == {"EMAIL_ADDRESS": 2}
    assert (email["status"], email["stream"], email["time"]) == ("200", "false", "2026-03-01T10:30:00+00:00")
    assert rows[0]["status"] == "incomplete"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--user", "bob"], ["req_block", "req_local"]),
        (["--team", "research"], ["req_running", "req_email", "req_clean"]),
        (["--destination", "local"], ["req_local"]),
        (["--jurisdiction", "CN"], ["req_block"]),
        (["--action", "pseudonymize"], ["req_email"]),
        (["--data-class", "EMAIL_ADDRESS"], ["req_email"]),
        (["--data-class", "credentials"], ["req_block"]),
        (["--since", "2026-03-02"], ["req_running", "req_block", "req_local"]),
        # A bare --until date includes that day.
        (["--until", "2026-03-01"], ["req_email", "req_clean"]),
        (["--since", "2026-03-01T10:00:00Z", "--until", "2026-03-02T01:00:00+01:00"], ["req_email"]),
        (["--status", "incomplete"], ["req_running"]),
        (["--user", "bob", "--format", "csv"], ["req_block", "req_local"]),
        (["--user", "nobody"], []),
    ],
)
def test_filters(
    capsys: pytest.CaptureFixture[str], config: Path, args: list[str], expected: list[str]
) -> None:
    code, out, err = run(capsys, config, *args)
    assert code == 0, err
    if "csv" in args:
        got = [r["request_id"] for r in csv.DictReader(io.StringIO(out))]
    else:
        got = [r["request_id"] for r in jsonl(out)]
    assert got == expected


def test_export_from_postgres(capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    migrate(engine)
    insert_rows(engine, sample_rows() + [make_row(f"pg_{i:04d}", user="many") for i in range(700)])
    engine.dispose()
    path = tmp_path / "gateway.yaml"
    path.write_text(f"database_url: '{postgres_url}'\n", encoding="utf-8")
    code, out, err = run(capsys, path, "--user", "bob")
    assert code == 0, err
    assert [r["request_id"] for r in jsonl(out)] == ["req_block", "req_local"]
    # More rows than one streamed batch (500).
    code, out, err = run(capsys, path, "--user", "many", "--format", "csv")
    assert code == 0, err
    assert len(list(csv.DictReader(io.StringIO(out)))) == 700


def test_a_bad_date_is_a_usage_error(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, out, err = run(capsys, config, "--since", "last tuesday")
    assert code == 2 and out == ""
    assert "ISO 8601" in err


def test_an_unknown_action_is_refused(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["audit", "export", "--config", str(config), "--action", "explode"])
    assert info.value.code == 2
    capsys.readouterr()


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    out = io.StringIO()
    write_csv([{"requested_model": "=HYPERLINK(1)", "user": "@bob", "status": 200}], out)
    row = next(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["requested_model"], row["user"], row["status"]) == ("'=HYPERLINK(1)", "'@bob", "200")


def test_export_streams_many_records(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "many.db"
    engine = create_db_engine(f"sqlite:///{db}")
    migrate(engine)
    insert_rows(engine, [make_row(f"req_{i:04d}") for i in range(1200)])
    engine.dispose()
    path = tmp_path / "gateway.yaml"
    path.write_text(f"database_url: sqlite:///{db}\n", encoding="utf-8")
    code, out, err = run(capsys, path)
    assert code == 0, err
    assert len(out.splitlines()) == 1200
