from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.endpoints import ENDPOINTS_BY_PATH, DestinationTable
from gateway.errors import BadRequest, ServiceUnavailable
from gateway.exchange import Exchange
from gateway.settings import DestinationSettings
from gateway.upstream.forward import build_outbound

TABLE = DestinationTable(
    {
        "openai": DestinationSettings(
            type="openai",
            base_url="http://o/v1",
            api_key_env="O",
            jurisdiction="US",
            models=("gpt-*",),
            max_tokens_param="max_completion_tokens",
        ),
        "claude": DestinationSettings(
            type="anthropic", base_url="http://a", api_key_env="A", jurisdiction="US", models=("claude-*",)
        ),
        "local": DestinationSettings(
            type="local", base_url="http://l/v1", jurisdiction="LOCAL", models=("local-*",), model="qwen3"
        ),
    }
)
CREDENTIALS = {"openai": "sk-o", "claude": "sk-a"}


def _exchange(path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Exchange:
    ex = Exchange(method="POST", path=path, headers=headers or {}, client_addr=None)
    ex.endpoint = ENDPOINTS_BY_PATH[path]
    ex.raw_body = json.dumps(body).encode()
    ex.body = body
    ex.model = body["model"]
    ex.stream = bool(body.get("stream"))
    ex.route = TABLE.route(ex.endpoint, body["model"])
    return ex


def test_untouched_request_is_forwarded_byte_for_byte() -> None:
    ex = _exchange("/v1/chat/completions", {"model": "gpt-4o", "messages": [], "x": "  spacing  "})
    out = build_outbound(ex, CREDENTIALS)
    assert out.content is ex.raw_body
    assert out.url == "http://o/v1/chat/completions" and not out.strip_usage


def test_stream_without_usage_gets_usage_requested_and_marked_for_stripping() -> None:
    ex = _exchange("/v1/chat/completions", {"model": "gpt-4o", "messages": [], "stream": True})
    out = build_outbound(ex, CREDENTIALS)
    assert json.loads(out.content)["stream_options"] == {"include_usage": True}
    assert out.strip_usage and not out.client_include_usage


def test_model_rename_for_local_destination() -> None:
    ex = _exchange("/v1/chat/completions", {"model": "local-big", "messages": []})
    out = build_outbound(ex, CREDENTIALS)
    assert json.loads(out.content)["model"] == "qwen3" and out.url == "http://l/v1/chat/completions"


def test_anthropic_client_to_openai_destination_uses_its_max_tokens_param() -> None:
    body = {"model": "gpt-4o", "max_tokens": 7, "messages": [{"role": "user", "content": "hi"}]}
    sent = json.loads(build_outbound(_exchange("/v1/messages", body), CREDENTIALS).content)
    assert sent["max_completion_tokens"] == 7 and "max_tokens" not in sent


def test_only_allow_listed_client_headers_travel() -> None:
    headers = {
        "authorization": "Bearer gwk_x_y",
        "x-api-key": "gwk_x_y",
        "cookie": "session=1",
        "x-forwarded-for": "1.2.3.4",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "tools-2024",
        "accept": "application/json, x/4111111111111111",
    }
    body = {"model": "claude-x", "max_tokens": 5, "messages": []}
    out = build_outbound(_exchange("/v1/messages", body, headers), CREDENTIALS)
    assert out.headers == {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "tools-2024",
        "accept": "application/json",  # the gateway's own, by the stream flag
        "content-type": "application/json",
    }


def test_untranslatable_request_is_a_400() -> None:
    body = {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}], "n": 2}
    with pytest.raises(BadRequest, match="cannot be sent to destination 'claude'"):
        build_outbound(_exchange("/v1/chat/completions", body), CREDENTIALS)


def test_missing_provider_key_is_a_503_naming_the_variable() -> None:
    with pytest.raises(ServiceUnavailable, match="the gateway's O environment variable"):
        build_outbound(_exchange("/v1/chat/completions", {"model": "gpt-4o", "messages": []}), {})
