"""Turn a destination's error reply into a gateway error the client's SDK understands.

A client of the same wire format gets the destination's own error body (its
``type``, ``code`` and ``param`` matter to SDK users: ``context_length_exceeded``,
``insufficient_quota``...).  A client of the other format gets an error of its own
format with the destination's message and a type chosen from the status.  Two
cases are always the gateway's own: a 401/403 (the server's provider key was
refused, not the client's gateway key) and 5xx (a 502 that names the destination).
"""

from __future__ import annotations

import json
from typing import Any

from gateway.endpoints import Destination
from gateway.errors import (
    GatewayError,
    LocalUnavailable,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRejected,
    Wire,
)

_MESSAGE_MAX = 500
_CODE_MAX = 64
_ANTHROPIC_TYPES = {404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error"}


def _error_object(payload: Any) -> dict[str, Any] | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def error_for_status(
    dest: Destination, status: int, body: bytes, headers: dict[str, str], client_wire: Wire
) -> GatewayError:
    """The error, marked as quoting the destination (``quotes_destination``): its message and body
    are read by the answer guard before the client sees them (``gateway.relay``)."""
    err = _error_for_status(dest, status, body, headers, client_wire)
    err.quotes_destination = True
    return err


def _error_for_status(
    dest: Destination, status: int, body: bytes, headers: dict[str, str], client_wire: Wire
) -> GatewayError:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        payload = None
    error = _error_object(payload)
    message = _text(error.get("message"), _MESSAGE_MAX) if error else None
    kind = _text(error.get("type"), _CODE_MAX) if error else None
    code = _text(error.get("code"), _CODE_MAX) if error else None
    said = f": {message}" if message else ""
    name = dest.name
    if status in (401, 403):
        # The client's gateway key was fine; the gateway's own provider key was not.  Saying 401 to the
        # client would send them hunting for a problem with their key.
        return UpstreamError(
            f"Destination '{name}' rejected the gateway's provider credentials (HTTP {status}).",
            code="upstream_auth_failed",
        )
    if 400 <= status < 500:
        cls = RateLimited if status == 429 else UpstreamRejected
        err: GatewayError = cls(
            f"Destination '{name}' refused the request{said}",
            status=status,
            code=code or kind or ("rate_limit_exceeded" if status == 429 else "upstream_rejected"),
            headers=headers,
            param=_text(error.get("param"), _CODE_MAX) if error else None,
            openai_type=kind if dest.wire == "openai" else None,
            anthropic_type=_ANTHROPIC_TYPES.get(status),
        )
        if error is not None and dest.wire == client_wire:
            err.upstream_body = payload
            err.upstream_wire = client_wire
        return err
    if dest.settings.type == "local" and status >= 500:
        return LocalUnavailable(
            f"The local model '{name}' failed with HTTP {status}{said} The request was not sent to any "
            "other destination."
        )
    if status in (503, 529):
        return ServiceUnavailable(
            f"Destination '{name}' is overloaded or unavailable (HTTP {status}).",
            code="upstream_overloaded",
            headers=headers,
        )
    return UpstreamError(f"Destination '{name}' failed with HTTP {status}{said}", code="upstream_status")
