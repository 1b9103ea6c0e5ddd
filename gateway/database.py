"""SQLAlchemy engine and shared metadata.  SQLite gets durable settings and no memory mapping."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from gateway.settings import ConfigError

metadata = MetaData()
T = TypeVar("T")


def create_db_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database_url: not a valid database URL: {_redacted(url)}") from None
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:") or "mode=memory" in str(parsed)
        pool: dict[str, Any] = {} if in_memory else {"pool_size": 5, "max_overflow": 5}
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Nothing of the database is memory-mapped.  WAL maps its ``-shm`` index file, and a mapping
    whose file can no longer grow (made immutable, or its disk full) kills the process with SIGBUS,
    which no handler can turn into an error; a rollback journal uses plain reads and writes, whose
    failures are errors the audit writer reports (503 ``audit_unavailable``).  A database a release
    before this one left in WAL mode is switched over in exclusive locking mode, in which SQLite keeps
    the WAL index in the heap and never opens the ``-shm`` file it may no longer be able to use."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA locking_mode=EXCLUSIVE")
    cursor.execute("PRAGMA journal_mode=TRUNCATE")
    cursor.execute("PRAGMA locking_mode=NORMAL")
    cursor.execute("PRAGMA mmap_size=0")
    cursor.execute("SELECT count(*) FROM sqlite_master").fetchall()  # releases the exclusive lock
    # FULL makes a commit survive power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    # Each pooled connection keeps its own page cache (2 MiB by default), which fills as the audit
    # table grows: 1 MiB each holds the pages an append touches, and keeps a long run's RSS flat.
    cursor.execute("PRAGMA cache_size=-1024")
    cursor.close()


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"  # the schema of the releases before migrations


def migrate(engine: Engine) -> None:
    """Bring the database to the current schema (Alembic, ``gateway/migrations``), in one transaction.

    A database from a release before migrations has the baseline tables and no version: it is
    stamped as the baseline first, then upgraded like any other."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Gateways starting together must not migrate together; the lock ends with the transaction.
            conn.execute(text("SELECT pg_advisory_xact_lock(727001)"))
        config.attributes["connection"] = conn
        found = inspect(conn)
        if not found.has_table("alembic_version") and found.has_table("audit_records"):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """SQLite has no advisory locks: processes sharing a database file take a lock file beside it."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one transaction on a worker thread: the drivers block, the event loop must not."""

    def run() -> T:
        with engine.begin() as conn:
            return work(conn)

    return await asyncio.to_thread(run)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redacted(url: str) -> str:
    # A database URL may carry a password; show only the scheme.
    return url.split(":", 1)[0] + "://..." if "://" in url else "<unparseable>"
