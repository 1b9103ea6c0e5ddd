"""The audit record counts the answer-stream events that could not be read and were not relayed.

Records written before this revision have no count (NULL); the hash chain leaves a NULL count out of
a record's content (``gateway.audit.chain.LATER``), so their hashes still verify.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("dropped_events", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("dropped_events")
