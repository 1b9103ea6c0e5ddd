"""Sticky local conversations; the audit record's phases, keyed hashes, timings and hash chain.

Records written before this revision have no chain: ``gateway audit verify`` names the first of them
(prune them with ``gateway audit prune`` once they are past retention).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW_AUDIT_COLUMNS = (
    ("route", sa.String(10)),
    ("prompt_hmac", sa.String(64)),
    ("answer_hmac", sa.String(64)),
    ("upstream_ms", sa.Float),
    ("scan_ms", sa.Float),
    ("writer", sa.String(40)),
    ("seq", sa.Integer),
    ("prev_hash", sa.String(64)),
    ("hash", sa.String(64)),
)


def upgrade() -> None:
    op.create_table(
        "sticky_conversations",
        sa.Column("conversation_hmac", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_sticky_conversations_expires_at", "sticky_conversations", ["expires_at"])
    with op.batch_alter_table("audit_records") as batch:
        # Every record before this revision is a complete one.
        batch.add_column(sa.Column("phase", sa.String(8), nullable=False, server_default="end"))
        for name, kind in _NEW_AUDIT_COLUMNS:
            batch.add_column(sa.Column(name, kind))
    op.create_index("ix_audit_records_phase", "audit_records", ["phase"])
    op.create_index("uq_audit_writer_seq", "audit_records", ["writer", "seq"], unique=True)
    op.create_table(
        "audit_chain_heads",
        sa.Column("writer", sa.String(40), primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit_tombstones",
        sa.Column("writer", sa.String(40), primary_key=True),
        sa.Column("up_to_seq", sa.Integer, nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.Column("pruned", sa.Integer, nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_tombstones")
    op.drop_table("audit_chain_heads")
    op.drop_index("uq_audit_writer_seq", "audit_records")
    op.drop_index("ix_audit_records_phase", "audit_records")
    with op.batch_alter_table("audit_records") as batch:
        for name, _ in reversed(_NEW_AUDIT_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("phase")
    op.drop_index("ix_sticky_conversations_expires_at", "sticky_conversations")
    op.drop_table("sticky_conversations")
