"""Stage 1: accept a request.  Path and method allow-list, content type, bounded body, JSON.

The body is read chunk by chunk and refused as soon as it passes the limit, so an
oversized upload never sits in memory whole.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import re
from collections.abc import Sequence
from typing import Any

from gateway.asgi import Receive
from gateway.endpoints import ENDPOINTS, ENDPOINTS_BY_PATH, Endpoint
from gateway.errors import (
    BadRequest,
    InvalidJSON,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    Wire,
)
from gateway.exchange import Exchange


def wire_for(ex: Exchange) -> Wire:
    """The wire format to answer in, also for paths that do not exist."""
    if ex.endpoint is not None:
        return ex.endpoint.wire
    if "anthropic-version" in ex.headers or "x-api-key" in ex.headers:
        return "anthropic"
    return "openai"


def match_endpoint(ex: Exchange) -> Endpoint:
    path = ex.path.rstrip("/") or "/"
    endpoint = ENDPOINTS_BY_PATH.get(path)
    if endpoint is None and path.startswith("/v1/models/"):
        endpoint = ENDPOINTS_BY_PATH["/v1/models"]
    if endpoint is None:
        raise NotFound(
            f"Unknown path: {ex.method} requests are only accepted on {_listing()}.", code="unknown_path"
        )
    ex.endpoint = endpoint
    if ex.method != endpoint.method:
        raise MethodNotAllowed(
            f"{endpoint.path} accepts {endpoint.method} only.", headers={"allow": endpoint.method}
        )
    return endpoint


def check_headers(ex: Exchange, max_bytes: int) -> int | None:
    """Content type and declared length; returns the declared length (None: the body is chunked)."""
    content_type = ex.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaType("Content-Type must be application/json.")
    length = ex.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise BadRequest("Content-Length is not a number.") from None
        if declared < 0:
            raise BadRequest("Content-Length is negative.")
        if declared > max_bytes:
            raise PayloadTooLarge(_too_large(max_bytes))
        return declared
    return None


async def read_body(ex: Exchange, receive: Receive, max_bytes: int, timeout: float) -> None:
    """The whole body within ``timeout`` seconds (a client dripping it a byte at a time holds a slot
    and a socket: 408, and the connection closed)."""
    try:
        async with asyncio.timeout(timeout):
            await _read_body(ex, receive, max_bytes)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body did not arrive within {timeout:g} s.", headers={"connection": "close"}
        ) from None


async def _read_body(ex: Exchange, receive: Receive, max_bytes: int) -> None:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            ex.disconnected = True
            raise BadRequest(
                "The client went away before sending the whole body.", code="client_disconnected"
            )
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(_too_large(max_bytes))
        chunks.append(chunk)
        more = message.get("more_body", False)
    ex.raw_body = chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_json(ex: Exchange, max_depth: int = 64, max_items: int = 100_000) -> dict[str, Any]:
    """The body, parsed strictly: what the gateway scans must be what the destination reads.  Refused:
    ``NaN``/``Infinity`` (not JSON; parsers disagree on them), integers beyond +/-2^53 and floats that
    overflow (two parsers read them differently), lone UTF-16 surrogates (not text; encoders drop or
    replace them), repeated keys, and nesting deeper than ``max_depth`` or more than ``max_items``
    values (400 ``request_too_complex``: every later stage walks the body)."""
    if not ex.raw_body:
        raise InvalidJSON("The request body is empty; expected a JSON object.")
    if len(ex.raw_body) > _PRECHECK_BYTES and _separators(ex.raw_body) > _SEPARATORS_PER_ITEM * max_items:
        # Parsing runs on the event loop and holds the GIL: a body of millions of tiny values would
        # stall every other request for seconds before the count below refused it.  Commas in text
        # count too, hence the margin.
        raise _too_complex(f"more than {max_items} values in the JSON body")
    try:
        # JSON on the wire is UTF-8 (RFC 8259); json.loads on bytes would also guess UTF-16/32.
        body = json.loads(
            ex.raw_body.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_int=_safe_int,
            parse_float=_finite_float,
        )
    except UnicodeDecodeError:
        raise InvalidJSON("The request body is not valid UTF-8.") from None
    except DuplicateKey as exc:
        raise InvalidJSON(f"The request body repeats the key '{exc.key}' in one object.") from None
    except UnsafeNumber as exc:
        raise InvalidJSON(f"The request body holds {exc}.") from None
    except RecursionError:
        raise _too_complex(f"JSON nested deeper than {max_depth} levels") from None
    except json.JSONDecodeError as exc:
        # The decoder's message names a position, never the text around it.
        raise InvalidJSON(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    if not isinstance(body, dict):
        kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(body), "number")
        raise InvalidJSON(f"The request body must be a JSON object, not a JSON {kind}.")
    problem = _shape_problem(body, max_depth, max_items)
    if problem is not None:
        raise _too_complex(problem)
    if _SURROGATE_ESCAPE.search(ex.raw_body) and _has_lone_surrogate(body):
        raise InvalidJSON(
            "The request body holds a lone UTF-16 surrogate (\\uD800-\\uDFFF), which is not text."
        )
    ex.body = body
    return body


# Integers a JSON number may hold without two parsers disagreeing (JavaScript's safe range).
MAX_SAFE_INTEGER = 2**53
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


class UnsafeNumber(ValueError):
    """A number two parsers would read differently, or one JSON does not have."""


def _no_constant(name: str) -> Any:
    raise UnsafeNumber(f"'{name}', which is not a JSON number")


def _safe_int(text: str) -> int:
    if len(text) > 17 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise UnsafeNumber(f"an integer beyond +/-2^53 ({MAX_SAFE_INTEGER})")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeNumber("a number too large to represent")
    return value


_PRECHECK_BYTES = 1 << 20
_SEPARATORS_PER_ITEM = 4


def _separators(raw: bytes) -> int:
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{")


def _too_complex(problem: str) -> BadRequest:
    return BadRequest(f"The request cannot be inspected: {problem}.", code="request_too_complex")


def _shape_problem(body: Any, max_depth: int, max_items: int) -> str | None:
    """Why the body is too deep or too big to walk, or None.  Iterative: depth costs no stack."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    items = 0
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return f"JSON nested deeper than {max_depth} levels"
        items += len(children)
        if items > max_items:
            return f"more than {max_items} values in the JSON body"
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return None


def _has_lone_surrogate(node: Any) -> bool:
    """Whether any string or key holds a surrogate that did not pair up (json pairs the valid ones)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key[:64]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins; a destination could act on a value the
    # gateway never looked at.  Refuse the ambiguity instead of picking a side.
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return result


def _too_large(max_bytes: int) -> str:
    return f"The request body is larger than this gateway's limit of {max_bytes} bytes."


def _listing() -> str:
    return ", ".join(f"{e.method} {e.path}" for e in ENDPOINTS)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str | None, forwarded: Sequence[bytes], proxies: Sequence[Network]) -> str | None:
    """Who sent the request: the socket ``peer``, unless it is one of our ``proxies``; then the
    rightmost ``X-Forwarded-For`` address (several headers read as one list) that is not one of
    them.  Entries left of it are whatever the client wrote, and are never believed."""
    if not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.decode("latin-1").split(",")]
    address = peer
    for hop in reversed(hops):
        if not hop:
            continue
        if not _is_address(hop):
            break  # garbage a client wrote: the last proxy that handed it on is who we know
        address = hop
        if not _trusted(hop, proxies):
            break
    return address


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _trusted(address: str | None, proxies: Sequence[Network]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # not an address (a name, garbage): never a proxy of ours
    return any(ip in network for network in proxies)
