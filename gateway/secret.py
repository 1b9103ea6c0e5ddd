"""The server secret: it keys value digests (``hash``), pseudonyms, the audit chains and web sessions.

It comes from ``$GATEWAY_SECRET`` or the file ``$GATEWAY_SECRET_FILE`` names (read by settings), kept
away from the audit database: whoever can write that database and also read the secret there could
re-chain a forged record so that it verifies.  Only in development mode (``server.dev_mode``) does
the gateway start without one, creating a random secret in the database and sharing it with every
process on that database.  ``gateway secret export`` moves such a secret out unchanged, so that
pseudonyms, keyed hashes and the chains written with it keep working.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy import Column, Engine, LargeBinary, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.database import metadata
from gateway.settings import ConfigError, Settings, secret_value

log = logging.getLogger(__name__)

gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

_NAME = "value-key"
EXPORT_HOWTO = (
    "move it out with `gateway secret export --to FILE` (the gateway stopped), then set "
    "GATEWAY_SECRET_FILE=FILE for every gateway process"
)


class SecretExportError(Exception):
    """``gateway secret export`` could not move the secret; nothing was changed."""


def stored_secret(engine: Engine) -> bytes | None:
    """The secret an earlier development-mode gateway kept in the database, if any."""
    with engine.begin() as conn:
        row = conn.execute(select(gateway_secrets.c.value).where(gateway_secrets.c.name == _NAME)).first()
    return None if row is None else bytes(row[0])


def load_or_create_secret(engine: Engine) -> bytes:
    stored = stored_secret(engine)
    if stored is not None:
        return stored
    try:
        with engine.begin() as conn:
            conn.execute(insert(gateway_secrets).values(name=_NAME, value=secrets.token_bytes(32)))
    except IntegrityError:
        pass  # another process created it first; use theirs
    created = stored_secret(engine)
    assert created is not None  # inserted above, or by the process that won the race
    return created


def resolve_secret(settings: Settings, engine: Engine) -> bytes:
    """The secret this process uses, or a ConfigError saying why it may not start.

    The configured secret always wins over one in the database: whoever can write the database could
    have planted that one.  Only when the trail's chain heads were written with the stored secret and
    none with the configured one (a development install given a new secret instead of exporting its
    own) is the start refused, since the trail and pseudonyms would stop verifying without a word."""
    stored = stored_secret(engine)
    if settings.secret is not None:
        if stored is not None and not hmac.compare_digest(stored, settings.secret):
            if _heads_keyed_by(engine, stored) and not _heads_keyed_by(engine, settings.secret):
                raise ConfigError(
                    "this install's audit trail was written with the secret a development-mode gateway "
                    f"kept in the database, not with the configured one: {EXPORT_HOWTO} (instead of a "
                    "new secret)"
                )
            log.error(
                "the audit database holds a secret other than the configured one, and the trail was not "
                "written with it; it is ignored (planted by someone who can write the database, or left "
                "by a development install): delete it from the gateway_secrets table"
            )
        elif stored is not None:
            log.warning("the secret is also still kept in the audit database; %s", EXPORT_HOWTO)
        return settings.secret
    if not settings.server.dev_mode:
        where = (
            f"the database holds one: {EXPORT_HOWTO}"
            if stored is not None
            else (
                "write one (`hex:` and 64 random hex digits) to a file only the gateway can read "
                "and set GATEWAY_SECRET_FILE to it"
            )
        )
        raise ConfigError(
            "no secret: set GATEWAY_SECRET or GATEWAY_SECRET_FILE (or, for development only, "
            f"server.dev_mode: true or `gateway serve --dev`); {where}"
        )
    log.warning(
        "DEVELOPMENT MODE: the secret that keys the audit chains and pseudonyms is kept in the audit "
        "database, so whoever can write that database can forge records that verify; never run a "
        "shared gateway like this (set GATEWAY_SECRET_FILE)"
    )
    return stored if stored is not None else load_or_create_secret(engine)


def _heads_keyed_by(engine: Engine, secret: bytes) -> bool:
    """Whether any audit chain head in the database carries a MAC made with ``secret``."""
    from gateway.audit.chain import chain_key, head_mac
    from gateway.audit.tables import audit_chain_heads

    key = chain_key(secret)
    with engine.connect() as conn:
        heads = conn.execute(select(audit_chain_heads)).mappings().all()
    return any(
        hmac.compare_digest(str(h["mac"]), head_mac(key, h["writer"], h["last_seq"], h["last_hash"]))
        for h in heads
    )


def export_secret(engine: Engine, to: Path) -> None:
    """Write the database's secret to ``to`` (created, owner-only) as ``hex:...``, read it back, and
    only then delete it from the database."""
    stored = stored_secret(engine)
    if stored is None:
        raise SecretExportError("the database holds no secret (never in development mode, or moved out)")
    try:
        fd = os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecretExportError(f"{to} exists; choose a new file (nothing was changed)") from None
    except OSError as exc:
        raise SecretExportError(f"cannot create {to}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"hex:{stored.hex()}\n")
            out.flush()
            os.fsync(out.fileno())
        if secret_value(to.read_text(encoding="ascii")) != stored:
            raise SecretExportError(f"{to} did not read back as written")
    except BaseException:
        to.unlink(missing_ok=True)
        raise
    with engine.begin() as conn:
        conn.execute(delete(gateway_secrets).where(gateway_secrets.c.name == _NAME))
