"""Stage 2: gateway keys.

A key looks like ``gwk_<key id>_<secret>``.  Only SHA-256 of the secret is stored
(the secret is 256 random bits, so a slow password hash adds nothing), and the
comparison is constant-time.  Keys are cached in memory so the request path does
not query the database; an unknown key id triggers a reload (at most once a
second) so that a key created by ``gateway keys create`` in another process
works at once, and the cache is reloaded every ``ttl`` seconds so revocations
take effect.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from sqlalchemy import Column, DateTime, Engine, String, Table, insert, select, update

from gateway.database import metadata
from gateway.errors import AuthenticationFailed
from gateway.exchange import Principal, Role

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("user", String(200), nullable=False),
    Column("team", String(200)),
    Column("role", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

KEY_PREFIX = "gwk_"
ROLES: tuple[str, ...] = get_args(Role)
# Compared against when the key id is unknown, so both paths do the same work.
_DUMMY_DIGEST = hashlib.sha256(b"no such key").hexdigest()


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str
    principal: Principal


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(engine: Engine, *, user: str, team: str | None, role: Role) -> NewKey:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not user.strip():
        raise ValueError("user must not be empty")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(api_keys).values(
                key_id=key_id,
                secret_sha256=_digest(secret),
                user=user,
                team=team,
                role=role,
                created_at=datetime.now(UTC),
            )
        )
    return NewKey(f"{KEY_PREFIX}{key_id}_{secret}", Principal(user, team, role, key_id))


def revoke_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return bool(result.rowcount)


def list_keys(engine: Engine) -> list[dict[str, object]]:
    columns = [c for c in api_keys.c if c.name != "secret_sha256"]
    with engine.connect() as conn:
        rows = conn.execute(select(*columns).order_by(api_keys.c.created_at)).mappings().all()
    return [dict(row) for row in rows]


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The presented key: ``Authorization: Bearer`` (OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key and api_key.strip() else None


class KeyStore:
    def __init__(self, engine: Engine, *, ttl: float = 30.0, miss_reload_interval: float = 1.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._miss_interval = miss_reload_interval
        self._keys: dict[str, tuple[str, Principal]] = {}
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def load(self) -> None:
        stmt = select(api_keys).where(api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        self._keys = {
            row["key_id"]: (
                row["secret_sha256"],
                Principal(row["user"], row["team"], row["role"], row["key_id"]),
            )
            for row in rows
        }
        self._loaded_at = time.monotonic()

    async def _reload(self, older_than: float) -> None:
        async with self._lock:
            if time.monotonic() - self._loaded_at >= older_than:
                await asyncio.to_thread(self.load)

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        presented = extract_key(headers)
        if presented is None:
            raise AuthenticationFailed(
                "Missing gateway key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
            )
        key_id, secret = _split(presented)
        if time.monotonic() - self._loaded_at >= self._ttl:
            await self._reload(self._ttl)
        if key_id not in self._keys:
            await self._reload(self._miss_interval)
        digest, principal = self._keys.get(key_id, (_DUMMY_DIGEST, None))
        if not hmac.compare_digest(_digest(secret), digest) or principal is None:
            raise AuthenticationFailed("Invalid gateway key.")
        return principal


_KEY_ID = re.compile(r"[0-9a-f]{16}")


def tried_key_id(headers: Mapping[str, str]) -> str | None:
    """The key id a request presented, when it has the shape ``create_key`` gives ids: an attempt on
    a key goes on record under its id, and a made-up id can carry no text into the audit."""
    presented = extract_key(headers)
    if presented is None:
        return None
    key_id, _ = _split(presented)
    return key_id if _KEY_ID.fullmatch(key_id) else None


def _split(presented: str) -> tuple[str, str]:
    if presented.startswith(KEY_PREFIX):
        key_id, sep, secret = presented[len(KEY_PREFIX) :].partition("_")
        if sep and key_id and secret:
            return key_id, secret
    return "", presented
