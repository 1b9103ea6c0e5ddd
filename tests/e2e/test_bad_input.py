"""Every kind of bad input or failing upstream gets a provider-shaped error and an audit record."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import Fakes, Gateway, start_gateway

MESSAGES = [{"role": "user", "content": "hi"}]


def _openai_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"message", "type", "param", "code"} <= set(body["error"])
    return dict(body["error"])


def _anthropic_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["type"] == "error" and {"type", "message"} <= set(body["error"])
    return dict(body["error"])


def test_missing_and_wrong_key_openai(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        gateway.openai(api_key="not-a-key").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 401 and "Invalid gateway key" in info.value.message
    row = gateway.audit(info.value.response.headers["x-request-id"])
    assert (row["status"], row["error"], row["user"], row["destination"]) == (
        401,
        "invalid_api_key",
        None,
        None,
    )
    response = gateway.http().post(
        "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
    )
    assert response.status_code == 401 and "Missing gateway key" in _openai_error(response)["message"]
    assert gateway.fakes.openai.received == []


def test_wrong_key_anthropic(gateway: Gateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as info:
        gateway.anthropic(api_key="gwk_0000_nope").messages.create(
            model="claude-test-1",
            max_tokens=5,
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert info.value.status_code == 401
    assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert gateway.fakes.anthropic.received == []


def test_unknown_model(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        gateway.openai().chat.completions.create(model="llama-unknown", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.code == "model_not_found" and "llama-unknown" in info.value.message
    with pytest.raises(anthropic.NotFoundError) as ainfo:
        gateway.anthropic().messages.create(model="mystery", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    assert ainfo.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    row = gateway.audit(info.value.response.headers["x-request-id"])
    # A model name no destination serves was never scanned: the record keeps its keyed hash only.
    assert (row["status"], row["error"]) == (404, "model_not_found")
    assert row["requested_model"].startswith("hmac:")


def test_endpoint_the_destination_cannot_serve(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gateway.openai().embeddings.create(model="claude-test-1", input="x")
    assert "/v1/embeddings is not available" in info.value.message


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "wire"),
    [
        ("GET", "/v1/files", {}, 404, "openai"),
        ("POST", "/v2/messages", {"anthropic-version": "2023-06-01"}, 404, "anthropic"),
        ("GET", "/admin", {}, 404, "openai"),
        ("GET", "/v1/chat/completions", {}, 405, "openai"),
        ("DELETE", "/v1/messages", {"x-api-key": "k"}, 405, "anthropic"),
    ],
)
def test_unknown_paths_and_methods(
    gateway: Gateway, method: str, path: str, headers: dict[str, str], status: int, wire: str
) -> None:
    response = gateway.http().request(
        method, path, headers={"authorization": f"Bearer {gateway.key}", **headers}
    )
    assert response.status_code == status
    error = _openai_error(response) if wire == "openai" else _anthropic_error(response)
    assert error["message"]
    if status == 405:
        assert response.headers["allow"] == "POST"
    row = gateway.audit(response.headers["x-request-id"])
    assert row["status"] == status


def test_non_json_content_type(gateway: Gateway) -> None:
    response = gateway.http().post(
        "/v1/chat/completions", content=b"model=gpt", headers={"authorization": f"Bearer {gateway.key}"}
    )
    assert response.status_code == 415
    assert "application/json" in _openai_error(response)["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"model": "gpt-4o-mini", "messages": [', "not valid JSON: Expecting value at line 1 column"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"messages": []}', "'model' is required"),
        (b'{"model": "gpt-4o-mini", "stream": "yes"}', "'stream' must be true or false"),
        (b'{"model": "gpt-4o-mini", "messages": [], "messages": []}', "repeats the key 'messages'"),
        # What two parsers would read differently is refused: the destination must read what was scanned.
        (
            b'{"model": "gpt-4o-mini", "messages": [], "temperature": NaN}',
            "'NaN', which is not a JSON number",
        ),
        (b'{"model": "gpt-4o-mini", "messages": [], "top_p": -Infinity}', "not a JSON number"),
        (b'{"model": "gpt-4o-mini", "messages": [], "seed": 41111111111111111111}', "beyond +/-2^53"),
        (b'{"model": "gpt-4o-mini", "messages": [], "x": 1e999}', "too large to represent"),
        (b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "a\\ud800b"}]}', "lone UTF-16"),
        (
            b'{"model": "gpt-4o-mini", "messages": []' + b', "m": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "nested deeper than 64 levels",
        ),
        # Below the parser's own recursion limit: the gateway's bound, not Python's, refuses it.
        (
            b'{"model": "gpt-4o-mini", "messages": []' + b', "m": ' + b"[" * 65 + b"]" * 65 + b"}",
            "nested deeper than 64 levels",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [], "stop": [' + b",".join([b"1"] * 100_001) + b"]}",
            "more than 100000 values",
        ),
        (
            b'{"model": "gpt-4o-mini", "messages": [], "m": {'
            + b",".join(b'"k%d": {}' % i for i in range(100_001))
            + b"}}",
            "more than 100000 values",
        ),
        # Millions of tiny values: refused before the parser builds them.
        (
            b'{"model": "gpt-4o-mini", "messages": [], "m": [' + b"[]," * 1_000_000 + b"[]]}",
            "more than 100000",
        ),
    ],
)
def test_malformed_bodies(gateway: Gateway, body: bytes, message: str) -> None:
    response = gateway.http().post(
        "/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert message in _openai_error(response)["message"]
    assert gateway.fakes.openai.received == []
    assert gateway.audit(response.headers["x-request-id"])["status"] == 400


def test_too_deeply_nested_body_is_refused(gateway: Gateway) -> None:
    nested: object = "hi"
    for _ in range(100):
        nested = {"x": nested}
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "metadata": nested}
    response = gateway.http().post(
        "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {gateway.key}"}
    )
    assert response.status_code == 400
    assert "nested deeper than 64" in _openai_error(response)["message"]
    assert gateway.fakes.openai.received == []


def test_anthropic_malformed_body_is_anthropic_shaped(gateway: Gateway) -> None:
    response = gateway.http().post(
        "/v1/messages",
        content=b"{oops",
        headers={"x-api-key": gateway.key, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert _anthropic_error(response)["type"] == "invalid_request_error"


def test_declared_oversized_body_is_refused_before_reading(gateway: Gateway) -> None:
    sock = socket.create_connection(
        (gateway.url.split("//")[1].split(":")[0], int(gateway.url.rsplit(":", 1)[1]))
    )
    with sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {gateway.key}\r\ncontent-length: {11 * 1024 * 1024}\r\n\r\n".encode()
        )
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413")
    assert b"larger than this gateway's limit of 10485760 bytes" in reply


@pytest.fixture(scope="module")
def small_gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("small") / "g.db"
    gw = start_gateway(fakes, f"sqlite:///{db}", server={"max_body_bytes": 100_000})
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def test_chunked_oversized_body_is_refused_without_reading_it_whole(small_gateway: Gateway) -> None:
    host, port = small_gateway.url.split("//")[1].split(":")
    sent = 0
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {small_gateway.key}\r\ntransfer-encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"x" * 10_000
        # Offer up to 20 MB; the gateway must answer long before.
        while sent < 20_000_000:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            time.sleep(0.001)
        reply = _read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 2_000_000


def _read_reply(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    data = b""
    try:
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def test_upstream_down(gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        gateway.openai().chat.completions.create(model="down-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 502 and "Could not connect to destination 'down'" in info.value.message
    row = gateway.audit(info.value.response.headers["x-request-id"])
    assert (row["status"], row["error"], row["destination"]) == (502, "upstream_unreachable", "down")


def test_destination_without_provider_key(gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        gateway.openai().chat.completions.create(model="nokey-1", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 503 and "UNSET_PROVIDER_KEY" in info.value.message
    assert gateway.fakes.openai.received == []


def test_upstream_read_timeout(gateway: Gateway) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        gateway.openai().chat.completions.create(model="gpt-hang", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 504 and "read timeout" in info.value.message
    assert time.monotonic() - started < 10
    assert gateway.fakes.openai.wait_for_disconnects(1), "the gateway must close the upstream request"


@pytest.mark.parametrize(
    ("model", "status", "error", "text"),
    [
        ("gpt-fail500", 502, openai.InternalServerError, "failed with HTTP 500"),
        ("gpt-fail429", 429, openai.RateLimitError, "Rate limit reached for gpt-fail429 (fake)."),
        ("gpt-fail400", 400, openai.BadRequestError, "bad parameter from fake"),
    ],
)
def test_upstream_error_statuses(
    gateway: Gateway, model: str, status: int, error: type[openai.APIStatusError], text: str
) -> None:
    with pytest.raises(error) as info:
        gateway.openai().chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == status and text in info.value.message
    if status == 429:
        assert info.value.response.headers["retry-after"] == "1"
        # Same wire format: the destination's own error object, code included, reaches the SDK.
        assert info.value.code == "rate_limit_exceeded"
    assert gateway.audit(info.value.response.headers["x-request-id"])["status"] == status


def test_upstream_error_translated_for_anthropic_client(gateway: Gateway) -> None:
    with pytest.raises(anthropic.RateLimitError) as info:
        gateway.anthropic().messages.create(model="gpt-fail429", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "Destination 'openai' refused the request: Rate limit reached" in info.value.message
    with pytest.raises(anthropic.BadRequestError) as bad:
        gateway.anthropic().messages.create(model="gpt-fail400", max_tokens=5, messages=MESSAGES)  # type: ignore[arg-type]
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_upstream_error_translated_for_openai_client(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        gateway.openai().chat.completions.create(model="claude-fail400", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.type == "invalid_request_error" and "bad parameter from fake" in info.value.message


@pytest.mark.parametrize("model", ["gpt-cut", "gpt-midstreamerror", "claude-cut"])
def test_openai_stream_broken_midway(gateway: Gateway, model: str) -> None:
    stream = gateway.openai().chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    got = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            got.append(chunk)
    assert got, "events before the failure reach the client"
    assert info.value.message
    row = gateway.audit(stream.response.headers["x-request-id"])
    assert row["status"] == 200 and row["truncated"] is True and row["error"]


@pytest.mark.parametrize("model", ["claude-cut", "claude-midstreamerror", "gpt-cut"])
def test_anthropic_stream_broken_midway(gateway: Gateway, model: str) -> None:
    client = gateway.anthropic()
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client.messages.stream(model=model, max_tokens=5, messages=MESSAGES) as stream,  # type: ignore[arg-type]
    ):
        for _ in stream.text_stream:
            pass
    assert info.value.body["error"]["type"] in ("api_error", "overloaded_error")  # type: ignore[index]
    row = gateway.audit(info.value.response.headers["request-id"])
    assert row["truncated"] is True


def test_slow_drip_stream_hits_the_total_deadline(gateway: Gateway) -> None:
    started = time.monotonic()
    stream = gateway.openai().chat.completions.create(model="gpt-slow", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError) as info:
        for _ in stream:
            pass
    elapsed = time.monotonic() - started
    assert "total deadline" in info.value.message
    assert 3.5 < elapsed < 10  # the fixture's total_timeout is 4 s; events kept arriving every 0.2 s
    row = gateway.audit(stream.response.headers["x-request-id"])
    assert (row["error"], row["truncated"]) == ("upstream_deadline", True)
    assert gateway.fakes.openai.wait_for_disconnects(1)


def test_events_arrive_as_they_happen_and_disconnect_cancels_upstream(gateway: Gateway) -> None:
    gateway.fakes.openai.drip_interval = 0.2
    stream = gateway.openai().chat.completions.create(model="gpt-slow", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    started = time.monotonic()
    for seen, _ in enumerate(stream, start=1):
        if seen == 3:
            break
    # The upstream never ends this stream, so events can only have come one by one.
    assert time.monotonic() - started < 2
    stream.close()
    assert gateway.fakes.openai.wait_for_disconnects(1, timeout=5)
    rows = [r for r in gateway.audit_rows() if r["request_id"] == stream.response.headers["x-request-id"]]
    deadline = time.monotonic() + 5
    while not rows and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = [r for r in gateway.audit_rows() if r["request_id"] == stream.response.headers["x-request-id"]]
    assert rows and rows[0]["disconnected"] is True


def test_client_gone_before_answer_is_recorded(gateway: Gateway) -> None:
    http = gateway.http()
    with pytest.raises(httpx.ReadTimeout):
        http.post(
            "/v1/chat/completions",
            json={"model": "gpt-hang", "messages": MESSAGES},
            headers={"authorization": f"Bearer {gateway.key}"},
            timeout=0.5,
        )
    assert gateway.fakes.openai.wait_for_disconnects(1, timeout=5)
    deadline = time.monotonic() + 5
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = [r for r in gateway.audit_rows() if r["requested_model"] == "gpt-hang" and r["status"] == 499]
        if rows:
            break
        time.sleep(0.05)
    assert rows and rows[-1]["disconnected"] is True


def test_provider_key_never_reaches_client_or_database(gateway: Gateway) -> None:
    from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY

    for model in ("gpt-fail400", "gpt-fail500", "gpt-4o-mini", "claude-fail400", "claude-test-1"):
        raw = gateway.http().post(
            "/v1/chat/completions",
            json={"model": model, "messages": MESSAGES},
            headers={"authorization": f"Bearer {gateway.key}"},
        )
        seen = raw.text + json.dumps(dict(raw.headers))
        assert OPENAI_KEY not in seen and ANTHROPIC_KEY not in seen
    rows = json.dumps(gateway.audit_rows(), default=str)
    assert OPENAI_KEY not in rows and ANTHROPIC_KEY not in rows and gateway.key not in rows
