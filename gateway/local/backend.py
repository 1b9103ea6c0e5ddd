"""A local destination at run time: is it ready, where is it, and may one more request go to it?

Two kinds share this interface: :class:`RemoteServer`, any OpenAI-compatible server you run
(vLLM, SGLang, Ollama, llama-server, LM Studio), and the embedded engine
(:class:`gateway.local.engine.EmbeddedEngine`).  Either way the gateway refuses a request the
policy keeps local *before* sending anything when the destination is not ready or already has
``max_in_flight`` requests: 503 ``local_unavailable``, never another destination.

"Ready" for a server of your own means what a request needs: the configured model is listed by
``GET /models`` and a one-token completion answers.  A server that is up but still loading, or
serves another model, is not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from gateway.endpoints import Destination
from gateway.errors import LocalUnavailable, ServiceUnavailable
from gateway.upstream.client import auth_for

log = logging.getLogger("gateway.local")

PROBE_TIMEOUT = 10.0


class LocalBackend:
    """Readiness and admission for one local destination; subclasses keep ``_ready`` current."""

    def __init__(self, dest: Destination) -> None:
        self.dest = dest
        self._ready = False
        self._detail = "not checked yet"
        self._in_flight = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def detail(self) -> str:
        """Why it is not ready (for logs and /readyz); never request content."""
        return "ready" if self._ready else self._detail

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def auth(self) -> httpx.Auth:
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _set(self, ready: bool, detail: str) -> None:
        if ready != self._ready:
            if ready:
                log.info("local destination '%s' is ready", self.dest.name)
            else:
                log.warning("local destination '%s' is not ready: %s", self.dest.name, detail)
        self._ready, self._detail = ready, detail

    @contextlib.contextmanager
    def admit(self, request_id: str) -> Iterator[None]:
        """Hold one of the destination's ``max_in_flight`` places for the whole exchange."""
        name = self.dest.name
        if not self._ready:
            raise LocalUnavailable(
                f"The data policy keeps this request on the local model '{name}', which is not available "
                f"right now ({self._detail}), so it was not sent anywhere. Request id: {request_id}."
            )
        if self._in_flight >= self.dest.settings.max_in_flight:
            raise LocalUnavailable(
                f"The data policy keeps this request on the local model '{name}', which is at capacity "
                f"({self._in_flight} requests in flight), so it was not sent anywhere. Retry shortly. "
                f"Request id: {request_id}.",
                headers={"retry-after": "1"},
            )
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    async def probe(self, client: httpx.AsyncClient, model: str | None) -> str | None:
        """None when the server lists ``model`` (any model when None) and answers one token; else why not."""
        base, auth = self.base_url, self.auth()
        try:
            listed = await client.get(f"{base}/models", auth=auth, timeout=PROBE_TIMEOUT)
            if listed.status_code != 200:
                return f"GET /models answered HTTP {listed.status_code}"
            ids = _model_ids(listed.json())
            if model is not None and model not in ids:
                return f"the model '{model}' is not listed by the server"
            if not ids:
                return "the server lists no model"
            body = {
                "model": model or ids[0],
                "messages": [{"role": "user", "content": "ping"}],
                "max_tokens": 1,
                "temperature": 0,
            }
            url = f"{base}/chat/completions"
            answer = await client.post(url, json=body, auth=auth, timeout=PROBE_TIMEOUT)
            if answer.status_code != 200:
                return f"a one-token probe answered HTTP {answer.status_code}"
            if not isinstance(answer.json().get("choices"), list):
                return "a one-token probe answered without choices"
        except httpx.TimeoutException:
            return "the readiness probe timed out"
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        except (ValueError, AttributeError):
            return "the server answered the probe with something that is not OpenAI JSON"
        return None


def _model_ids(payload: Any) -> list[str]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("no model list")
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


class RemoteServer(LocalBackend):
    """An OpenAI-compatible server at ``base_url``, probed every ``probe_interval`` seconds."""

    def __init__(self, dest: Destination, client: httpx.AsyncClient, credentials: Mapping[str, str]) -> None:
        super().__init__(dest)
        assert dest.settings.base_url is not None
        self._base = dest.settings.base_url
        self._client = client
        try:
            self._auth: httpx.Auth | None = auth_for(dest, credentials)
        except ServiceUnavailable as exc:
            self._auth, self._detail = None, exc.message

    @property
    def base_url(self) -> str:
        return self._base

    def auth(self) -> httpx.Auth:
        assert self._auth is not None
        return self._auth

    async def start(self) -> None:
        if self._auth is None:
            return  # never ready: its key is not set (the detail says which variable)
        # The first answer is awaited so that a gateway that says it is up can route local at once;
        # a server that is down at start-up is not fatal (it may start later), it is just not ready.
        await self.check()
        self._task = asyncio.create_task(self._watch())

    async def check(self) -> None:
        problem = await self.probe(self._client, self.dest.settings.model)
        self._set(problem is None, problem or "ready")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.dest.settings.probe_interval)
            await self.check()
