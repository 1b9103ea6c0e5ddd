"""Turn a destination's error reply into a gateway error the client's SDK understands."""

from __future__ import annotations

import json
from typing import Any

from gateway.endpoints import Destination
from gateway.errors import (
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRejected,
)

_MESSAGE_MAX = 500


def upstream_message(body: bytes) -> tuple[str | None, str | None]:
    """(type, message) from an OpenAI- or Anthropic-shaped error body, if it is one."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return None, None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        kind = error.get("type") if isinstance(error.get("type"), str) else None
        message = error.get("message") if isinstance(error.get("message"), str) else None
        return kind, message[:_MESSAGE_MAX] if message else None
    return None, None


def error_for_status(dest: Destination, status: int, body: bytes, headers: dict[str, str]) -> GatewayError:
    kind, message = upstream_message(body)
    said = f": {message}" if message else ""
    name = dest.name
    if status in (401, 403):
        # The client's gateway key was fine; the gateway's own provider key was not.  Saying 401 to the
        # client would send them hunting for a problem with their key.
        return UpstreamError(
            f"Destination '{name}' rejected the gateway's provider credentials (HTTP {status}).",
            code="upstream_auth_failed",
        )
    if status == 429:
        return RateLimited(f"Destination '{name}' is rate limiting requests{said}", headers=headers)
    if 400 <= status < 500:
        return UpstreamRejected(
            f"Destination '{name}' refused the request{said}", status=status, code=kind or "upstream_rejected"
        )
    if status in (503, 529):
        return ServiceUnavailable(
            f"Destination '{name}' is overloaded or unavailable (HTTP {status}).",
            code="upstream_overloaded",
            headers=headers,
        )
    return UpstreamError(f"Destination '{name}' failed with HTTP {status}{said}", code="upstream_status")
