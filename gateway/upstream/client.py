"""Stage 8: one shared ``httpx.AsyncClient`` for every destination.

The transport is injectable (``create_app(settings, transport=...)``) so tests can
put an ``httpx.MockTransport`` or a loopback server behind it.  Foreign errors are
translated into the gateway's hierarchy in one place, :func:`upstream_errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from gateway.dialects.headers import FORWARDED_REQUEST_HEADERS
from gateway.endpoints import Destination
from gateway.errors import GatewayError, LocalUnavailable, ServiceUnavailable, UpstreamError, UpstreamTimeout
from gateway.settings import UpstreamSettings
from gateway.upstream.credentials import AnthropicKey, BearerKey, NoKey
from gateway.upstream.transport import LeanTransport

# Provider headers worth passing back to the client: rate-limit state lets SDKs back off properly.
RETURNED_RESPONSE_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "retry-after")

MAX_UPSTREAM_BODY = 64 * 1024 * 1024


def make_client(settings: UpstreamSettings, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.write_timeout,
        pool=settings.connect_timeout,
    )
    if transport is None:
        transport = LeanTransport(
            max_connections=settings.max_connections, keepalive_expiry=settings.keepalive_expiry
        )
    return httpx.AsyncClient(
        timeout=timeout,
        transport=transport,
        follow_redirects=False,
        trust_env=False,
    )


def auth_for(dest: Destination, credentials: Mapping[str, str]) -> httpx.Auth:
    key = credentials.get(dest.name)
    if key is None:
        if dest.settings.api_key_env is None:
            return NoKey()
        raise ServiceUnavailable(
            f"Destination '{dest.name}' has no provider key: the gateway's "
            f"{dest.settings.api_key_env} environment variable is not set.",
            code="destination_not_configured",
        )
    return AnthropicKey(key) if dest.wire == "anthropic" else BearerKey(key)


def upstream_headers(client_headers: Mapping[str, str], dest: Destination, *, stream: bool) -> dict[str, str]:
    """The client's allow-listed headers (their values checked by ``dialects.headers.check`` at stage 3),
    the gateway's own ``accept``, and the account headers the destination's config names: never the
    client's own."""
    headers = {name: client_headers[name] for name in FORWARDED_REQUEST_HEADERS if name in client_headers}
    headers["accept"] = "text/event-stream" if stream else "application/json"
    if dest.wire == "openai":
        if dest.settings.organization:
            headers["openai-organization"] = dest.settings.organization
        if dest.settings.project:
            headers["openai-project"] = dest.settings.project
    headers["content-type"] = "application/json"
    return headers


def returned_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith(RETURNED_RESPONSE_PREFIXES)
    }


@asynccontextmanager
async def upstream_call(dest: Destination, deadline: float) -> AsyncIterator[None]:
    """Bound a call (stream included) by the total deadline, a loop time, and translate its errors.

    A read timeout alone never fires on a slow drip of bytes; the deadline does.
    """
    try:
        try:
            async with asyncio.timeout_at(deadline), upstream_errors(dest):
                yield
        except TimeoutError:
            raise UpstreamTimeout(
                f"Destination '{dest.name}' did not finish within the gateway's total deadline.",
                code="upstream_deadline",
            ) from None
    except (UpstreamError, ServiceUnavailable) as err:
        if dest.settings.type != "local" or isinstance(err, LocalUnavailable):
            raise
        raise local_failure(dest, err) from None


def local_failure(dest: Destination, err: GatewayError) -> LocalUnavailable:
    """A local destination that fails is unavailable, in the client's terms and in the audit record:
    the request stays unanswered rather than going anywhere else."""
    return LocalUnavailable(
        f"The local model '{dest.name}' failed while handling this request ({err.message}) It was not sent "
        "to any other destination."
    )


@asynccontextmanager
async def upstream_errors(dest: Destination) -> AsyncIterator[None]:
    """Translate transport failures into gateway errors that name the destination, not the URL."""
    name = dest.name
    try:
        yield
    except httpx.ConnectTimeout:
        raise UpstreamTimeout(
            f"Timed out connecting to destination '{name}'.", code="upstream_connect_timeout"
        ) from None
    except httpx.ReadTimeout:
        raise UpstreamTimeout(f"Destination '{name}' stopped sending data (read timeout).") from None
    except httpx.TimeoutException:
        raise UpstreamTimeout(f"Timed out talking to destination '{name}'.") from None
    except httpx.ConnectError:
        raise UpstreamError(
            f"Could not connect to destination '{name}'.", code="upstream_unreachable"
        ) from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
        raise UpstreamError(
            f"The connection to destination '{name}' broke before the answer was complete.",
            code="upstream_disconnected",
        ) from None
    except httpx.HTTPError as exc:
        raise UpstreamError(
            f"Request to destination '{name}' failed ({type(exc).__name__}).", code="upstream_failed"
        ) from None
