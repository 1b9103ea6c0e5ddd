"""The server secret that keys value digests (``hash``) and pseudonyms.

Taken from ``$GATEWAY_SECRET`` when set (read by settings); otherwise one random secret is created
in the database on first start and shared by every gateway process using that database, so that
every process derives the same digest and the same pseudonym for the same value.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Column, Engine, LargeBinary, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.database import metadata

gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

_NAME = "value-key"


def load_or_create_secret(engine: Engine) -> bytes:
    with engine.begin() as conn:
        row = conn.execute(select(gateway_secrets.c.value).where(gateway_secrets.c.name == _NAME)).first()
        if row is not None:
            return bytes(row[0])
    try:
        with engine.begin() as conn:
            conn.execute(insert(gateway_secrets).values(name=_NAME, value=secrets.token_bytes(32)))
    except IntegrityError:
        pass  # another process created it first; use theirs
    with engine.begin() as conn:
        return bytes(
            conn.execute(select(gateway_secrets.c.value).where(gateway_secrets.c.name == _NAME)).scalar_one()
        )
