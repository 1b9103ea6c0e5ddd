"""A gateway event can say what happened in words: why a policy (or term list) change was refused,
each problem as ``file:line: message``, for the review pages.

Records written before this revision have no detail (NULL); the hash chain leaves a NULL detail out
of a record's content (``gateway.audit.chain.LATER``), so their hashes still verify.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.add_column(sa.Column("detail", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("audit_records") as batch:
        batch.drop_column("detail")
