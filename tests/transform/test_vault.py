"""The pseudonym vault on real SQLite, PostgreSQL and Redis: encrypted at rest, expiring, fail-closed."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import redis
from sqlalchemy import Engine, func, select, update

from gateway.database import create_db_engine, metadata
from gateway.settings import ConfigError, VaultSettings, settings_from_text
from gateway.transform.vault import (
    RedisVault,
    SqlVault,
    VaultUnavailable,
    build_vault,
    vault_entries,
    vault_links,
)
from tests.conftest import redis_client

T = TypeVar("T")
SECRET = b"vault-test-secret-0123456789abcdef"
OTHER_SECRET = b"another-secret-0123456789abcdef!!"
REDIS_URL = "redis://127.0.0.1:6379/15"
# Unusual enough that finding it in the database file can only mean it was stored in clear.
CANARY = "Ågnetha Quillfeather-Canary 7f3e"
TOKEN = "<PERSON_1a2b3c4d>"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def conv() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    return db_engine


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_db_engine(sqlite_url)
    metadata.create_all(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    with redis_client(REDIS_URL) as client:
        yield client


def _hash(client: redis.Redis, key: str) -> dict[bytes, bytes]:
    # The test client is built without decode_responses, so fields and values are bytes.
    return cast("dict[bytes, bytes]", client.hgetall(key))


def _cleanup(client: redis.Redis, *conversations: str, links: tuple[str, ...] = ()) -> None:
    keys = [f"gw:vault:{c}" for c in conversations] + [f"gw:vlink:{r}" for r in links]
    if keys:
        client.delete(*keys)


# --- SQL (SQLite and PostgreSQL) ---------------------------------------------------------------


def test_sql_round_trip_and_second_save_adds(engine: Engine) -> None:
    c = conv()
    vault = SqlVault(engine, SECRET, 60)
    run(vault.save(c, {TOKEN: CANARY, "<EMAIL_0000aaaa>": "a@example.com"}))
    assert run(vault.load(c)) == {TOKEN: CANARY, "<EMAIL_0000aaaa>": "a@example.com"}
    run(vault.save(c, {"<EMAIL_0000aaaa>": "b@example.com", "<PHONE_0000bbbb>": "+1 415 555 0134"}))
    assert run(vault.load(c)) == {
        TOKEN: CANARY,
        "<EMAIL_0000aaaa>": "b@example.com",
        "<PHONE_0000bbbb>": "+1 415 555 0134",
    }
    assert run(vault.load(conv())) == {}


def test_sql_save_refreshes_expiry_of_the_whole_conversation(engine: Engine) -> None:
    c = conv()
    vault = SqlVault(engine, SECRET, 0.6)
    run(vault.save(c, {TOKEN: CANARY}))
    time.sleep(0.4)
    run(vault.save(c, {"<EMAIL_0000aaaa>": "a@example.com"}))
    time.sleep(0.4)
    # The first entry would have expired by now, had the second save not refreshed it.
    assert run(vault.load(c)) == {TOKEN: CANARY, "<EMAIL_0000aaaa>": "a@example.com"}


def test_sql_expiry_and_purge(engine: Engine) -> None:
    c = conv()
    vault = SqlVault(engine, SECRET, 0.2)
    run(vault.save(c, {TOKEN: CANARY}))
    run(vault.link("resp_1", c))
    assert run(vault.load(c)) == {TOKEN: CANARY}
    time.sleep(0.3)
    assert run(vault.load(c)) == {}
    assert run(vault.conversation_of("resp_1")) is None
    assert run(vault.purge_expired()) == 2
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(vault_entries)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(vault_links)).scalar_one() == 0
    assert run(vault.purge_expired()) == 0


def test_sql_link(engine: Engine) -> None:
    c1, c2 = conv(), conv()
    vault = SqlVault(engine, SECRET, 60)
    assert run(vault.conversation_of("resp_x")) is None
    run(vault.link("resp_x", c1))
    assert run(vault.conversation_of("resp_x")) == c1
    run(vault.link("resp_x", c2))  # a retried link replaces, never duplicates
    assert run(vault.conversation_of("resp_x")) == c2


def test_sql_other_secret_fails_closed(engine: Engine) -> None:
    c = conv()
    run(SqlVault(engine, SECRET, 60).save(c, {TOKEN: CANARY}))
    with pytest.raises(VaultUnavailable, match="failed authentication") as info:
        run(SqlVault(engine, OTHER_SECRET, 60).load(c))
    assert CANARY not in str(info.value)


def test_sql_tampered_ciphertext_fails_closed(engine: Engine) -> None:
    c = conv()
    vault = SqlVault(engine, SECRET, 60)
    run(vault.save(c, {TOKEN: CANARY}))
    with engine.begin() as conn:
        blob = bytearray(conn.execute(select(vault_entries.c.blob)).scalar_one())
        blob[-1] ^= 0x01
        conn.execute(update(vault_entries).values(blob=bytes(blob)))
    with pytest.raises(VaultUnavailable, match="failed authentication"):
        run(vault.load(c))


def test_sql_swapped_ciphertexts_fail_closed(engine: Engine) -> None:
    c1, c2 = conv(), conv()
    vault = SqlVault(engine, SECRET, 60)
    run(vault.save(c1, {TOKEN: "Alice Example"}))
    run(vault.save(c2, {TOKEN: "Bob Example"}))
    table = vault_entries
    with engine.begin() as conn:
        b1 = conn.execute(select(table.c.blob).where(table.c.conversation == c1)).scalar_one()
        b2 = conn.execute(select(table.c.blob).where(table.c.conversation == c2)).scalar_one()
        conn.execute(update(table).where(table.c.conversation == c1).values(blob=b2))
        conn.execute(update(table).where(table.c.conversation == c2).values(blob=b1))
    for c in (c1, c2):
        with pytest.raises(VaultUnavailable, match="failed authentication"):
            run(vault.load(c))


def test_sqlite_file_holds_no_plaintext(sqlite_engine: Engine, tmp_path: Path) -> None:
    c = conv()
    vault = SqlVault(sqlite_engine, SECRET, 60)
    run(vault.save(c, {TOKEN: CANARY}))
    run(vault.link("resp_1", c))
    assert run(vault.load(c)) == {TOKEN: CANARY}
    files = [p for p in tmp_path.iterdir() if p.name.startswith("gateway.db")]
    assert any(p.name == "gateway.db" for p in files)  # and its rollback journal, when one is left
    stored = b"".join(p.read_bytes() for p in files)
    assert c.encode() in stored  # sanity: the search does see what was written
    for needle in (CANARY.encode(), CANARY.encode("utf-16-le"), b"Quillfeather", TOKEN.encode()):
        assert needle not in stored


def test_sql_unreachable_database_raises(tmp_path: Path) -> None:
    eng = create_db_engine(f"sqlite:///{tmp_path / 'missing' / 'gateway.db'}")
    try:
        vault = SqlVault(eng, SECRET, 60)
        with pytest.raises(VaultUnavailable, match="vault database unavailable") as info:
            run(vault.save(conv(), {TOKEN: CANARY}))
        assert CANARY not in str(info.value)
    finally:
        eng.dispose()


# --- Redis ------------------------------------------------------------------------------------


def test_redis_round_trip_link_and_no_plaintext(redis_db: redis.Redis) -> None:
    c, rid = conv(), f"resp_{uuid.uuid4().hex}"

    async def scenario() -> None:
        vault = RedisVault(REDIS_URL, SECRET, 60)
        try:
            await vault.save(c, {TOKEN: CANARY})
            await vault.save(c, {"<EMAIL_0000aaaa>": "a@example.com"})
            assert await vault.load(c) == {TOKEN: CANARY, "<EMAIL_0000aaaa>": "a@example.com"}
            assert await vault.load(conv()) == {}
            assert await vault.conversation_of(rid) is None
            await vault.link(rid, c)
            assert await vault.conversation_of(rid) == c
            assert await vault.purge_expired() == 0
        finally:
            await vault.close()

    try:
        run(scenario())
        stored = _hash(redis_db, f"gw:vault:{c}")
        assert len(stored) == 2
        raw = b"".join(k + v for k, v in stored.items())
        assert CANARY.encode() not in raw and TOKEN.encode() not in raw
        assert 0 < redis_db.pttl(f"gw:vault:{c}") <= 60_000
    finally:
        _cleanup(redis_db, c, links=(rid,))


def test_redis_expiry(redis_db: redis.Redis) -> None:
    c, rid = conv(), f"resp_{uuid.uuid4().hex}"

    async def scenario() -> None:
        vault = RedisVault(REDIS_URL, SECRET, 0.2)
        try:
            await vault.save(c, {TOKEN: CANARY})
            await vault.link(rid, c)
            assert await vault.load(c) == {TOKEN: CANARY}
            await asyncio.sleep(0.3)
            assert await vault.load(c) == {}
            assert await vault.conversation_of(rid) is None
        finally:
            await vault.close()

    try:
        run(scenario())
    finally:
        _cleanup(redis_db, c, links=(rid,))


def test_redis_tampered_or_foreign_entry_fails_closed(redis_db: redis.Redis) -> None:
    c1, c2 = conv(), conv()

    async def scenario() -> None:
        vault = RedisVault(REDIS_URL, SECRET, 60)
        other = RedisVault(REDIS_URL, OTHER_SECRET, 60)
        try:
            await vault.save(c1, {TOKEN: "Alice Example"})
            with pytest.raises(VaultUnavailable, match="failed authentication"):
                await other.load(c1)
            # The same token's ciphertext moved to another conversation.
            (field, blob) = _hash(redis_db, f"gw:vault:{c1}").popitem()
            redis_db.hset(f"gw:vault:{c2}", field, blob)
            with pytest.raises(VaultUnavailable, match="failed authentication"):
                await vault.load(c2)
            redis_db.hset(f"gw:vault:{c1}", field, blob[:-1] + bytes([blob[-1] ^ 1]))
            with pytest.raises(VaultUnavailable, match="failed authentication"):
                await vault.load(c1)
            redis_db.hset(f"gw:vault:{c1}", field, blob[:5])  # truncated below the nonce length
            with pytest.raises(VaultUnavailable, match="failed authentication"):
                await vault.load(c1)
            redis_db.delete(f"gw:vault:{c1}")
            redis_db.hset(f"gw:vault:{c1}", b"\xff" + field[1:], blob)  # field name not even UTF-8
            with pytest.raises(VaultUnavailable, match="failed authentication"):
                await vault.load(c1)
        finally:
            await vault.close()
            await other.close()

    try:
        run(scenario())
    finally:
        _cleanup(redis_db, c1, c2)


def test_redis_unreachable_raises() -> None:
    async def scenario() -> None:
        vault = RedisVault("redis://127.0.0.1:1", SECRET, 60)
        try:
            with pytest.raises(VaultUnavailable, match="vault redis unavailable") as info:
                await vault.save(conv(), {TOKEN: CANARY})
            assert CANARY not in str(info.value)
            with pytest.raises(VaultUnavailable):
                await vault.load(conv())
        finally:
            await vault.close()

    run(scenario())


# --- Settings and factory ---------------------------------------------------------------------


def test_build_vault_follows_settings(sqlite_engine: Engine) -> None:
    assert isinstance(build_vault(VaultSettings(), sqlite_engine, SECRET), SqlVault)

    async def redis_one() -> None:
        vault = build_vault(VaultSettings(url=REDIS_URL, ttl_seconds=5), sqlite_engine, SECRET)
        assert isinstance(vault, RedisVault)
        await vault.close()

    run(redis_one())


def test_vault_settings_defaults_and_validation() -> None:
    settings = settings_from_text("", source="g.yaml", environ={})
    assert settings.file.vault == VaultSettings(url=None, ttl_seconds=86400.0)
    good = settings_from_text("vault:\n  url: rediss://cache:6380/2\n", source="g.yaml", environ={})
    assert good.file.vault.url == "rediss://cache:6380/2"
    with pytest.raises(ConfigError, match=r"g\.yaml:3: vault\.url: .*redis://") as info:
        settings_from_text(
            "vault:\n  ttl_seconds: 60\n  url: http://x:p4ss@cache\n", source="g.yaml", environ={}
        )
    assert "p4ss" not in str(info.value)  # a URL may carry a password
    with pytest.raises(ConfigError, match=r"vault\.ttl_seconds"):
        settings_from_text("vault:\n  ttl_seconds: 0\n", source="g.yaml", environ={})
