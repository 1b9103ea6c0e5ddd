"""Alembic environment: run by :func:`gateway.database.migrate` on the gateway's own connection."""

from __future__ import annotations

from alembic import context

from gateway.database import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
