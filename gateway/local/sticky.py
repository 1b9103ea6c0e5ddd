"""Conversations that went local stay local.

Once sensitive content sent a conversation to the local model, its later turns carry that content in
their history (or in the local model's answers), even when the new message is clean; sending them
offshore would leak what the first decision kept home.  So the gateway remembers the conversation
(by the key of :mod:`gateway.transform.conversation`: the caller and how the conversation began, no
client session id needed) and routes its later turns local too.

The memory is shared by every gateway process: a table in the gateway database, or Redis.  Only a
keyed hash of the conversation key is stored, with an expiry.  If the store cannot be read or
written, the request is refused (503): the gateway cannot tell whether the conversation must stay
local, and guessing "no" could send it offshore.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import Column, Connection, Engine, Float, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.database import in_transaction, metadata
from gateway.errors import ServiceUnavailable
from gateway.settings import StickySettings

_T = TypeVar("_T")
_REDIS_TIMEOUT = 2.0

sticky_conversations = Table(
    "sticky_conversations",
    metadata,
    Column("conversation_hmac", String(64), primary_key=True),
    Column("expires_at", Float, nullable=False, index=True),
)


class StickyUnavailable(ServiceUnavailable):
    default_code = "sticky_unavailable"


class StickyStore(Protocol):
    async def is_local(self, conversation: str) -> bool: ...
    async def keep_local(self, conversation: str) -> None: ...
    async def close(self) -> None: ...


def _digest(secret: bytes, conversation: str) -> str:
    return hmac.new(secret, b"sticky-local\x00" + conversation.encode(), hashlib.sha256).hexdigest()


_MESSAGE = (
    "The gateway cannot check whether this conversation must stay on the local model (its routing "
    "store is unavailable), so the request was not sent anywhere."
)


class _Refreshed:
    """Conversations this process marked recently.  A busy local conversation would otherwise write to
    the store on every turn; one write per half TTL keeps it marked.  Bounded, oldest dropped first."""

    def __init__(self, ttl_seconds: float, limit: int = 10_000) -> None:
        self._every = ttl_seconds / 2
        self._limit = limit
        self._at: OrderedDict[str, float] = OrderedDict()

    def due(self, key: str) -> bool:
        at = self._at.get(key)
        return at is None or time.monotonic() - at >= self._every

    def done(self, key: str) -> None:
        self._at[key] = time.monotonic()
        self._at.move_to_end(key)
        while len(self._at) > self._limit:
            self._at.popitem(last=False)


class SqlSticky:
    def __init__(self, engine: Engine, secret: bytes, ttl_seconds: float) -> None:
        self._engine, self._secret, self._ttl = engine, secret, ttl_seconds
        self._refreshed = _Refreshed(ttl_seconds)

    async def is_local(self, conversation: str) -> bool:
        key = _digest(self._secret, conversation)

        def work(conn: Connection) -> bool:
            found = conn.execute(
                select(sticky_conversations.c.expires_at).where(
                    sticky_conversations.c.conversation_hmac == key,
                    sticky_conversations.c.expires_at > time.time(),
                )
            ).first()
            return found is not None

        return await self._run(work)

    async def keep_local(self, conversation: str) -> None:
        key = _digest(self._secret, conversation)
        if not self._refreshed.due(key):
            return
        row = {"conversation_hmac": key, "expires_at": time.time() + self._ttl}

        def work(conn: Connection) -> None:
            insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
            stmt = insert(sticky_conversations).values([row])
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["conversation_hmac"], set_={"expires_at": stmt.excluded.expires_at}
                )
            )

        await self._run(work)
        self._refreshed.done(key)

    async def close(self) -> None:
        return None

    async def _run(self, work: Callable[[Connection], _T]) -> _T:
        try:
            return await in_transaction(self._engine, work)
        except (SQLAlchemyError, OSError):
            raise StickyUnavailable(_MESSAGE) from None


class RedisSticky:
    def __init__(self, url: str, secret: bytes, ttl_seconds: float) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT
        )
        self._secret = secret
        self._ttl_ms = max(1, round(ttl_seconds * 1000))
        self._refreshed = _Refreshed(ttl_seconds)

    async def is_local(self, conversation: str) -> bool:
        found = await self._call(self._redis.exists(f"gw:sticky:{_digest(self._secret, conversation)}"))
        return bool(found)

    async def keep_local(self, conversation: str) -> None:
        key = f"gw:sticky:{_digest(self._secret, conversation)}"
        if self._refreshed.due(key):
            await self._call(self._redis.set(key, b"1", px=self._ttl_ms))
            self._refreshed.done(key)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, pending: Awaitable[_T]) -> _T:
        try:
            return await pending
        except (RedisError, OSError):
            raise StickyUnavailable(_MESSAGE) from None


def build_sticky(settings: StickySettings, engine: Engine, secret: bytes) -> StickyStore | None:
    if not settings.enabled:
        return None
    if settings.url is not None:
        return RedisSticky(settings.url, secret, settings.ttl_seconds)
    return SqlSticky(engine, secret, settings.ttl_seconds)
