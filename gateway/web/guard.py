"""Who may see the review pages, and which form posts are accepted.

A session names a key id; the key must still be active and hold the auditor or admin role on every
request.  Form posts (login, logout) must come from these pages: the session cookie is SameSite=Strict,
and the Origin header (or, where a browser leaves it out, the Referer) must name this very site.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from starlette.requests import Request

from gateway.auth import api_keys

REVIEW_ROLES = frozenset({"auditor", "admin"})


@dataclass(frozen=True, slots=True)
class Reviewer:
    key_id: str
    user: str
    role: str


def active_key(engine: Engine, key_id: str) -> Reviewer | None:
    """The owner of ``key_id`` if the key is active (any role; callers check the role)."""
    stmt = select(api_keys.c.user, api_keys.c.role).where(
        api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else Reviewer(key_id, str(row.user), str(row.role))


def own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def same_origin(request: Request) -> bool:
    """Whether a form post comes from a page of this site (cross-site request forgery defence)."""
    origin = own_origin(request)
    sent = request.headers.get("origin")
    if sent is not None:
        return sent == origin
    referer = request.headers.get("referer")
    return referer is not None and referer.startswith(origin + "/")
