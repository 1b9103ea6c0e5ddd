"""Stages 8-9, answer side: send the request upstream and relay the answer to the client.

Non-streamed answers are read (bounded), translated if needed and sent whole.
Streamed answers are relayed event by event as they arrive; once the client has
its 200, any failure (cut connection, deadline, provider error event, a stream
that ends early) becomes an error event in the client's own format.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from gateway.asgi import JSON_TYPE, SSE_TYPE, Send, encode_headers, send_bytes
from gateway.dialects import translate_response, translate_stream
from gateway.dialects.base import StreamAdapter, usage_from
from gateway.dialects.passthrough import AnthropicPassThrough, OpenAIPassThrough, ResponsesPassThrough
from gateway.dialects.sse import SSEParser, json_event
from gateway.errors import GatewayError, InternalError, UpstreamError, error_event_payload
from gateway.exchange import Exchange
from gateway.jsonwire import dumps_bytes
from gateway.policy.stage import policy_headers
from gateway.transform.answer import filter_error, filter_payload, is_protocol
from gateway.transform.answer_stream import AnswerStream
from gateway.upstream.client import MAX_UPSTREAM_BODY, returned_headers, upstream_call
from gateway.upstream.forward import Outbound
from gateway.upstream.replies import error_for_status
from gateway.upstream.transport import RETRY_STALE

_ERROR_BODY_MAX = 1024 * 1024

log = logging.getLogger("gateway.relay")


OnResponseId = Callable[[str], Awaitable[None]]


async def relay(
    ex: Exchange,
    client: httpx.AsyncClient,
    outbound: Outbound,
    send: Send,
    total_timeout: float,
    on_response_id: OnResponseId | None = None,
) -> None:
    """``on_response_id`` runs before the client receives the destination's answer id, so a client
    that continues the conversation at once finds what it needs (the vault link) already written."""
    assert ex.route is not None
    dest = ex.route.destination
    deadline = asyncio.get_running_loop().time() + total_timeout
    request = client.build_request(
        "POST",
        outbound.url,
        content=outbound.content,
        headers=outbound.headers,
        extensions={RETRY_STALE: dest.settings.type == "local"},
    )
    sent_at = time.perf_counter()
    async with upstream_call(dest, deadline):
        response = await client.send(request, auth=outbound.auth, stream=True)
    ex.upstream_ms = round((time.perf_counter() - sent_at) * 1000.0, 3)
    try:
        if response.status_code >= 400:
            async with upstream_call(dest, deadline):
                body = await _read_bounded(response, _ERROR_BODY_MAX)
            assert ex.endpoint is not None
            raise guarded(
                ex,
                error_for_status(
                    dest, response.status_code, body, returned_headers(response), ex.endpoint.wire
                ),
            )
        if ex.stream:
            await _relay_stream(ex, response, outbound, send, deadline, on_response_id)
        else:
            async with upstream_call(dest, deadline):
                body = await _read_bounded(response, MAX_UPSTREAM_BODY)
            await _relay_whole(ex, response, body, send, on_response_id)
    finally:
        await response.aclose()


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UpstreamError(
                "The destination's answer exceeded the gateway's size limit.", code="upstream_too_large"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _response_headers(ex: Exchange, upstream: httpx.Response) -> dict[str, str]:
    assert ex.route is not None
    headers = returned_headers(upstream)
    headers["x-request-id"] = ex.request_id
    headers["request-id"] = ex.request_id
    headers["x-gateway-destination"] = ex.route.destination.name
    headers.update(policy_headers(ex.decision))
    return headers


async def _relay_whole(
    ex: Exchange, upstream: httpx.Response, body: bytes, send: Send, on_response_id: OnResponseId | None
) -> None:
    assert ex.endpoint is not None and ex.route is not None
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise UpstreamError(
            f"Destination '{ex.route.destination.name}' sent an answer that is not JSON.",
            code="upstream_bad_body",
        ) from None
    if ex.route.destination.wire != ex.endpoint.wire:
        try:
            if ex.endpoint.wire == "anthropic":
                payload = translate_response.openai_response_to_anthropic(payload)
            else:
                payload = translate_response.anthropic_response_to_openai(payload, created=int(time.time()))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise UpstreamError(
                f"Destination '{ex.route.destination.name}' sent an answer the gateway cannot translate.",
                code="upstream_bad_body",
            ) from None
        body = dumps_bytes(payload)
    if ex.endpoint.name == "responses" and isinstance(payload, dict) and isinstance(payload.get("id"), str):
        ex.response_id = payload["id"]
    if ex.answer is not None:
        filtered = filter_payload(payload, ex.answer)
        if filtered != payload:  # an embeddings answer of untouched vectors is not re-encoded
            payload, body = filtered, dumps_bytes(filtered)
    ex.usage = usage_from(payload)
    if ex.response_id is not None and on_response_id is not None:
        await on_response_id(ex.response_id)
    ex.status = upstream.status_code
    ex.sent(body)
    await send_bytes(send, upstream.status_code, body, _response_headers(ex, upstream), JSON_TYPE)


def stream_adapter(ex: Exchange, outbound: Outbound) -> StreamAdapter:
    assert ex.endpoint is not None and ex.route is not None
    client_wire, dest_wire = ex.endpoint.wire, ex.route.destination.wire
    if client_wire != dest_wire:
        if client_wire == "anthropic":
            return translate_stream.OpenAIToAnthropicStream()
        return translate_stream.AnthropicToOpenAIStream(
            include_usage=outbound.client_include_usage, created=int(time.time())
        )
    if ex.endpoint.name == "responses":
        return ResponsesPassThrough()
    if client_wire == "anthropic":
        return AnthropicPassThrough()
    local = ex.route.destination.settings.type == "local"
    return OpenAIPassThrough(strip_usage=outbound.strip_usage, local_quirks=local)


async def _relay_stream(
    ex: Exchange,
    upstream: httpx.Response,
    outbound: Outbound,
    send: Send,
    deadline: float,
    on_response_id: OnResponseId | None,
) -> None:
    assert ex.route is not None and ex.endpoint is not None
    dest = ex.route.destination
    adapter = stream_adapter(ex, outbound)
    answer = AnswerStream(ex.endpoint.name, ex.answer) if ex.answer is not None else None
    headers = _response_headers(ex, upstream)
    headers["cache-control"] = "no-cache"
    raw_headers = [(b"content-type", SSE_TYPE), *encode_headers(headers)]
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    ex.status = 200
    parser = SSEParser()
    try:
        async with upstream_call(dest, deadline):
            async for chunk in upstream.aiter_bytes():
                try:
                    out = [e for event in parser.feed(chunk) for e in adapter.feed(event)]
                    if answer is not None:
                        out = [e for event in out for e in answer.feed(event)]
                except (ValueError, KeyError, TypeError, AttributeError):
                    # The headers are gone already: a stream we cannot read ends with an error event,
                    # never with a connection cut the client cannot explain.
                    raise UpstreamError(
                        f"Destination '{dest.name}' sent a stream event the gateway cannot read.",
                        code="upstream_bad_stream",
                    ) from None
                if ex.response_id is None:
                    found = answer.response_id if answer is not None else None
                    ex.response_id = found or getattr(adapter, "response_id", None)
                    if ex.response_id is not None and on_response_id is not None:
                        await on_response_id(ex.response_id)
                if out:
                    data = b"".join(e.encode() for e in out)
                    ex.sent(data)
                    await send({"type": "http.response.body", "body": data, "more_body": True})
        if not adapter.finished:
            raise UpstreamError(
                f"Destination '{dest.name}' ended the stream before the answer was complete.",
                code="upstream_truncated",
            )
        finished = adapter.finish()
        if answer is not None:
            finished = [e for event in finished for e in answer.feed(event)]
        tail = b"".join(e.encode() for e in finished)
    except GatewayError as err:
        ex.truncated = True
        err = guarded(ex, err)
        ex.error = err.code
        tail = error_event(ex, err)
    except Exception as exc:
        ex.truncated = True
        ex.error = "internal_error"
        log.error("request %s: stream relay failed: %s", ex.request_id, type(exc).__name__)
        tail = error_event(ex, InternalError("The gateway failed while relaying the stream."))
    finally:
        ex.usage.input_tokens = adapter.input_tokens
        ex.usage.output_tokens = adapter.output_tokens
        if answer is not None:
            ex.dropped_events += answer.dropped
    ex.sent(tail)
    await send({"type": "http.response.body", "body": tail, "more_body": False})


def guarded(ex: Exchange, err: GatewayError) -> GatewayError:
    """An error that quotes the destination, read by the answer guard (strictly: every value found is
    replaced, the user's own too; pseudonym tokens restored) before the client sees it."""
    if ex.answer is None or not err.quotes_destination:
        return err
    # The code, param and type the destination chose travel too: protocol words, or the gateway's own.
    if not is_protocol(err.code):
        err.code = "upstream_rejected"
    if err.param is not None and not is_protocol(err.param):
        err.param = None
    if not is_protocol(err.openai_type):
        err.openai_type = type(err).openai_type
    err.message = ex.answer.error_text(err.message)
    if err.upstream_body is not None:
        err.upstream_body = filter_error(err.upstream_body, ex.answer)
    return err


def error_event(ex: Exchange, err: GatewayError) -> bytes:
    """``err`` as the event that ends a stream in the client's format (its SDK raises on it)."""
    assert ex.endpoint is not None
    name, payload = error_event_payload(err, ex.endpoint.wire, ex.request_id)
    if ex.endpoint.name == "responses":
        # The Responses API names its error events; the SDK raises on any event carrying "error".
        name = "error"
        payload = {"type": "error", "code": err.code, "message": err.message, **payload}
    return json_event(payload, event=name).encode()
