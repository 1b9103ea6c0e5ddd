"""The search form of the review pages: query parameters in, an AuditFilter out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from gateway.audit.query import AuditFilter, FilterError, parse_time, records_query

PAGE_SIZE = 50
FIELDS = ("since", "until", "user", "team", "destination", "jurisdiction", "action", "data_class", "status")
MAX_VALUE = 200


@dataclass(frozen=True, slots=True)
class Search:
    """The form as submitted (to fill it in again) and what it asks for."""

    values: dict[str, str]
    page: int
    error: str | None

    def filter(self, *, paged: bool = True, default_days: int | None = None) -> AuditFilter:
        v = self.values
        since = parse_time(v["since"]) if v.get("since") else None
        if since is None and default_days is not None:
            since = datetime.now(UTC) - timedelta(days=default_days)
        return AuditFilter(
            since=since,
            until=parse_time(v["until"], end=True) if v.get("until") else None,
            user=v.get("user") or None,
            team=v.get("team") or None,
            destination=v.get("destination") or None,
            jurisdiction=v.get("jurisdiction") or None,
            action=v.get("action") or None,
            data_class=v.get("data_class") or None,
            status=v.get("status") or None,
            limit=PAGE_SIZE if paged else None,
            offset=(self.page - 1) * PAGE_SIZE if paged else 0,
        )

    def query(self, **changes: str | int) -> str:
        """The query string of this search with ``changes`` (e.g. another page)."""
        params: dict[str, str | int] = {k: v for k, v in self.values.items() if v}
        params.update(changes)
        return urlencode(params)


def read_search(params: Mapping[str, str]) -> Search:
    values = {name: params.get(name, "").strip()[:MAX_VALUE] for name in FIELDS}
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 1_000_000 else 1
    error = None
    try:
        # Building the query checks every field (dates, status) before the page uses it.
        records_query(Search(values, page, None).filter())
    except FilterError as exc:
        error = str(exc)
    return Search(values, page, error)
