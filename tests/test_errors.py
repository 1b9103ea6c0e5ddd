from __future__ import annotations

import json

import pytest

from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    ModelNotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UpstreamTimeout,
    error_body,
    error_event_payload,
)


@pytest.mark.parametrize(
    ("err", "status", "openai_type", "anthropic_type"),
    [
        (AuthenticationFailed("no"), 401, "invalid_request_error", "authentication_error"),
        (ModelNotFound("no", param="model"), 404, "invalid_request_error", "not_found_error"),
        (PayloadTooLarge("no"), 413, "invalid_request_error", "request_too_large"),
        (UpstreamTimeout("no"), 504, "api_error", "timeout_error"),
        (ServiceUnavailable("no"), 503, "api_error", "overloaded_error"),
    ],
)
def test_rendering_in_both_wire_formats(
    err: GatewayError, status: int, openai_type: str, anthropic_type: str
) -> None:
    assert err.http_status == status
    openai_body = json.loads(error_body(err, "openai", "req_1"))
    assert openai_body == {
        "error": {"message": "no", "type": openai_type, "param": err.param, "code": err.code}
    }
    anthropic_body = json.loads(error_body(err, "anthropic", "req_1"))
    assert anthropic_body == {
        "type": "error",
        "error": {"type": anthropic_type, "message": "no"},
        "request_id": "req_1",
    }


def test_stream_error_events() -> None:
    err = UpstreamTimeout("late")
    assert error_event_payload(err, "anthropic", "r")[0] == "error"
    name, payload = error_event_payload(err, "openai", "r")
    assert name is None and payload["error"]["code"] == "upstream_timeout"
