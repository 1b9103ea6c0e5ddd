"""One error hierarchy for everything a client can be told, rendered in one place.

::

    GatewayError                      status  OpenAI type / Anthropic type
    ├── BadRequest                    400     invalid_request_error
    │   └── InvalidJSON               400     invalid_request_error
    ├── AuthenticationFailed          401     authentication_error
    ├── NotFound                      404     not_found_error (OpenAI: invalid_request_error)
    │   └── ModelNotFound             404     model_not_found
    ├── MethodNotAllowed              405     invalid_request_error
    ├── RequestTimeout                408     invalid_request_error (the client was too slow)
    ├── PayloadTooLarge               413     request_too_large
    ├── UnsupportedMediaType          415     invalid_request_error
    ├── RateLimited                   429     rate_limit_error (destination said 429, or a key's limit)
    ├── HeadersTooLarge               431     invalid_request_error
    ├── UpstreamRejected              4xx     invalid_request_error (destination's own 4xx)
    ├── UpstreamError                 502     api_error        (destination failed or broke the protocol)
    │   └── UpstreamTimeout           504     timeout_error
    ├── PolicyBlocked                 403     policy_violation / permission_error (the data policy said block)
    ├── ServiceUnavailable            503     overloaded_error (gateway side: store down, no credentials)
    │   ├── LocalUnavailable          503     overloaded_error (policy keeps it local; local is down)
    │   ├── Overloaded                503     overloaded_error (admission: too much in flight)
    │   ├── ScanBusy                  503     overloaded_error (every scan thread taken, queue full)
    │   └── ShuttingDown              503     overloaded_error (the process is draining)
    ├── ScanFailed                    503     api_error (detection failed: nothing was sent)
    └── InternalError                 500     api_error

Messages are written for the person reading them and never include request
content: they name fields, sizes and destinations, not values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from gateway.jsonwire import dumps_bytes

Wire = Literal["openai", "anthropic"]


class GatewayError(Exception):
    status: ClassVar[int] = 500
    # Instance-overridable: a destination's own error keeps its own type.
    openai_type: str = "api_error"
    anthropic_type: str = "api_error"
    default_code: ClassVar[str] = "gateway_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        param: str | None = None,
        openai_type: str | None = None,
        anthropic_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.http_status = status or self.status
        self.headers = dict(headers or {})
        self.param = param
        if openai_type:
            self.openai_type = openai_type
        if anthropic_type:
            self.anthropic_type = anthropic_type
        # A destination's own error body, returned as it is to a client of the same wire format.
        self.upstream_body: dict[str, Any] | None = None
        self.upstream_wire: Wire | None = None
        # The message quotes the destination: the answer guard reads it before the client does.
        self.quotes_destination = False


class BadRequest(GatewayError):
    status = 400
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "invalid_request"


class InvalidJSON(BadRequest):
    default_code = "invalid_json"


class AuthenticationFailed(GatewayError):
    status = 401
    openai_type = "invalid_request_error"
    anthropic_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """An authenticated key whose role may not do this (``server.model_traffic_roles``)."""

    status = 403
    openai_type = "permission_error"
    anthropic_type = "permission_error"
    default_code = "role_not_allowed"


class NotFound(GatewayError):
    status = 404
    openai_type = "invalid_request_error"
    anthropic_type = "not_found_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "method_not_allowed"


class RequestTimeout(GatewayError):
    status = 408
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "request_timeout"


class PayloadTooLarge(GatewayError):
    status = 413
    openai_type = "invalid_request_error"
    anthropic_type = "request_too_large"
    default_code = "request_too_large"


class UnsupportedMediaType(GatewayError):
    status = 415
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "unsupported_media_type"


class RateLimited(GatewayError):
    status = 429
    openai_type = "rate_limit_error"
    anthropic_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class HeadersTooLarge(GatewayError):
    status = 431
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "request_headers_too_large"


class UpstreamRejected(GatewayError):
    """The destination refused the request as invalid (its 4xx, same status, its message)."""

    status = 400
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"
    default_code = "upstream_rejected"


class UpstreamError(GatewayError):
    status = 502
    openai_type = "api_error"
    anthropic_type = "api_error"
    default_code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    anthropic_type = "timeout_error"
    default_code = "upstream_timeout"


class ServiceUnavailable(GatewayError):
    status = 503
    openai_type = "api_error"
    anthropic_type = "overloaded_error"
    default_code = "service_unavailable"


class LocalUnavailable(ServiceUnavailable):
    """Policy keeps this request local and the local destination cannot take it: never sent elsewhere."""

    default_code = "local_unavailable"


class Overloaded(ServiceUnavailable):
    """Admission refused the request: the process has as much in flight as it takes.  Try again."""

    default_code = "overloaded"


class ScanBusy(ServiceUnavailable):
    """Every scan thread is taken and the queue is full, or the wait ran out: try again shortly."""

    default_code = "scan_busy"


class ShuttingDown(ServiceUnavailable):
    """The process is draining for shutdown: another replica (or this one, restarted) takes it."""

    default_code = "shutting_down"


class PolicyBlocked(GatewayError):
    """The data policy blocks this request; nothing was sent anywhere."""

    status = 403
    openai_type = "policy_violation"
    anthropic_type = "permission_error"
    default_code = "blocked_by_policy"


class ScanFailed(GatewayError):
    """Detection failed or timed out: the request is treated as unscanned and goes nowhere."""

    status = 503
    openai_type = "api_error"
    anthropic_type = "api_error"
    default_code = "scan_failed"


class InternalError(GatewayError):
    default_code = "internal_error"


def error_payload(err: GatewayError, wire: Wire, request_id: str) -> dict[str, Any]:
    if err.upstream_body is not None and err.upstream_wire == wire:
        return err.upstream_body
    if wire == "anthropic":
        return {
            "type": "error",
            "error": {"type": err.anthropic_type, "message": err.message},
            "request_id": request_id,
        }
    return {
        "error": {
            "message": err.message,
            "type": err.openai_type,
            "param": err.param,
            "code": err.code,
        }
    }


def error_body(err: GatewayError, wire: Wire, request_id: str) -> bytes:
    return dumps_bytes(error_payload(err, wire, request_id))


def error_event_payload(err: GatewayError, wire: Wire, request_id: str) -> tuple[str | None, dict[str, Any]]:
    """An in-stream error: the (event name, data) the client's SDK raises on."""
    payload = error_payload(err, wire, request_id)
    if wire == "anthropic":
        return "error", payload
    return None, payload
