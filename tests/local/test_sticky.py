"""Conversations that went local stay local: the store on real SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
from sqlalchemy import Engine, select

from gateway.database import create_db_engine, metadata
from gateway.errors import ServiceUnavailable
from gateway.local.sticky import (
    RedisSticky,
    SqlSticky,
    StickyUnavailable,
    build_sticky,
    sticky_conversations,
)
from gateway.settings import StickySettings
from tests.conftest import redis_client

T = TypeVar("T")
SECRET = b"sticky-test-secret-0123456789abcdef"
OTHER_SECRET = b"another-secret-0123456789abcdef!!"
REDIS_URL = "redis://127.0.0.1:6379/13"
# A conversation key as the gateway builds it carries who asked and how the conversation began.
CANARY = "CONFIDENTIAL merger with Northwind Quillfeather"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def conv() -> str:
    return f"key-alice\x00{CANARY}\x00{uuid.uuid4().hex}"


def expected_hmac(secret: bytes, conversation: str) -> str:
    return hmac.new(secret, b"sticky-local\x00" + conversation.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    return db_engine


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    with redis_client(REDIS_URL) as client:
        yield client


def stored_rows(engine: Engine) -> list[tuple[str, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(sticky_conversations.c.conversation_hmac, sticky_conversations.c.expires_at)
        )
        return [(str(k), float(e)) for k, e in rows]


# --- SQL (SQLite and PostgreSQL) ---------------------------------------------------------------


def test_sql_keep_local_then_is_local(engine: Engine) -> None:
    c, other = conv(), conv()
    store = SqlSticky(engine, SECRET, 60)
    assert run(store.is_local(c)) is False
    run(store.keep_local(c))
    assert run(store.is_local(c)) is True
    assert run(store.is_local(other)) is False
    # Another gateway secret does not recognise it.
    assert run(SqlSticky(engine, OTHER_SECRET, 60).is_local(c)) is False
    run(store.close())


def test_sql_stores_only_an_hmac_with_an_expiry(engine: Engine) -> None:
    c = conv()
    store = SqlSticky(engine, SECRET, 60)
    run(store.keep_local(c))
    run(store.keep_local(c))  # a later turn refreshes, never duplicates
    ((key, expires),) = stored_rows(engine)
    assert HEX64.match(key)
    assert key == expected_hmac(SECRET, c)
    assert key != hashlib.sha256(c.encode()).hexdigest()  # keyed, not a plain hash
    assert c not in key and CANARY not in key
    assert time.time() + 50 < expires <= time.time() + 60


def test_sql_keep_local_refreshes_the_expiry(engine: Engine) -> None:
    c = conv()
    store = SqlSticky(engine, SECRET, 0.6)
    run(store.keep_local(c))
    time.sleep(0.4)
    run(store.keep_local(c))
    time.sleep(0.4)
    assert run(store.is_local(c)) is True  # would have expired without the refresh


def test_sql_expiry(engine: Engine) -> None:
    c = conv()
    store = SqlSticky(engine, SECRET, 0.2)
    run(store.keep_local(c))
    assert run(store.is_local(c)) is True
    time.sleep(0.3)
    assert run(store.is_local(c)) is False
    run(store.keep_local(c))  # an expired row is replaced, not a conflict
    assert run(store.is_local(c)) is True


def test_sqlite_file_holds_no_conversation_key(sqlite_url: str, tmp_path: Path) -> None:
    eng = create_db_engine(sqlite_url)
    metadata.create_all(eng)
    try:
        c = conv()
        run(SqlSticky(eng, SECRET, 60).keep_local(c))
    finally:
        eng.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("gateway.db"))
    assert expected_hmac(SECRET, c).encode() in stored  # sanity: the search sees what was written
    for needle in (c.encode(), CANARY.encode(), b"Quillfeather", c.split("\x00")[-1].encode()):
        assert needle not in stored


def test_sql_unreachable_store_raises(tmp_path: Path) -> None:
    eng = create_db_engine(f"sqlite:///{tmp_path / 'missing' / 'gateway.db'}")
    c = conv()
    try:
        store = SqlSticky(eng, SECRET, 60)
        for call in (store.keep_local, store.is_local):
            with pytest.raises(StickyUnavailable) as info:
                run(call(c))
            err = info.value
            assert isinstance(err, ServiceUnavailable)
            assert (err.code, err.http_status) == ("sticky_unavailable", 503)
            assert "not sent anywhere" in err.message
            assert CANARY not in str(err) and c not in str(err)
            assert err.__cause__ is None and err.__suppress_context__
    finally:
        eng.dispose()


def test_sql_missing_table_raises(sqlite_url: str) -> None:
    eng = create_db_engine(sqlite_url)  # no create_all
    try:
        with pytest.raises(StickyUnavailable):
            run(SqlSticky(eng, SECRET, 60).is_local(conv()))
    finally:
        eng.dispose()


# --- Redis ------------------------------------------------------------------------------------


def test_redis_keep_local_is_local_and_stores_only_an_hmac(redis_db: redis.Redis) -> None:
    c, other = conv(), conv()
    key = f"gw:sticky:{expected_hmac(SECRET, c)}"

    async def scenario() -> None:
        store = RedisSticky(REDIS_URL, SECRET, 60)
        foreign = RedisSticky(REDIS_URL, OTHER_SECRET, 60)
        try:
            assert await store.is_local(c) is False
            await store.keep_local(c)
            assert await store.is_local(c) is True
            assert await store.is_local(other) is False
            assert await foreign.is_local(c) is False
        finally:
            await store.close()
            await foreign.close()

    try:
        run(scenario())
        mine = [k.decode() for k in redis_db.scan_iter(match="gw:sticky:*")]
        assert key in mine
        assert HEX64.match(key.removeprefix("gw:sticky:"))
        for k in mine:
            assert CANARY not in k and c not in k
        assert redis_db.get(key) == b"1"
        assert 0 < redis_db.pttl(key) <= 60_000
    finally:
        redis_db.delete(key, f"gw:sticky:{expected_hmac(OTHER_SECRET, c)}")


def test_redis_expiry(redis_db: redis.Redis) -> None:
    c = conv()
    key = f"gw:sticky:{expected_hmac(SECRET, c)}"

    async def scenario() -> None:
        store = RedisSticky(REDIS_URL, SECRET, 0.2)
        try:
            await store.keep_local(c)
            assert await store.is_local(c) is True
            await asyncio.sleep(0.3)
            assert await store.is_local(c) is False
        finally:
            await store.close()

    try:
        run(scenario())
        assert redis_db.exists(key) == 0
    finally:
        redis_db.delete(key)


def test_redis_unreachable_raises() -> None:
    c = conv()

    async def scenario() -> None:
        store = RedisSticky("redis://127.0.0.1:9", SECRET, 60)
        try:
            for call in (store.keep_local, store.is_local):
                with pytest.raises(StickyUnavailable) as info:
                    await call(c)
                err = info.value
                assert (err.code, err.http_status) == ("sticky_unavailable", 503)
                assert CANARY not in str(err) and c not in str(err)
        finally:
            await store.close()

    run(scenario())


# --- factory ----------------------------------------------------------------------------------


def test_build_sticky_follows_settings(sqlite_url: str) -> None:
    eng = create_db_engine(sqlite_url)
    try:
        assert build_sticky(StickySettings(enabled=False), eng, SECRET) is None
        assert isinstance(build_sticky(StickySettings(), eng, SECRET), SqlSticky)

        async def redis_one() -> None:
            store = build_sticky(StickySettings(url=REDIS_URL, ttl_seconds=5), eng, SECRET)
            assert isinstance(store, RedisSticky)
            await store.close()

        run(redis_one())
    finally:
        eng.dispose()
