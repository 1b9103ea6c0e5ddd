"""The review pages: login, records (search, filter, pages), one record, and the dashboard."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.audit.query import (
    STATUSES,
    AuditFilter,
    Bucket,
    Ranked,
    classes_of_entity,
    count_query,
    distinct_values,
    events_query,
    iter_records,
    outcomes,
    top_data_classes,
    top_users,
    traffic,
)
from gateway.auth import KeyStore
from gateway.errors import AuthenticationFailed
from gateway.policy.schema import Action
from gateway.web.charts import PALETTE, bucket_range, horizontal, stacked_traffic
from gateway.web.filters import PAGE_SIZE, read_search
from gateway.web.guard import REVIEW_ROLES, Reviewer, active_key, same_origin
from gateway.web.session import COOKIE, SessionSigner

LOGIN = "/audit/login"
HOME = "/audit/records"
DASHBOARD_DAYS = 14
FORM_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class AuditPages:
    engine: Engine
    keys: KeyStore
    signer: SessionSigner
    env: Environment
    actions: tuple[Action, ...]

    def _render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(request_path=request.url.path, **context)
        return HTMLResponse(html, status_code=status)

    async def _reviewer(self, request: Request) -> Reviewer | Response:
        """The signed-in reviewer, or the response to send instead (login page, or 403)."""
        value = request.cookies.get(COOKIE)
        session = self.signer.verify(value) if value else None
        who = await asyncio.to_thread(active_key, self.engine, session.key_id) if session else None
        if who is None:
            response = RedirectResponse(LOGIN, status_code=303)
            if value:
                response.delete_cookie(COOKIE, path="/audit", httponly=True, samesite="strict")
            return response
        if who.role not in REVIEW_ROLES:
            return self._render(request, "error.html", 403, reviewer=None, message="Reviewers only.")
        return who

    async def index(self, request: Request) -> Response:
        return RedirectResponse(HOME, status_code=303)

    async def login_form(self, request: Request) -> Response:
        return self._render(request, "login.html", reviewer=None, error=None)

    async def login(self, request: Request) -> Response:
        if not same_origin(request):
            return self._render(request, "error.html", 403, reviewer=None, message="Cross-site form refused.")
        body = await request.body()
        if len(body) > FORM_LIMIT:
            return self._render(request, "login.html", 413, reviewer=None, error="The form is too large.")
        key = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0].strip()
        try:
            principal = await self.keys.authenticate({"authorization": f"Bearer {key}"})
        except AuthenticationFailed:
            return self._render(request, "login.html", 401, reviewer=None, error="That key is not valid.")
        if principal.role not in REVIEW_ROLES:
            message = "This key cannot open the audit review: it needs the auditor or admin role."
            return self._render(request, "login.html", 403, reviewer=None, error=message)
        response = RedirectResponse(HOME, status_code=303)
        response.set_cookie(
            COOKIE,
            self.signer.sign(principal.key_id),
            max_age=self.signer.lifetime_s,
            path="/audit",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, request: Request) -> Response:
        if not same_origin(request):
            return self._render(request, "error.html", 403, reviewer=None, message="Cross-site form refused.")
        response = RedirectResponse(LOGIN, status_code=303)
        response.delete_cookie(COOKIE, path="/audit", httponly=True, samesite="strict")
        return response

    def _choices(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return {
                "destinations": distinct_values(conn, "destination"),
                "jurisdictions": distinct_values(conn, "jurisdiction"),
                "actions": self.actions,
                "statuses": STATUSES,
            }

    async def records(self, request: Request) -> Response:
        who = await self._reviewer(request)
        if isinstance(who, Response):
            return who
        search = read_search(request.query_params)
        if search.error is not None:
            choices = await asyncio.to_thread(self._choices)
            return self._render(
                request,
                "records.html",
                400,
                reviewer=who,
                search=search,
                records=[],
                total=0,
                pages=0,
                choices=choices,
            )
        audit_filter = search.filter()

        def load() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            with self.engine.connect() as conn:
                rows = list(iter_records(conn, audit_filter))
                total = int(conn.execute(count_query(audit_filter)).scalar_one())
            return rows, total, self._choices()

        rows, total, choices = await asyncio.to_thread(load)
        return self._render(
            request,
            "records.html",
            reviewer=who,
            search=search,
            records=rows,
            total=total,
            pages=max(1, -(-total // PAGE_SIZE)),
            choices=choices,
        )

    async def record(self, request: Request) -> Response:
        who = await self._reviewer(request)
        if isinstance(who, Response):
            return who
        request_id = request.path_params["request_id"]

        def load() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                return list(iter_records(conn, AuditFilter(request_id=request_id, limit=1)))

        found = await asyncio.to_thread(load)
        if not found:
            return self._render(request, "error.html", 404, reviewer=who, message="No such record.")
        record = found[0]
        classes = {entity: sorted(classes_of_entity(entity)) for entity in (record.get("data_classes") or {})}
        return self._render(request, "record.html", reviewer=who, record=record, classes=classes)

    async def dashboard(self, request: Request) -> Response:
        who = await self._reviewer(request)
        if isinstance(who, Response):
            return who
        search = read_search(request.query_params)
        if search.error is not None:
            return self._render(request, "error.html", 400, reviewer=who, message=search.error)
        audit_filter = search.filter(paged=False, default_days=DASHBOARD_DAYS)
        since = audit_filter.since or datetime.now(UTC) - timedelta(days=DASHBOARD_DAYS)
        until = audit_filter.until or datetime.now(UTC)
        unit: Bucket = "hour" if until - since <= timedelta(days=2) else "day"

        def load() -> dict[str, Any]:
            with self.engine.connect() as conn:
                counts = outcomes(conn, audit_filter)
                return {
                    "traffic": stacked_traffic(
                        traffic(conn, audit_filter, unit), bucket_range(since, until, unit)
                    ),
                    "counts": counts,
                    "outcomes": horizontal(
                        [
                            Ranked("blocked", counts.blocked),
                            Ranked("routed local", counts.routed_local),
                            Ranked("pseudonymized", counts.pseudonymized),
                            Ranked("incomplete", counts.incomplete),
                        ],
                        fill=PALETTE[5],
                    ),
                    "data_classes": horizontal(top_data_classes(conn, audit_filter), fill=PALETTE[2]),
                    "users": horizontal(top_users(conn, audit_filter), fill=PALETTE[3]),
                    "events": list(conn.execute(events_query(10)).mappings()),
                }

        charts = await asyncio.to_thread(load)
        return self._render(
            request,
            "dashboard.html",
            reviewer=who,
            search=search,
            since=since,
            until=until,
            unit=unit,
            **charts,
        )
