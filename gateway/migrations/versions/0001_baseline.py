"""The schema of the first releases (before migrations): keys, secret, audit, pseudonym vault.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("team", sa.String(200)),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "gateway_secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(200)),
        sa.Column("team", sa.String(200)),
        sa.Column("key_id", sa.String(64)),
        sa.Column("client_addr", sa.String(100)),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("endpoint", sa.String(100), nullable=False),
        sa.Column("requested_model", sa.String(200)),
        sa.Column("destination", sa.String(100)),
        sa.Column("jurisdiction", sa.String(20)),
        sa.Column("stream", sa.Boolean, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("request_bytes", sa.Integer, nullable=False),
        sa.Column("response_bytes", sa.Integer, nullable=False),
        sa.Column("error", sa.String(100)),
        sa.Column("data_classes", sa.Text),
        sa.Column("findings", sa.Integer),
        sa.Column("disconnected", sa.Boolean, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("policy_version", sa.String(40)),
        sa.Column("action", sa.String(20)),
        sa.Column("rules", sa.Text),
        sa.Column("route_reason", sa.String(200)),
        sa.Column("shadow_action", sa.String(20)),
        sa.Column("shadow_rules", sa.Text),
        sa.Column("pseudonyms", sa.Integer),
        sa.Column("answer_values", sa.Integer),
    )
    op.create_index("ix_audit_records_time", "audit_records", ["time"])
    op.create_index("ix_audit_records_request_id", "audit_records", ["request_id"])
    op.create_table(
        "vault_entries",
        sa.Column("conversation", sa.String(128), primary_key=True),
        sa.Column("token_hmac", sa.String(64), primary_key=True),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_vault_entries_expires_at", "vault_entries", ["expires_at"])
    op.create_table(
        "vault_links",
        sa.Column("response_id", sa.String(255), primary_key=True),
        sa.Column("conversation", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_vault_links_expires_at", "vault_links", ["expires_at"])


def downgrade() -> None:
    for table in ("vault_links", "vault_entries", "audit_records", "gateway_secrets", "api_keys"):
        op.drop_table(table)
