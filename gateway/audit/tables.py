"""The audit table.  Holds classes, counts, sizes and identifiers, never prompt or answer text."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text

from gateway.database import metadata

audit_records = Table(
    "audit_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "start": committed before anything leaves for a destination (where it goes, why, what it holds);
    # "end": the complete record, written when the request is over; "event": a gateway event (policy
    # reload).  A "start" without an "end" is a request still running, or one the process never finished.
    Column("phase", String(8), nullable=False, default="end", index=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("time", DateTime(timezone=True), nullable=False, index=True),
    Column("user", String(200)),
    Column("team", String(200)),
    Column("key_id", String(64)),
    Column("client_addr", String(100)),
    Column("method", String(10), nullable=False),
    Column("endpoint", String(100), nullable=False),
    Column("requested_model", String(200)),
    Column("destination", String(100)),
    Column("jurisdiction", String(20)),
    Column("stream", Boolean, nullable=False, default=False),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("request_bytes", Integer, nullable=False, default=0),
    Column("response_bytes", Integer, nullable=False, default=0),
    Column("error", String(100)),
    # Data classes found and how many of each, as JSON ({"EMAIL_ADDRESS": 2}); never the values.
    Column("data_classes", Text),
    Column("findings", Integer),
    Column("disconnected", Boolean, nullable=False, default=False),
    Column("truncated", Boolean, nullable=False, default=False),
    # Policy (stage 5): the version (content hash) that decided, the enforced action, the rules that
    # fired, why it went where it went, and what shadow rules would have done.
    Column("policy_version", String(40)),
    Column("action", String(20)),
    Column("rules", Text),  # JSON list of rule ids
    Column("route_reason", String(200)),
    Column("shadow_action", String(20)),
    Column("shadow_rules", Text),  # JSON list of rule ids
    # Stage 9: pseudonyms issued for the request, and values in the answer the response rules replaced.
    Column("pseudonyms", Integer),
    Column("answer_values", Integer),
    # Answer-stream events whose data could not be read, so were dropped instead of relayed.
    Column("dropped_events", Integer),
    # Events only: what happened, in words (the problems of a refused policy change, file:line:
    # message); never request content.
    Column("detail", Text),
    # "direct": the destination the model maps to; "local": the policy sent it to the local destination.
    Column("route", String(10)),
    # Keyed hashes (HMAC with the server secret) of the request body and of the answer bytes the client
    # received: they show whether two records concern the same content, without holding any of it.
    Column("prompt_hmac", String(64)),
    Column("answer_hmac", String(64)),
    Column("upstream_ms", Float),  # request sent -> the destination's response headers
    Column("scan_ms", Float),
    # Tamper evidence: each gateway process appends to its own chain ("writer"), seq 1, 2, 3...; hash is
    # an HMAC of the previous hash and this record's content (gateway/audit/chain.py).
    Column("writer", String(40)),
    Column("seq", Integer),
    Column("prev_hash", String(64)),
    Column("hash", String(64)),
    Index("uq_audit_writer_seq", "writer", "seq", unique=True),
)

# Each chain's latest record, HMAC'd, updated in the same transaction as the records it covers: without
# it, deleting a chain's last records would leave a shorter chain that still verifies.
audit_chain_heads = Table(
    "audit_chain_heads",
    metadata,
    Column("writer", String(40), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Retention: where a chain's pruned prefix ended, so the records after it still verify.
audit_tombstones = Table(
    "audit_tombstones",
    metadata,
    Column("writer", String(40), primary_key=True),
    Column("up_to_seq", Integer, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
    Column("pruned", Integer, nullable=False),  # records removed from this chain so far
    Column(
        "cutoff", DateTime(timezone=True), nullable=False
    ),  # the last prune removed records older than this
    Column("mac", String(64), nullable=False),
)
