"""Shared fixtures: databases (SQLite file and the real PostgreSQL server) and the real Redis server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from gateway.database import create_db_engine, migrate

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the real PostgreSQL server, dropped afterwards.

    A missing server is a failure with instructions, not a skip: these tests are how we know
    the production database works.
    """
    with postgres_schema() as url:
        yield url


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of a fresh schema on the real PostgreSQL server, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(exc).__name__}). Start it with "
            "'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' or set "
            "GATEWAY_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@contextlib.contextmanager
def redis_client(url: str) -> Iterator[redis.Redis]:
    """A client of the real Redis server; a missing server is a failure with instructions, not a skip."""
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.fail(
            f"Redis is not reachable at {url} ({type(exc).__name__}). Start it with "
            "'redis-server --daemonize yes'.",
            pytrace=False,
        )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(params=["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)])
def db_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, migrated database, once on SQLite and once on PostgreSQL."""
    engine = create_db_engine(str(request.getfixturevalue(request.param)))
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
