"""Request headers: the few that are forwarded, and the grammar each value must follow.

Headers are an allow-list: only those below reach a destination, and every other one (the gateway
key, cookies, ``x-stainless-*`` telemetry, ``user-agent``, forwarding headers, ``accept``) is dropped,
never refused, since the SDKs send them on every call.  ``accept`` is the gateway's own: JSON, or an
event stream for a streamed request.  A forwarded header is not scanned, so its value
must be one that cannot carry data: a value that breaks its grammar is a 400 naming the header,
never echoing the value.  ``openai-organization`` and ``openai-project`` choose whose account pays
and whose data policy applies; they come from the destination's config, never from the client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from gateway.errors import BadRequest

# A beta name: lowercase words joined by "-" ("prompt-caching", "context-1m", "assistants=v2"), with an
# optional trailing date ("-2024-07-31").  The words may hold a few digits ("3-5", "128k"), no more.
_BETA: Final = re.compile(r"[a-z][a-z0-9]*(?:[-_=.][a-z0-9]+)*", re.ASCII)
_BETA_DATE: Final = re.compile(r"-20[0-9]{2}-[01][0-9]-[0-3][0-9]$", re.ASCII)
_DATE: Final = re.compile(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", re.ASCII)
MAX_BETAS: Final = 16
MAX_BETA_LENGTH: Final = 64
MAX_BETA_DIGITS: Final = 4  # outside the trailing date


def _betas(value: str) -> bool:
    names = [name.strip() for name in value.split(",")]
    if len(names) > MAX_BETAS:
        return False
    for name in names:
        if not name or len(name) > MAX_BETA_LENGTH:
            return False
        words = _BETA_DATE.sub("", name)
        if not _BETA.fullmatch(words) or sum(c.isdigit() for c in words) > MAX_BETA_DIGITS:
            return False
    return True


def _date(value: str) -> bool:
    return _DATE.fullmatch(value.strip()) is not None


# Header -> (the grammar its value must follow, what to tell the client it should look like).
FORWARDED: Final[Mapping[str, tuple[Callable[[str], bool], str]]] = {
    "anthropic-version": (_date, "a date such as 2023-06-01"),
    "anthropic-beta": (_betas, f"a comma-separated list of at most {MAX_BETAS} beta names"),
    "openai-beta": (_betas, f"a comma-separated list of at most {MAX_BETAS} beta names"),
}
FORWARDED_REQUEST_HEADERS: Final = tuple(FORWARDED)


def check(headers: Mapping[str, str]) -> None:
    """Raise BadRequest naming the first forwarded header whose value breaks its grammar."""
    for name, (valid, shape) in FORWARDED.items():
        value = headers.get(name)
        if value is not None and not valid(value):
            raise BadRequest(
                f"The '{name}' header is not valid: it must be {shape}.",
                param=name,
                code="invalid_header",
            )
