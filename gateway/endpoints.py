"""The HTTP surface: which paths exist, which wire format each speaks, and how each
maps onto a destination type.  Everything not listed here is refused."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.errors import BadRequest, ModelNotFound, Wire
from gateway.settings import DestinationSettings

DestWire = Literal["openai", "anthropic"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    path: str
    method: str
    wire: Wire
    # Upstream path per destination wire format; a missing entry means "not served there".
    upstream: Mapping[DestWire, str]
    streams: bool = False


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "chat.completions",
        "/v1/chat/completions",
        "POST",
        "openai",
        {"openai": "/chat/completions", "anthropic": "/v1/messages"},
        streams=True,
    ),
    Endpoint("completions", "/v1/completions", "POST", "openai", {"openai": "/completions"}, streams=True),
    Endpoint("embeddings", "/v1/embeddings", "POST", "openai", {"openai": "/embeddings"}),
    Endpoint("responses", "/v1/responses", "POST", "openai", {"openai": "/responses"}, streams=True),
    Endpoint(
        "messages",
        "/v1/messages",
        "POST",
        "anthropic",
        {"anthropic": "/v1/messages", "openai": "/chat/completions"},
        streams=True,
    ),
    Endpoint(
        "messages.count_tokens",
        "/v1/messages/count_tokens",
        "POST",
        "anthropic",
        {"anthropic": "/v1/messages/count_tokens"},
    ),
    Endpoint("models", "/v1/models", "GET", "openai", {}),
)

ENDPOINTS_BY_PATH: Mapping[str, Endpoint] = {e.path: e for e in ENDPOINTS}


@dataclass(frozen=True, slots=True)
class Destination:
    name: str
    settings: DestinationSettings

    @property
    def wire(self) -> DestWire:
        # A local destination is reached through the OpenAI wire format.
        return "anthropic" if self.settings.type == "anthropic" else "openai"

    @property
    def jurisdiction(self) -> str:
        return self.settings.jurisdiction

    def serves(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.settings.models)


@dataclass(frozen=True, slots=True)
class Route:
    destination: Destination
    upstream_path: str
    upstream_model: str


class DestinationTable:
    """Maps a requested model to a destination by the ``models:`` globs, in config order."""

    def __init__(self, destinations: Mapping[str, DestinationSettings]) -> None:
        self._destinations = tuple(Destination(name, s) for name, s in destinations.items())
        self._literal = frozenset(
            m for s in destinations.values() for m in s.models if not any(c in m for c in "*?[")
        )

    def __iter__(self) -> Iterator[Destination]:
        return iter(self._destinations)

    def __len__(self) -> int:
        return len(self._destinations)

    def for_model(self, model: str) -> Destination | None:
        for dest in self._destinations:
            if dest.serves(model):
                return dest
        return None

    def lists(self, model: str) -> bool:
        """Whether ``model`` is named literally (not by a glob) in some destination's ``models:``."""
        return model in self._literal

    def local(self) -> Destination | None:
        """Where ``route_local`` sends: the first destination of type ``local``."""
        return next((d for d in self._destinations if d.settings.type == "local"), None)

    def route(self, endpoint: Endpoint, model: str) -> Route:
        dest = self.for_model(model)
        if dest is None:
            raise ModelNotFound(
                f"The model '{_printable(model)}' does not exist or is not served by this gateway.",
                param="model",
            )
        return self.route_to(dest, endpoint, model)

    def route_to(self, dest: Destination, endpoint: Endpoint, model: str) -> Route:
        path = endpoint.upstream.get(dest.wire)
        if path is None:
            raise BadRequest(
                f"{endpoint.path} is not available for model '{_printable(model)}': its destination "
                f"'{dest.name}' speaks the {dest.wire} format, which has no equivalent endpoint.",
                code="unsupported_endpoint",
                param="model",
            )
        return Route(dest, path, dest.settings.model or model)


def _printable(model: str) -> str:
    # Model names are identifiers, not content; still bound and sanitise them before echoing.
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in model[:100])
    return cleaned + ("..." if len(model) > 100 else "")
