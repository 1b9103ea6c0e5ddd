"""Readiness and admission of a local OpenAI-compatible server, against an in-process fake server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from gateway.endpoints import Destination
from gateway.errors import LocalUnavailable
from gateway.local.backend import RemoteServer
from gateway.settings import DestinationSettings

T = TypeVar("T")
MODEL = "qwen3-30b-a3b"
KEY = "sk-local-test-0123456789"
# Whatever a server echoes back in an error body must not end up in the readiness detail.
CANARY = "CANARY-prompt-text Ågnetha Quillfeather"

Handler = Callable[[httpx.Request], httpx.Response]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def destination(*, api_key_env: str | None = None, max_in_flight: int = 2, **extra: Any) -> Destination:
    settings = DestinationSettings(
        type="local",
        base_url="http://local.test/v1",
        jurisdiction="LOCAL",
        model=MODEL,
        api_key_env=api_key_env,
        max_in_flight=max_in_flight,
        probe_interval=extra.pop("probe_interval", 3600),
        **extra,
    )
    return Destination("local", settings)


def completion(model: str = MODEL) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "p"}, "finish_reason": "length"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


class FakeServer:
    """An OpenAI-compatible server; each test bends one answer."""

    def __init__(self, *, models: tuple[str, ...] = (MODEL,)) -> None:
        self.models = models
        self.requests: list[httpx.Request] = []
        self.models_response: Handler | None = None
        self.chat_response: Handler | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "GET" and request.url.path == "/v1/models":
            if self.models_response is not None:
                return self.models_response(request)
            return httpx.Response(
                200, json={"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}
            )
        if request.method == "POST" and request.url.path == "/v1/chat/completions":
            if self.chat_response is not None:
                return self.chat_response(request)
            return httpx.Response(200, json=completion(json.loads(request.content)["model"]))
        return httpx.Response(404, json={"error": {"message": "not found"}})

    @property
    def probes(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/chat/completions")]


def checked(
    server: FakeServer, *, credentials: dict[str, str] | None = None, **dest: Any
) -> tuple[bool, str]:
    """(ready, detail) after start(), closed again."""

    async def scenario() -> tuple[bool, str]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            backend = RemoteServer(destination(**dest), client, credentials or {})
            await backend.start()
            try:
                return backend.ready, backend.detail
            finally:
                await backend.close()

    return run(scenario())


def assert_clean(detail: str) -> None:
    assert CANARY not in detail and "Quillfeather" not in detail
    assert "ping" not in detail  # the probe's own prompt
    assert KEY not in detail


# --- ready --------------------------------------------------------------------------------------


def test_ready_when_the_model_is_listed_and_the_probe_answers() -> None:
    server = FakeServer(models=("other-model", MODEL))
    ready, detail = checked(server, api_key_env="LOCAL_KEY", credentials={"local": KEY})
    assert (ready, detail) == (True, "ready")
    assert [(r.method, r.url.path) for r in server.requests] == [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
    ]
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.requests)
    (probe,) = server.probes
    assert probe["model"] == MODEL
    assert probe["max_tokens"] == 1
    assert probe.get("stream") in (None, False)


def test_without_a_key_setting_no_authorization_is_sent() -> None:
    server = FakeServer()
    assert checked(server) == (True, "ready")
    assert all("authorization" not in r.headers for r in server.requests)


def test_check_follows_the_server_both_ways() -> None:
    server = FakeServer()

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            backend = RemoteServer(destination(), client, {})
            assert not backend.ready and backend.detail == "not checked yet"
            await backend.start()
            try:
                assert backend.ready
                server.chat_response = lambda _: httpx.Response(503, text="loading")
                await backend.check()
                assert not backend.ready
                assert "503" in backend.detail
                server.chat_response = None
                await backend.check()
                assert backend.ready and backend.detail == "ready"
            finally:
                await backend.close()

    run(scenario())


def test_the_watcher_probes_again_every_interval() -> None:
    server = FakeServer()

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            backend = RemoteServer(destination(probe_interval=0.02), client, {})
            await backend.start()
            try:
                assert backend.ready
                server.models = ("something-else",)
                for _ in range(200):
                    if not backend.ready:
                        break
                    await asyncio.sleep(0.01)
                assert not backend.ready
                assert MODEL in backend.detail
            finally:
                await backend.close()
            probes = len(server.requests)
            await asyncio.sleep(0.1)
            assert len(server.requests) == probes  # close() stopped the watcher

    run(scenario())


# --- not ready ----------------------------------------------------------------------------------


def _raise_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"connection refused {CANARY}", request=request)


def _raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout(f"timed out {CANARY}", request=request)


@pytest.mark.parametrize(
    ("bend", "expected"),
    [
        pytest.param(("models", None), f"the model '{MODEL}' is not listed", id="model-not-listed"),
        pytest.param(
            ("models", lambda _: httpx.Response(500, text=CANARY)),
            "GET /models answered HTTP 500",
            id="models-500",
        ),
        pytest.param(
            ("chat", lambda _: httpx.Response(503, json={"error": {"message": CANARY}})),
            "one-token probe answered HTTP 503",
            id="probe-503",
        ),
        pytest.param(("models", _raise_connect), "unreachable (ConnectError)", id="connect-error"),
        pytest.param(("chat", _raise_timeout), "timed out", id="probe-timeout"),
        pytest.param(
            ("models", lambda _: httpx.Response(200, text=f"<html>{CANARY}</html>")),
            "not OpenAI JSON",
            id="models-not-json",
        ),
        pytest.param(
            ("models", lambda _: httpx.Response(200, json={"models": [MODEL]})),
            "not OpenAI JSON",
            id="models-no-list",
        ),
        pytest.param(
            ("chat", lambda _: httpx.Response(200, text=f"{CANARY} is not json")),
            "not OpenAI JSON",
            id="probe-not-json",
        ),
        pytest.param(
            ("chat", lambda _: httpx.Response(200, json=[CANARY])),
            "not OpenAI JSON",
            id="probe-json-array",
        ),
        pytest.param(
            ("chat", lambda _: httpx.Response(200, json={"error": CANARY})),
            "without choices",
            id="probe-without-choices",
        ),
    ],
)
def test_not_ready_names_the_problem(bend: tuple[str, Handler | None], expected: str) -> None:
    server = FakeServer()
    which, handler = bend
    if which == "models" and handler is None:
        server.models = ("another-model",)
    elif which == "models":
        server.models_response = handler
    else:
        server.chat_response = handler
    ready, detail = checked(server)
    assert not ready
    assert expected in detail
    assert_clean(detail)


def test_an_empty_model_list_is_not_ready() -> None:
    server = FakeServer(models=())
    ready, detail = checked(server)
    assert not ready and MODEL in detail
    assert server.probes == []  # no probe for a model that is not there


def test_a_missing_credential_is_never_ready_and_never_calls_the_server() -> None:
    server = FakeServer()
    calls: list[httpx.Request] = []

    def spy(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return server(request)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(spy)) as client:
            backend = RemoteServer(destination(api_key_env="LOCAL_SERVER_KEY"), client, {})
            await backend.start()
            try:
                assert not backend.ready
                assert "LOCAL_SERVER_KEY" in backend.detail
                with pytest.raises(LocalUnavailable, match="LOCAL_SERVER_KEY"), backend.admit("req-1"):
                    pass
            finally:
                await backend.close()

    run(scenario())
    assert calls == []


# --- admission ----------------------------------------------------------------------------------


def started(server: FakeServer, **dest: Any) -> Callable[[Callable[[RemoteServer], None]], None]:
    """Run ``body`` against a started backend."""

    def go(body: Callable[[RemoteServer], None]) -> None:
        async def scenario() -> None:
            async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
                backend = RemoteServer(destination(**dest), client, {})
                await backend.start()
                try:
                    body(backend)
                finally:
                    await backend.close()

        run(scenario())

    return go


def test_admit_refuses_when_not_ready() -> None:
    server = FakeServer()
    server.models_response = lambda _: httpx.Response(500, text=CANARY)

    def body(backend: RemoteServer) -> None:
        with pytest.raises(LocalUnavailable) as info, backend.admit("req-42"):
            pytest.fail("admitted although not ready")
        err = info.value
        assert (err.code, err.http_status) == ("local_unavailable", 503)
        assert "req-42" in err.message and "'local'" in err.message
        assert "HTTP 500" in err.message
        assert "not sent anywhere" in err.message
        assert_clean(err.message)
        assert "retry-after" not in err.headers

    started(server)(body)


def test_admit_holds_places_up_to_max_in_flight_and_releases_them() -> None:
    def body(backend: RemoteServer) -> None:
        assert backend.ready
        with backend.admit("a"), backend.admit("b"):
            with pytest.raises(LocalUnavailable) as info, backend.admit("c"):
                pytest.fail("admitted beyond max_in_flight")
            err = info.value
            assert (err.code, err.http_status) == ("local_unavailable", 503)
            assert err.headers == {"retry-after": "1"}
            assert "capacity" in err.message and "Request id: c" in err.message
        # Both places are free again.
        with backend.admit("d"), backend.admit("e"):
            pass
        # An exception inside the exchange releases the place too.
        for _ in range(3):
            with pytest.raises(RuntimeError, match="upstream broke"), backend.admit("f"):
                raise RuntimeError("upstream broke")
        with backend.admit("g"), backend.admit("h"), pytest.raises(LocalUnavailable), backend.admit("i"):
            pass
        assert backend._in_flight == 0

    started(FakeServer(), max_in_flight=2)(body)


def test_max_in_flight_one() -> None:
    def body(backend: RemoteServer) -> None:
        with backend.admit("a"), pytest.raises(LocalUnavailable), backend.admit("b"):
            pass
        with backend.admit("c"):
            pass

    started(FakeServer(), max_in_flight=1)(body)
