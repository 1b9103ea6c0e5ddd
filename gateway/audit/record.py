"""Turn a finished exchange into an audit row (a plain dict of column values).

Every string is bounded to its column and made printable here: a value a client or
a destination controls (the method, the model name, an error code) must never make
the database refuse the row, which would lose the record of the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.audit.tables import audit_records
from gateway.exchange import Exchange

if TYPE_CHECKING:
    from gateway.policy.decide import Decision

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _bounded(column: str, value: str | None) -> str | None:
    if value is None:
        return None
    limit = getattr(audit_records.c[column].type, "length", None) or 200
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value[:limit])
    return cleaned[:limit]


def content_key(secret: bytes) -> bytes:
    """The key of the records' content hashes, separate from every other use of the server secret."""
    return hmac.new(secret, b"audit-content-v1", hashlib.sha256).digest()


def _keyed(key: bytes, digest: bytes | None) -> str | None:
    return None if digest is None else hmac.new(key, digest, hashlib.sha256).hexdigest()


def _model(key: bytes, ex: Exchange) -> str | None:
    """The requested model as sent once it passed its checks (a model name, nothing found in it);
    before that, or when it failed them, only its keyed hash: a model name can carry data."""
    if ex.model is None:
        return None
    if ex.model_checked:
        return _bounded("requested_model", ex.model)
    digest = _keyed(key, hashlib.sha256(ex.model.encode("utf-8", "surrogatepass")).digest())
    return f"hmac:{str(digest)[:32]}"


def audit_row(ex: Exchange, key: bytes, phase: str = "end") -> dict[str, Any]:
    """The record of ``ex`` as it stands; ``phase`` "start" before egress, "end" when it is over."""
    principal = ex.principal
    route = ex.route
    decision = ex.decision
    return {
        "phase": phase,
        "request_id": ex.request_id,
        "time": ex.started_at,
        "user": _bounded("user", principal.user) if principal else None,
        "team": _bounded("team", principal.team) if principal else None,
        "key_id": principal.key_id if principal else ex.tried_key_id,
        "client_addr": _bounded("client_addr", ex.client_addr),
        "method": ex.method if ex.method in _METHODS else "OTHER",
        # A refused path is recorded only as "unknown": a URL can carry anything, including personal data.
        "endpoint": ex.endpoint.name if ex.endpoint else "unknown",
        "requested_model": _model(key, ex),
        "destination": route.destination.name if route else None,
        "jurisdiction": route.destination.jurisdiction if route else None,
        "stream": ex.stream,
        "status": ex.status or 500,
        "latency_ms": round(ex.elapsed_ms(), 3),
        "input_tokens": ex.usage.input_tokens,
        "output_tokens": ex.usage.output_tokens,
        "request_bytes": len(ex.raw_body),
        "response_bytes": ex.response_bytes,
        "error": _bounded("error", ex.error),
        "disconnected": ex.disconnected,
        "truncated": ex.truncated,
        "data_classes": json.dumps(ex.scan.counts(), sort_keys=True) if ex.scan else None,
        "findings": len(ex.scan.findings) if ex.scan else None,
        "pseudonyms": ex.pseudonyms or None,
        "answer_values": ex.answer.replaced if ex.answer is not None else None,
        "dropped_events": ex.dropped_events or None,
        "route": ("local" if decision.local else "direct") if decision is not None and route else None,
        "prompt_hmac": _keyed(key, ex.body_digest()) if ex.raw_body else None,
        "answer_hmac": _keyed(key, ex.answer_digest.digest()) if ex.answer_digest is not None else None,
        "upstream_ms": ex.upstream_ms,
        "scan_ms": ex.scan_ms,
        **_policy_columns(decision),
    }


def _policy_columns(decision: Decision | None) -> dict[str, Any]:
    if decision is None:
        return {}
    return {
        "policy_version": decision.policy_version,
        "action": decision.action,
        "rules": json.dumps(list(decision.rules)),
        "route_reason": _bounded("route_reason", decision.reason),
        "shadow_action": decision.shadow_action if decision.shadow else None,
        "shadow_rules": json.dumps([f.rule for f in decision.shadow]) if decision.shadow else None,
    }


EVENT_DETAIL_CHARS = 4000


def event_row(
    event: str, *, policy_version: str | None, error: str | None = None, detail: str | None = None
) -> dict[str, Any]:
    """A gateway event (not a request) in the same trail: a policy reload, or a rejected policy edit
    (``detail``: its problems, one per line)."""
    if detail is not None:
        detail = "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in detail[:EVENT_DETAIL_CHARS])
    return {
        "phase": "event",
        "request_id": f"evt_{uuid.uuid4().hex}",
        "time": datetime.now(UTC),
        "method": "EVENT",
        "endpoint": _bounded("endpoint", event),
        "status": 0,
        "latency_ms": 0.0,
        "request_bytes": 0,
        "response_bytes": 0,
        "stream": False,
        "disconnected": False,
        "truncated": False,
        "policy_version": policy_version,
        "error": _bounded("error", error),
        "detail": detail,
    }
