"""Stage 8, request side: the body and headers that go to the destination.

The client's bytes are forwarded untouched unless something must change (the
wire format, the model name, or a usage chunk we need for the audit), so the
common case costs no re-serialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.dialects import translate_request
from gateway.errors import BadRequest
from gateway.exchange import Exchange
from gateway.jsonwire import dumps_bytes
from gateway.local.backend import LocalBackend
from gateway.upstream.client import auth_for, upstream_headers

_USAGE_STREAM_ENDPOINTS = frozenset({"chat.completions", "completions"})


@dataclass(frozen=True, slots=True)
class Outbound:
    url: str
    content: bytes
    headers: dict[str, str]
    auth: httpx.Auth
    # The gateway asked for a usage chunk the client did not; the relay drops it again.
    strip_usage: bool
    # What the client asked for in an OpenAI stream it will receive (translated streams).
    client_include_usage: bool


def build_outbound(
    ex: Exchange, credentials: Mapping[str, str], local: LocalBackend | None = None
) -> Outbound:
    """``local``: the destination's backend when it is a local one (it knows where the engine listens)."""
    assert ex.route is not None and ex.endpoint is not None and ex.body is not None
    route, endpoint, body = ex.route, ex.endpoint, ex.body
    dest = route.destination
    auth = local.auth() if local is not None else auth_for(dest, credentials)
    base_url = local.base_url if local is not None else dest.settings.base_url
    client_usage = _include_usage(body)
    changed = ex.rewritten  # the policy changed values: the original bytes must never be sent
    if dest.wire != endpoint.wire:
        try:
            if endpoint.wire == "anthropic":
                body = translate_request.anthropic_request_to_openai(body)
                param = dest.settings.max_tokens_param
                if param != "max_tokens" and "max_tokens" in body:
                    body[param] = body.pop("max_tokens")
            else:
                body = translate_request.openai_request_to_anthropic(body)
        except ValueError as exc:
            raise BadRequest(
                f"This request cannot be sent to destination '{dest.name}', which speaks the {dest.wire} "
                f"format: {exc}",
                code="untranslatable_request",
            ) from None
        changed = True
    if body.get("model") != route.upstream_model:
        body = {**body, "model": route.upstream_model}
        changed = True
    strip_usage = False
    if ex.stream and dest.wire == "openai" and endpoint.name in _USAGE_STREAM_ENDPOINTS and not client_usage:
        options = body.get("stream_options")
        if not isinstance(options, dict):
            options = {}
        body = {**body, "stream_options": {**options, "include_usage": True}}
        strip_usage = changed = True
    content = dumps_bytes(body) if changed else ex.raw_body
    return Outbound(
        url=f"{base_url}{route.upstream_path}",
        content=content,
        headers=upstream_headers(ex.headers, dest, stream=ex.stream),
        auth=auth,
        strip_usage=strip_usage,
        client_include_usage=client_usage,
    )


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
