"""Schema migrations (Alembic) on real SQLite and PostgreSQL: they build exactly the schema the code
declares, and they carry a database from the release before migrations forward, rows included."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text

import gateway.runtime  # noqa: F401  (registers every table of the application on the metadata)
from gateway.audit.chain import chain_key
from gateway.audit.tables import audit_records
from gateway.audit.verify import verify_trail
from gateway.database import MIGRATIONS, create_db_engine, metadata, migrate


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _to_baseline(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")


def test_migrations_build_the_declared_schema(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine)
    assert _differences(engine) == []
    migrate(engine)  # again: nothing to do, nothing breaks
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    engine.dispose()


def test_a_database_from_before_migrations_is_carried_forward(database_url: str) -> None:
    engine = create_db_engine(database_url)
    _to_baseline(engine)
    with engine.begin() as conn:
        # What the earlier release left: tables made by create_all, no version table.
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(
            text(
                "INSERT INTO audit_records (request_id, time, method, endpoint, stream, status, latency_ms,"
                " request_bytes, response_bytes, disconnected, truncated) VALUES ('req_old', :t, 'POST',"
                " 'chat.completions', :f, 200, 3.5, 1, 2, :f, :f)"
            ),
            {"t": datetime(2026, 11, 1, tzinfo=UTC), "f": False},
        )
    migrate(engine)
    assert _differences(engine) == []
    assert inspect(engine).has_table("sticky_conversations")
    with engine.connect() as conn:
        old = conn.execute(select(audit_records)).mappings().one()
    assert (old["request_id"], old["phase"], old["writer"]) == ("req_old", "end", None)
    # The old record was never chained, and verify says so rather than calling the trail intact.
    problem = verify_trail(engine, chain_key(b"x" * 32)).problem
    assert problem is not None and problem.request_id == "req_old" and "no chain" in problem.what
    engine.dispose()


def test_the_downgrade_returns_to_the_baseline(sqlite_url: str) -> None:
    engine = create_db_engine(sqlite_url)
    migrate(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert not inspect(engine).has_table("audit_chain_heads")
    assert "writer" not in {c["name"] for c in inspect(engine).get_columns("audit_records")}
    migrate(engine)
    assert _differences(engine) == []
    engine.dispose()
