"""Turn a finished exchange into an audit row (a plain dict of column values)."""

from __future__ import annotations

from typing import Any

from gateway.exchange import Exchange

_MODEL_MAX = 200


def audit_row(ex: Exchange) -> dict[str, Any]:
    principal = ex.principal
    route = ex.route
    return {
        "request_id": ex.request_id,
        "time": ex.started_at,
        "user": principal.user if principal else None,
        "team": principal.team if principal else None,
        "key_id": principal.key_id if principal else None,
        "client_addr": ex.client_addr,
        "method": ex.method,
        # A refused path is recorded only as "unknown": a URL can carry anything, including personal data.
        "endpoint": ex.endpoint.name if ex.endpoint else "unknown",
        "requested_model": ex.model[:_MODEL_MAX] if ex.model else None,
        "destination": route.destination.name if route else None,
        "jurisdiction": route.destination.jurisdiction if route else None,
        "stream": ex.stream,
        "status": ex.status or 500,
        "latency_ms": round(ex.elapsed_ms(), 3),
        "input_tokens": ex.usage.input_tokens,
        "output_tokens": ex.usage.output_tokens,
        "request_bytes": len(ex.raw_body),
        "response_bytes": ex.response_bytes,
        "error": ex.error,
        "disconnected": ex.disconnected,
        "truncated": ex.truncated,
    }
