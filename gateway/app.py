"""The ASGI application: lifespan, health endpoints, and the proxy pipeline for everything else."""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import Callable

import httpx
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp

from gateway import pipeline
from gateway.asgi import Receive, Scope, Send, header_map, send_bytes, send_json
from gateway.audit.record import event_row
from gateway.database import ping
from gateway.metrics import CONTENT_TYPE as METRICS_TYPE
from gateway.metrics_merge import WorkerMetrics, merge
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.web import build_audit_app

log = logging.getLogger("gateway")


class GatewayApp:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._runtime: Runtime | None = None
        self._hangup: Callable[[], None] | None = None
        self._audit_ui: ASGIApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError(
                "the gateway has not started: run it under an ASGI server with lifespan enabled"
            )
        return self._runtime

    async def startup(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._runtime = await Runtime.start(self.settings, self._transport)
        self._hangup = _on_hangup(self._runtime)
        self._audit_ui = build_audit_app(self._runtime.engine, self._runtime.keys, self._runtime.secret)

    def request_drain(self) -> None:
        """Begin the shutdown drain (see ``admission.Drain``).  Safe from a signal handler or another
        thread: the work is handed to the event loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._begin_drain)

    def _begin_drain(self) -> None:
        if self._runtime is not None:
            self._runtime.drain.begin()

    def client_cut(self, reason: str) -> None:
        """The server cut a client connection (``gateway.serving``): counted, and on the audit trail,
        except a connection closed before it sent a byte (pre-connecting clients do that all day)."""
        rt = self._runtime
        if rt is not None:
            rt.metrics.cut(reason)
            if reason != "idle_connection":
                rt.audit.submit(event_row("client.cut", policy_version=None, error=reason))

    async def shutdown(self) -> None:
        self._audit_ui = None
        if self._hangup is not None:
            self._hangup()
            self._hangup = None
        if self._runtime is not None:
            await self._runtime.close()
            self._runtime = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            path = scope["path"]
            if path in ("/healthz", "/readyz"):
                # Probes carry no key, so they say only what an orchestrator needs.
                if scope["method"] not in ("GET", "HEAD"):
                    await send_json(send, 405, {"status": "method not allowed"}, {"allow": "GET"})
                elif path == "/healthz":
                    await send_json(send, 200, {"status": "ok"})
                else:
                    await self._ready(send)
            elif path == "/metrics" and self.settings.file.metrics.enabled:
                await self._metrics(scope, send)
            elif (path == "/audit" or path.startswith("/audit/")) and self._audit_ui is not None:
                await self._audit_ui(scope, receive, send)  # the review pages (gateway/web)
            else:
                await pipeline.handle(self.runtime, scope, receive, send)
        # Websockets and other scope types are not part of the surface; returning refuses them.

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    # Name the failure without the database URL, which may hold a password.
                    await send(
                        {"type": "lifespan.startup.failed", "message": f"startup failed: {exc!r}"[:500]}
                    )
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _metrics(self, scope: Scope, send: Send) -> None:
        """Prometheus scrape: counts, latencies and destination names, no request content.

        Open unless ``metrics.token_env`` is set (scrapers rarely carry keys); then a bearer token is
        required, and with the variable unset every scrape is refused rather than served openly."""
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(send, 405, {"status": "method not allowed"}, {"allow": "GET"})
            return
        if self.settings.file.metrics.token_env is not None:
            expected = self.settings.metrics_token
            if expected is None:
                await send_json(send, 503, {"status": "metrics token not configured"})
                return
            given = header_map(scope).get("authorization", "")
            scheme, _, token = given.partition(" ")
            # Constant time, on bytes: header values are latin-1 decoded raw bytes, so re-encoding them
            # gives what the client sent, which for a non-ASCII token is its UTF-8.
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode("latin-1"), expected.encode("utf-8")
            ):
                await send_json(send, 401, {"status": "unauthorized"}, {"www-authenticate": "Bearer"})
                return
        body = self.runtime.metrics.render()
        if self.settings.worker_dir is not None:
            # One scrape, every worker: the others' latest snapshots merged into totals.
            peers = await asyncio.to_thread(WorkerMetrics(self.settings.worker_dir).peers)
            body = merge(body, peers)
        await send_bytes(send, 200, body, {}, METRICS_TYPE)

    async def _ready(self, send: Send) -> None:
        rt = self.runtime
        checks: dict[str, object] = {}
        ok = True
        if rt.drain.draining:
            # Shutting down: an orchestrator must stop sending traffic here at once.
            await send_json(send, 503, {"status": "shutting down"})
            return
        if rt.scanner is not None:
            # A scan stuck past its deadline fails readiness.  A full queue is reported, not failed:
            # whoever can fill it on every replica would otherwise take them all out of the load
            # balancer at once; shedding with Retry-After answers load.
            stuck, saturated = rt.scanner.stuck(), rt.scanner.saturated()
            checks["scan"] = "stuck" if stuck else "saturated" if saturated else "ok"
            ok = not stuck
        try:
            await asyncio.to_thread(ping, rt.engine)
            checks["database"] = "ok"
        except SQLAlchemyError as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
            ok = False
        # A database that answers reads but takes no writes (read-only, full, a file it cannot
        # change) refuses every model request: not ready until the audit writer's probe gets through.
        checks["audit"] = "ok" if rt.audit.available else "unavailable"
        ok = ok and rt.audit.available
        checks["destinations"] = len(rt.destinations)
        # Counted, not named: the probe is unauthenticated.  Destinations without a key answer 503.
        checks["destinations_without_credentials"] = sum(
            1
            for dest in rt.destinations
            if dest.name not in rt.settings.credentials and dest.settings.api_key_env is not None
        )
        # A local destination that is down does not make the gateway unready: other traffic flows, and
        # what the policy keeps local is refused with 503 until it is back.  Counted for monitoring.
        checks["local_ready"] = sum(1 for b in rt.locals.values() if b.ready)
        checks["local_not_ready"] = sum(1 for b in rt.locals.values() if not b.ready)
        if not len(rt.destinations):
            ok = False
        await send_json(send, 200 if ok else 503, {"status": "ready" if ok else "not ready", **checks})


def _on_hangup(rt: Runtime) -> Callable[[], None] | None:
    """Reload the policy on SIGHUP, the signal daemons conventionally re-read their configuration on.

    Returns the undo, or None where no handler can be installed (not the main thread, not POSIX):
    the file watch still reloads there."""
    loop = asyncio.get_running_loop()

    def reload() -> None:
        loop.run_in_executor(None, rt.policies.reload)

    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (AttributeError, NotImplementedError, RuntimeError, ValueError):
        return None

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo


def create_app(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> GatewayApp:
    return GatewayApp(settings, transport)
