"""The request path, in order.  This module is its table of contents.

    1 ingress    path/method allow-list, content type, bounded body, strict JSON
    2 auth       gateway key -> Principal
    3 dialect    forwarded headers' grammar; model, stream flag, every non-text field against the field
                 table (dialects.fields); the requested destination by the ``models:`` globs
    4 scan       every text-bearing part, several normalised views, all detectors; seams between
                 parts; a model name with a finding is refused
    5 policy     (principal, destination, findings) -> decision; block raises here
    6 transform  redact / hash / pseudonymize the matched values in the body (conversation-keyed tokens)
    7 route      route_local: the local destination, or 503; never the offshore one
    8 forward    to the destination through the shared client, provider key injected
    9 relay      answer back to the client, translated and streamed as needed; tokens restored and
                 values the user did not send handled by the response rules, as the text passes
   10 audit      one record per request, in ``finally``, whatever happened

Stages never call each other; this function calls them one after another.  Any
:class:`GatewayError` is rendered here, in the client's wire format; anything
else becomes a generic 500 whose log line names the exception class only, so no
request content can reach a traceback in the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway import ingress
from gateway.admission import Ticket
from gateway.asgi import Message, Receive, Scope, Send, header_map, send_bytes
from gateway.audit.record import audit_row
from gateway.auth import tried_key_id
from gateway.dialects import headers
from gateway.dialects.base import check_model_scan, read_request
from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    InternalError,
    PermissionDenied,
    ShuttingDown,
    error_body,
)
from gateway.exchange import Exchange, Principal
from gateway.policy.stage import decide_exchange, enforce, policy_headers
from gateway.relay import error_event, relay
from gateway.runtime import Runtime
from gateway.transform import continued
from gateway.transform.stage import answer_filter, continued_context, link_response, transform_request
from gateway.upstream.forward import build_outbound

log = logging.getLogger("gateway.request")

# nginx's "client closed request": recorded when the client left before any answer was sent.
CLIENT_CLOSED = 499


async def handle(rt: Runtime, scope: Scope, receive: Receive, send: Send) -> None:
    ex = Exchange(
        method=scope["method"],
        path=scope["path"],
        headers=header_map(scope),
        client_addr=_client_addr(scope, rt),
    )
    started = False
    answered = False
    ticket: Ticket | None = None

    async def tracking_send(message: Message) -> None:
        nonlocal started, answered
        if message["type"] == "http.response.start":
            started = True
        elif not message.get("more_body", False):
            answered = True
        await send(message)

    relaying = False

    async def stages() -> None:
        nonlocal ticket, relaying
        endpoint = ingress.match_endpoint(ex)
        if endpoint.name == "models":
            ex.principal = await _authenticate(rt, ex)
            await rt.models.respond(ex, tracking_send)
            return
        server = rt.settings.server
        declared = ingress.check_headers(ex, server.max_body_bytes)
        # Admission before any work: what the body may hold counts from here (its declared length, or
        # the limit when it has none).
        ticket = rt.admission.admit(server.max_body_bytes if declared is None else declared)
        ex.principal = await _authenticate(rt, ex)
        _may_send(rt, ex.principal)
        rt.admission.admit_key(ticket, ex.principal.key_id)
        headers.check(ex.headers)
        await ingress.read_body(ex, receive, server.max_body_bytes, server.body_timeout)
        body = ingress.parse_json(ex, server.max_json_depth, server.max_json_items)
        read_request(ex, body, rt.destinations.lists)
        ex.route = rt.destinations.route(endpoint, body["model"])
        # A turn that continues a stored one is scanned with the tail of the text it continues.
        context = await continued_context(ex, body, rt.vault)
        # One rule set (policy, term lists, fingerprints) for the whole request, scan and decision
        # alike, so a reload mid-request or mid-stream cannot split it in two.
        rules = rt.policies.current
        if rt.scanner is not None:
            scan_started = time.perf_counter()
            ex.scan = await rt.scanner.scan(
                endpoint.name,
                body,
                context,
                size=len(ex.raw_body),
                owner=ex.principal.key_id,
                lists=rules.lists,
            )
            ex.scan_ms = round((time.perf_counter() - scan_started) * 1000.0, 3)
        check_model_scan(ex, rt.destinations.lists)
        tail = continued.tail_of(context, ex.scan)
        policy = rules.policy
        ex.decision = await decide_exchange(ex, policy, rt.destinations, rt.sticky)
        await enforce(ex, ex.decision, rt.destinations, rt.sticky)
        done = await transform_request(ex, rt.secret, rt.surrogates, rt.vault)
        engine = rt.scanner.engine if rt.scanner is not None else None
        ex.answer = answer_filter(ex, done, engine, policy, rt.secret)
        local = rt.locals.get(ex.route.destination.name)
        with local.admit(ex.request_id) if local is not None else contextlib.nullcontext():
            outbound = build_outbound(ex, rt.settings.credentials, local)
            # Where it goes and why is on record before the first byte leaves; no record, no egress.
            await rt.audit.commit(audit_row(ex, rt.audit_key, "start"))
            relaying = True
            await _until_disconnect(
                ex,
                receive,
                relay(
                    ex,
                    rt.client,
                    outbound,
                    tracking_send,
                    rt.settings.upstream.total_timeout,
                    functools.partial(link_response, ex, done, rt.vault, tail),
                ),
                lambda: answered,
                rt.drain.cut,
                tracking_send,
                lambda: started,
            )

    try:
        await _before_cut(stages(), rt.drain.cut, lambda: relaying)
    except GatewayError as err:
        ex.error = err.code
        if not started and not ex.disconnected:
            await _send_error(ex, err, tracking_send)
    except Exception as exc:
        ex.error = "internal_error"
        log.error("request %s failed: %s", ex.request_id, type(exc).__name__)
        if not started and not ex.disconnected:
            await _send_error(ex, InternalError("The gateway failed to handle this request."), tracking_send)
    finally:
        if ticket is not None:
            rt.admission.release(ticket)
        if ex.disconnected and not started:
            ex.status = CLIENT_CLOSED
        if ex.error != "auth_throttled" or rt.admission.audit_throttled(ex.client_addr):
            rt.audit.submit(audit_row(ex, rt.audit_key))
        rt.metrics.observe(ex)
        log.info(
            "%s %s %s -> %s %s %.1fms",
            ex.request_id,
            ex.method,
            ex.endpoint.name if ex.endpoint else "unknown",
            ex.route.destination.name if ex.route else "-",
            ex.status,
            ex.elapsed_ms(),
        )


async def _authenticate(rt: Runtime, ex: Exchange) -> Principal:
    try:
        return await rt.keys.authenticate(ex.headers)
    except AuthenticationFailed:
        ex.tried_key_id = tried_key_id(ex.headers)
        throttled = rt.admission.auth_failed(ex.client_addr, ex.tried_key_id)
        if throttled is not None:
            raise throttled from None
        raise


def _may_send(rt: Runtime, principal: Principal) -> None:
    """Only roles the configuration lets send model traffic may: by default users, not the auditors
    who read the trail or the admins who manage keys (a stolen auditor key sends nothing)."""
    allowed = rt.settings.file.server.model_traffic_roles
    if principal.role not in allowed:
        raise PermissionDenied(
            f"A key with the role {principal.role!r} may not send model requests here; "
            f"roles that may: {', '.join(allowed)} (server.model_traffic_roles)."
        )


async def _send_error(ex: Exchange, err: GatewayError, send: Send) -> None:
    ex.status = err.http_status
    headers = {
        "x-request-id": ex.request_id,
        "request-id": ex.request_id,
        **policy_headers(ex.decision),
        **err.headers,
    }
    if not ex.raw_body and _declares_body(ex.headers):
        # Answered before the body was read: the server ends the connection after this answer (no
        # deadline covers a body nobody reads), so the client must not send another request on it.
        headers["connection"] = "close"
    body = error_body(err, ingress.wire_for(ex), ex.request_id)
    ex.response_bytes = len(body)
    await send_bytes(send, err.http_status, body, headers)


def _declares_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0").strip() not in ("", "0") or "transfer-encoding" in headers


async def _before_cut(work: Awaitable[None], cut: asyncio.Event, relaying: Callable[[], bool]) -> None:
    """Run the stages.  If the shutdown drain ends while they have not reached the relay (reading the
    body, scanning, deciding), stop them: nothing was sent, the client gets 503 ``shutting_down``.  The
    relay stage ends its own answer (``_until_disconnect``)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(cut.wait())
    try:
        done, _ = await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        if task in done or relaying():
            await task
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ShuttingDown(
            "The gateway is shutting down and its drain window ended before this request was sent; "
            "nothing was sent. Retry: another instance takes it.",
            headers={"connection": "close", "retry-after": "1"},
        )
    finally:
        await _cancel(task, waiter)


async def _until_disconnect(
    ex: Exchange,
    receive: Receive,
    work: Awaitable[None],
    answered: Callable[[], bool],
    cut: asyncio.Event,
    send: Send,
    started: Callable[[], bool],
) -> None:
    """Run ``work``; if the client disconnects first, cancel it (which closes the upstream request).
    If the shutdown drain ends first (``cut``), cancel it and end the answer in the client's format:
    an error event for a stream under way, a 503 for an answer not begun.

    Servers also report ``http.disconnect`` once the response is complete; that is not the client
    leaving, so the work is then left to finish its clean-up.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    drained = asyncio.ensure_future(cut.wait())
    try:
        done, _ = await asyncio.wait((task, watcher, drained), return_when=asyncio.FIRST_COMPLETED)
        if task in done or answered():
            await task
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if watcher in done:
            ex.disconnected = True
            ex.error = ex.error or "client_disconnected"
            return
        err = ShuttingDown(
            "The gateway is shutting down and its drain window ended before this answer was complete. "
            f"Request id: {ex.request_id}.",
            headers={"connection": "close"},
        )
        if not started():
            raise err
        ex.error = err.code
        ex.truncated = True
        if not answered():
            tail = error_event(ex, err)
            ex.sent(tail)
            await send({"type": "http.response.body", "body": tail, "more_body": False})
    finally:
        await _cancel(task, watcher, drained)


async def _cancel(*tasks: asyncio.Future[Any]) -> None:
    """Cancel what is still running of ``tasks`` and wait for each to end."""
    for pending in tasks:
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _client_addr(scope: Scope, rt: Runtime) -> str | None:
    client = scope.get("client")
    peer = str(client[0]) if client else None
    proxies = rt.settings.server.trusted_proxies
    if not proxies:
        return peer
    forwarded = [value for name, value in scope["headers"] if name == b"x-forwarded-for"]
    return ingress.client_address(peer, forwarded, proxies)
