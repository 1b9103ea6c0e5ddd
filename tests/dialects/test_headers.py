"""Forwarded request headers: the grammar each value must follow, with literal values."""

from __future__ import annotations

import pytest

from gateway.dialects.headers import FORWARDED_REQUEST_HEADERS, check
from gateway.endpoints import Destination
from gateway.errors import BadRequest
from gateway.settings import DestinationSettings
from gateway.upstream.client import upstream_headers


@pytest.mark.parametrize(
    "headers",
    [
        {"anthropic-version": "2023-06-01"},
        {"anthropic-beta": "prompt-caching-2024-07-31"},
        {"anthropic-beta": "context-1m-2025-08-07,interleaved-thinking-2025-05-14"},
        {"anthropic-beta": "max-tokens-3-5-sonnet-2024-07-15, output-128k-2025-02-19"},
        {"openai-beta": "assistants=v2"},
        {"openai-beta": "responses=experimental"},
        # accept is the gateway's own, so the client's is dropped, never refused
        {"accept": "application/json, x/4111111111111111, x/AKIAZ7QK3XW5PLM2RT4N"},
        # not forwarded, so never checked: the SDKs send these on every call
        {"user-agent": "OpenAI/Python 3.51.0 jane.doe@example.com", "x-stainless-os": "Linux 4111"},
        {"openai-organization": "org-jane", "openai-project": "4111 1111 1111 1111"},
    ],
)
def test_values_the_sdks_send_pass(headers: dict[str, str]) -> None:
    check(headers)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("anthropic-version", "2023-06-01 jane.doe@example.com"),
        ("anthropic-version", "4111111111111111"),
        ("anthropic-version", "latest"),
        ("anthropic-beta", "4111-1111-1111-1111"),
        ("anthropic-beta", "jane.doe@example.com"),
        ("anthropic-beta", "Jane Doe"),
        ("anthropic-beta", "AKIAIOSFODNN7EXAMPLE"),
        ("anthropic-beta", "tools-555-0100"),
        ("anthropic-beta", ",".join(["a"] * 17)),
        ("anthropic-beta", "a" * 65),
        ("openai-beta", "assistants=v2; ssn=078-05-1120"),
    ],
)
def test_values_that_can_carry_data_are_refused_naming_the_header(name: str, value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check({name: value})
    assert caught.value.param == name and caught.value.code == "invalid_header"
    assert value not in caught.value.message and "jane" not in caught.value.message.lower()


def test_the_allow_list_is_what_is_forwarded() -> None:
    assert set(FORWARDED_REQUEST_HEADERS) == {"anthropic-version", "anthropic-beta", "openai-beta"}


def test_accept_is_the_gateway_s_own() -> None:
    headers = {"accept": "application/json, x/4111111111111111", "anthropic-beta": "files-api-2025-04-14"}
    dest = Destination("openai", DestinationSettings(type="openai", jurisdiction="US"))
    assert upstream_headers(headers, dest, stream=True) == {
        "anthropic-beta": "files-api-2025-04-14",
        "accept": "text/event-stream",
        "content-type": "application/json",
    }
    assert upstream_headers(headers, dest, stream=False)["accept"] == "application/json"
