"""Encrypted, expiring storage of pseudonym maps for stateful LLM APIs.

With OpenAI Responses a client continues a conversation by ``previous_response_id`` alone, so the
gateway must remember which original value each pseudonym token stood for, across requests and
processes.  That map holds exactly the sensitive values the gateway exists to keep from the
destination, so it is encrypted at rest (AES-GCM under a key derived from the server secret) and
expires: a leaked database or Redis dump must not become a leak of the values.

Rows are addressed by an HMAC of the token rather than the token, so storage does not even show
which kinds of values a conversation contained.  Each ciphertext is bound to its conversation and
token HMAC as associated data, so a row copied to another conversation or slot fails authentication.
Any storage or authentication failure is :class:`VaultUnavailable`: callers fail closed.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from hashlib import sha256
from typing import Protocol, TypeVar, cast

import redis.asyncio as aioredis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.exceptions import RedisError
from redis.typing import EncodableT
from sqlalchemy import Column, Connection, Engine, Float, LargeBinary, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from gateway.database import in_transaction, metadata
from gateway.settings import ConfigError, VaultSettings

_T = TypeVar("_T")
_NONCE = 12
# Short so a dead Redis turns a request into a clear failure instead of a hang.
_REDIS_TIMEOUT = 5.0

vault_entries = Table(
    "vault_entries",
    metadata,
    Column("conversation", String(128), primary_key=True),
    Column("token_hmac", String(64), primary_key=True),
    Column("blob", LargeBinary, nullable=False),
    # Epoch seconds: compares the same on SQLite and PostgreSQL, with no time-zone conversions.
    Column("expires_at", Float, nullable=False, index=True),
)

vault_links = Table(
    "vault_links",
    metadata,
    Column("response_id", String(255), primary_key=True),
    Column("conversation", String(128), nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)


class VaultUnavailable(RuntimeError):
    """The vault cannot be read or written; the message never carries a stored value."""


class Vault(Protocol):
    async def save(self, conversation: str, mapping: Mapping[str, str]) -> None: ...
    async def load(self, conversation: str) -> dict[str, str]: ...
    async def link(self, response_id: str, conversation: str) -> None: ...
    async def conversation_of(self, response_id: str) -> str | None: ...
    async def purge_expired(self) -> int: ...
    async def close(self) -> None: ...


class _Cipher:
    """Seals (token, value) pairs; both backends share it so their rows are equally protected."""

    def __init__(self, secret: bytes) -> None:
        # Separate derived keys: the token HMAC key is never the encryption key.
        self._aead = AESGCM(_derive(secret, b"gateway-vault-v1"))
        self._mac_key = _derive(secret, b"gateway-vault-v1/token")

    def token_id(self, token: str) -> str:
        return hmac.new(self._mac_key, token.encode(), sha256).hexdigest()

    def seal_all(self, conversation: str, mapping: Mapping[str, str]) -> dict[str, bytes]:
        """Token HMAC -> nonce + ciphertext of {"t": token, "v": value}, bound to the conversation."""
        sealed: dict[str, bytes] = {}
        for token, value in mapping.items():
            tid = self.token_id(token)
            nonce = os.urandom(_NONCE)
            plain = json.dumps({"t": token, "v": value}, ensure_ascii=False).encode()
            sealed[tid] = nonce + self._aead.encrypt(nonce, plain, _aad(conversation, tid))
        return sealed

    def open(self, conversation: str, token_id: str, blob: bytes) -> tuple[str, str]:
        try:
            plain = self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], _aad(conversation, token_id))
        except (InvalidTag, ValueError):
            # Tampered, truncated, swapped, or sealed under another secret: never guess, fail closed.
            raise VaultUnavailable("vault entry failed authentication") from None
        # Authenticated, so this is the JSON seal_all wrote.
        data = json.loads(plain)
        return str(data["t"]), str(data["v"])


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _aad(conversation: str, token_id: str) -> bytes:
    # token_id is fixed-length hex, so no other (conversation, token_id) pair gives the same bytes.
    return conversation.encode() + b"\x00" + token_id.encode()


class SqlVault:
    """The vault in the gateway's own database: no extra service to run for a single deployment.

    The engine belongs to the application, so :meth:`close` leaves it open.
    """

    def __init__(self, engine: Engine, secret: bytes, ttl_seconds: float) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ConfigError(f"vault: unsupported database {engine.dialect.name}")
        self._engine = engine
        self._cipher = _Cipher(secret)
        self._ttl = ttl_seconds

    async def save(self, conversation: str, mapping: Mapping[str, str]) -> None:
        sealed = self._cipher.seal_all(conversation, mapping)
        expires = time.time() + self._ttl

        def work(conn: Connection) -> None:
            if sealed:
                rows = [
                    {"conversation": conversation, "token_hmac": tid, "blob": blob, "expires_at": expires}
                    for tid, blob in sealed.items()
                ]
                self._upsert(
                    conn, vault_entries, rows, ["conversation", "token_hmac"], ["blob", "expires_at"]
                )
            # The map is used as a whole, so every entry of the conversation lives as long as the newest.
            conn.execute(
                update(vault_entries)
                .where(vault_entries.c.conversation == conversation)
                .values(expires_at=expires)
            )

        await self._run(work)

    async def load(self, conversation: str) -> dict[str, str]:
        def work(conn: Connection) -> dict[str, str]:
            rows = conn.execute(
                select(vault_entries.c.token_hmac, vault_entries.c.blob).where(
                    vault_entries.c.conversation == conversation, vault_entries.c.expires_at > time.time()
                )
            ).all()
            return dict(self._cipher.open(conversation, tid, bytes(blob)) for tid, blob in rows)

        return await self._run(work)

    async def link(self, response_id: str, conversation: str) -> None:
        row = {
            "response_id": response_id,
            "conversation": conversation,
            "expires_at": time.time() + self._ttl,
        }
        keys, refresh = ["response_id"], ["conversation", "expires_at"]
        await self._run(lambda conn: self._upsert(conn, vault_links, [row], keys, refresh))

    async def conversation_of(self, response_id: str) -> str | None:
        def work(conn: Connection) -> str | None:
            found = conn.execute(
                select(vault_links.c.conversation).where(
                    vault_links.c.response_id == response_id, vault_links.c.expires_at > time.time()
                )
            ).scalar_one_or_none()
            return None if found is None else str(found)

        return await self._run(work)

    async def purge_expired(self) -> int:
        def work(conn: Connection) -> int:
            now = time.time()
            gone = conn.execute(delete(vault_entries).where(vault_entries.c.expires_at <= now)).rowcount
            return int(gone) + int(
                conn.execute(delete(vault_links).where(vault_links.c.expires_at <= now)).rowcount
            )

        return await self._run(work)

    async def close(self) -> None:
        return None

    def _upsert(
        self,
        conn: Connection,
        table: Table,
        rows: list[dict[str, object]],
        keys: list[str],
        refresh: list[str],
    ) -> None:
        # A native upsert: delete-then-insert would race with a concurrent save of the same token.
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(table).values(rows)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in refresh})
        )

    async def _run(self, work: Callable[[Connection], _T]) -> _T:
        try:
            return await in_transaction(self._engine, work)
        except (SQLAlchemyError, OSError) as exc:
            # SQLAlchemy messages quote statement parameters; name only the kind of failure.
            raise VaultUnavailable(f"vault database unavailable ({_kind(exc)})") from None


class RedisVault:
    """The vault in Redis, for deployments that share hot state between many gateway processes.

    Redis expires keys itself, so :meth:`purge_expired` has nothing to do.
    """

    def __init__(self, url: str, secret: bytes, ttl_seconds: float) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=_REDIS_TIMEOUT, socket_connect_timeout=_REDIS_TIMEOUT
        )
        self._cipher = _Cipher(secret)
        # Milliseconds, at least one: PEXPIRE 0 would delete the key at once.
        self._ttl_ms = max(1, round(ttl_seconds * 1000))

    async def save(self, conversation: str, mapping: Mapping[str, str]) -> None:
        sealed = self._cipher.seal_all(conversation, mapping)
        key = f"gw:vault:{conversation}"
        # MULTI/EXEC, so an entry is never written without its expiry; execute() releases the connection.
        pipe = self._redis.pipeline(transaction=True)
        if sealed:
            fields: dict[EncodableT, EncodableT] = dict(sealed.items())
            pipe.hset(key, mapping=fields)
        pipe.pexpire(key, self._ttl_ms)
        await self._call(pipe.execute())

    async def load(self, conversation: str) -> dict[str, str]:
        raw = await self._call(self._redis.hgetall(f"gw:vault:{conversation}"))
        # The client is built without decode_responses, so fields and values come back as bytes.
        stored = cast("dict[bytes, bytes]", raw)
        # A mangled field name decodes to something that then fails authentication, as it should.
        return dict(
            self._cipher.open(conversation, tid.decode(errors="replace"), blob)
            for tid, blob in stored.items()
        )

    async def link(self, response_id: str, conversation: str) -> None:
        await self._call(self._redis.set(f"gw:vlink:{response_id}", conversation, px=self._ttl_ms))

    async def conversation_of(self, response_id: str) -> str | None:
        found = await self._call(self._redis.get(f"gw:vlink:{response_id}"))
        return found.decode() if isinstance(found, bytes) else found

    async def purge_expired(self) -> int:
        return 0

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, pending: Awaitable[_T]) -> _T:
        try:
            return await pending
        except (RedisError, OSError) as exc:
            raise VaultUnavailable(f"vault redis unavailable ({_kind(exc)})") from None


def build_vault(settings: VaultSettings, engine: Engine, secret: bytes) -> Vault:
    """The vault the settings name: Redis when a URL is given, else the gateway database."""
    if settings.url is not None:
        return RedisVault(settings.url, secret, settings.ttl_seconds)
    return SqlVault(engine, secret, settings.ttl_seconds)


def _kind(exc: BaseException) -> str:
    # The driver's own error class (e.g. OperationalError) tells an operator what failed, without data.
    orig = getattr(exc, "orig", None)
    return type(orig if isinstance(orig, BaseException) else exc).__name__
