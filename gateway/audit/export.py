"""``gateway audit export``: the records matching a filter as JSON lines or CSV, streamed.

Rows are read through a streaming cursor and written one at a time, so an export of millions of
records needs no more memory than one batch.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Engine

from gateway.audit.query import RECORD_FIELDS, AuditFilter, iter_records

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")

# A spreadsheet runs a cell that starts with one of these as a formula; client-chosen strings (the
# requested model) must not become one.  OWASP's advice: prefix such a cell with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps({k: _plain(v) for k, v in record.items()}, ensure_ascii=False) + "\n")
        count += 1
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(_plain(value))


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    count = 0
    for record in records:
        writer.writerow([_cell(record.get(name)) for name in RECORD_FIELDS])
        count += 1
    return count


def export(engine: Engine, audit_filter: AuditFilter, fmt: Format, out: TextIO) -> int:
    """Write the records matching ``audit_filter`` to ``out``; returns how many."""
    with engine.connect() as conn:
        records = iter_records(conn, audit_filter)
        return write_csv(records, out) if fmt == "csv" else write_jsonl(records, out)
