"""Build the review sub-application the gateway mounts under ``/audit``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from gateway.auth import KeyStore
from gateway.policy.schema import Action
from gateway.web.headers import SecurityHeaders
from gateway.web.pages import AuditPages
from gateway.web.session import SessionSigner

HERE = Path(__file__).parent
# Only the login form posts a body, and it holds one key.
MAX_BODY = 16 * 1024


def _when(value: object) -> str:
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def templates() -> Environment:
    # autoescape=True for every template, whatever its name: user and team names, model names and
    # error codes come from outside and must never become markup.
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined)
    env.filters["when"] = _when
    return env


def build_audit_app(engine: Engine, keys: KeyStore, secret: bytes) -> ASGIApp:
    pages = AuditPages(engine, keys, SessionSigner(secret), templates(), get_args(Action))
    routes = [
        Route("/audit", pages.index, methods=["GET"]),
        Route("/audit/", pages.index, methods=["GET"]),
        Route("/audit/login", pages.login_form, methods=["GET"]),
        Route("/audit/login", pages.login, methods=["POST"]),
        Route("/audit/logout", pages.logout, methods=["POST"]),
        Route("/audit/records", pages.records, methods=["GET"]),
        Route("/audit/records/{request_id}", pages.record, methods=["GET"]),
        Route("/audit/dashboard", pages.dashboard, methods=["GET"]),
        Mount("/audit/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes, max_body_size=MAX_BODY))
