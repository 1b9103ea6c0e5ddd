"""Admission, client deadlines and bounded scans through a real gateway: the answers past each limit
come at once, in the client's format, with Retry-After where a retry helps, audited and counted; a
heavy prompt neither outlives its deadline nor starves a small one."""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from gateway.auth import create_key
from tests.e2e.conftest import Fakes, Gateway, start_gateway
from tests.test_metrics import parse_exposition


@pytest.fixture(scope="module")
def limited(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("limits") / "gateway.db"
    gw = start_gateway(
        fakes,
        f"sqlite:///{db}",
        limits={"max_active": 3, "per_key_active": 2, "per_key_rate": 1.0, "per_key_burst": 4},
        server={"body_timeout": 1.0},
        scan={"max_text_chars": 50_000},
    )
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _new_key(gw: Gateway, user: str) -> str:
    key = create_key(gw.engine, user=user, team="research", role="user").key
    gw.app.runtime.keys.load()  # known at once, not at the next reload
    return key


def _shed(gw: Gateway) -> dict[str, float]:
    scrape = parse_exposition(gw.http().get("/metrics").text)
    return {dict(labels)["reason"]: value for labels, value in scrape.series("gateway_shed_total").items()}


def _slow_in_background(gw: Gateway, key: str, count: int) -> list[threading.Thread]:
    """``count`` non-stream requests the fake provider holds until the client goes away."""

    def call() -> None:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=5)
        try:
            client.chat.completions.create(
                model="gpt-4o-slow", messages=[{"role": "user", "content": "wait"}]
            )
        except openai.APIError:
            pass
        finally:
            client.close()

    threads = [threading.Thread(target=call, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    return threads


def test_past_max_active_the_answer_is_503_at_once_with_retry_after(limited: Gateway) -> None:
    keys = [_new_key(limited, f"busy{i}") for i in range(2)]
    held = _slow_in_background(limited, keys[0], 2) + _slow_in_background(limited, keys[1], 1)
    assert limited.fakes.openai.wait_for_requests(3, timeout=10)
    before = _shed(limited).get("max_active", 0)
    client = limited.openai(api_key=_new_key(limited, "late"))
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 1.0
    assert refused.value.status_code == 503
    assert refused.value.response.headers["retry-after"] == "1"
    assert refused.value.body["code"] == "overloaded"  # type: ignore[index]
    assert len(limited.fakes.openai.received) == 3
    record = limited.audit(refused.value.response.headers["x-request-id"])
    assert (record["status"], record["error"]) == (503, "overloaded")
    assert _shed(limited)["max_active"] == before + 1
    for t in held:
        t.join(10)


def test_one_key_past_its_rate_gets_429_in_its_own_format_and_others_pass(limited: Gateway) -> None:
    key = _new_key(limited, "eager")
    client = limited.anthropic(api_key=key)
    ask: dict[str, Any] = {
        "model": "claude-3-5-sonnet-latest",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    for _ in range(4):  # the burst
        client.messages.create(**ask)
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(**ask)
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert int(refused.value.response.headers["retry-after"]) >= 1
    record = limited.audit(refused.value.response.headers["x-request-id"])
    assert (record["status"], record["error"]) == (429, "rate_limit_exceeded")
    # Another key is not affected.
    limited.anthropic(api_key=_new_key(limited, "calm")).messages.create(**ask)


def test_one_key_past_its_concurrency_gets_429(limited: Gateway) -> None:
    key = _new_key(limited, "parallel")
    held = _slow_in_background(limited, key, 2)
    assert limited.fakes.openai.wait_for_requests(2, timeout=10)
    with pytest.raises(openai.RateLimitError) as refused:
        limited.openai(api_key=key).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "one more"}]
        )
    assert "requests in flight" in refused.value.message
    for t in held:
        t.join(10)


def test_a_body_dripped_slowly_gets_408_and_is_audited(limited: Gateway) -> None:
    host, port = limited.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            + f"authorization: Bearer {limited.key}\r\n".encode()
            + b"content-length: 200\r\n\r\n{"
        )
        started = time.monotonic()
        raw = b""
        try:
            for _ in range(40):
                sock.sendall(b" ")
                time.sleep(0.1)
                sock.setblocking(False)
                try:
                    raw += sock.recv(65536)
                except BlockingIOError:
                    pass
                finally:
                    sock.setblocking(True)
                if raw:
                    break
        except OSError:
            pass
        sock.settimeout(5)
        while b"\r\n\r\n" not in raw or not raw.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 4
    head, _, body = raw.partition(b"\r\n\r\n")
    assert json.loads(body)["error"]["code"] == "request_timeout"
    request_id = next(
        line.split(b": ", 1)[1].decode() for line in head.split(b"\r\n") if line.startswith(b"x-request-id")
    )
    assert limited.audit(request_id)["status"] == 408
    assert limited.fakes.openai.received == []


def test_more_text_than_the_gateway_inspects_is_413_without_retry(limited: Gateway) -> None:
    client = limited.openai(api_key=_new_key(limited, "verbose"))
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "lorem ipsum " * 5000}]
        )
    assert refused.value.status_code == 413
    assert refused.value.body["code"] == "too_much_text"  # type: ignore[index]
    assert "retry-after" not in refused.value.response.headers
    assert limited.fakes.openai.received == []


def test_readyz_reports_the_scanner(limited: Gateway) -> None:
    ready = limited.http().get("/readyz")
    assert ready.status_code == 200 and ready.json()["scan"] == "ok"


# -- heavy prompts -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def heavy(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("heavy") / "gateway.db"
    gw = start_gateway(
        fakes,
        f"sqlite:///{db}",
        scan={"timeout": 1.0, "heavy_bytes": 20_000, "cache_size": 0},
        limits={"per_key_rate": None},
    )
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _prose(n: int, seed: int) -> str:
    words = ["report", "quarter", "meeting", "budget", "plan", "review", "team", "notes", "draft"]
    return " ".join(f"{words[(i * 7 + seed) % len(words)]}{i % 97}" for i in range(n))


def test_a_scan_that_runs_out_of_time_stops_and_the_next_request_passes(heavy: Gateway) -> None:
    client = heavy.openai(timeout=30)
    big = _prose(95_000, 1)  # under 1 MB of text: seconds of scanning, far more than one
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": big}])
    assert refused.value.status_code == 503 and refused.value.body["code"] == "scan_failed"  # type: ignore[index]
    assert time.monotonic() - started < 5
    assert heavy.fakes.openai.received == []
    # The scan stopped with its deadline: the next request is scanned and answered normally, at once.
    started = time.monotonic()
    answer = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "mail me at bob@example.org"}]
    )
    assert time.monotonic() - started < 2
    assert answer.choices[0].message.content
    scanner = heavy.app.runtime.scanner
    assert scanner is not None
    deadline = time.monotonic() + 3
    while scanner.running and time.monotonic() < deadline:  # its thread, stopped at its next window
        time.sleep(0.02)
    assert scanner.running == 0


def test_heavy_prompts_do_not_starve_a_small_one(heavy: Gateway) -> None:
    done: dict[str, float] = {}
    started = time.monotonic()

    small_key = _new_key(heavy, "someone-else")  # a key whose scans are cheap: not in the heavy lane

    def ask(name: str, text: str, key: str = heavy.key) -> None:
        client = openai.OpenAI(base_url=f"{heavy.url}/v1", api_key=key, max_retries=0, timeout=30)
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
        except openai.APIError:
            pass
        finally:
            done[name] = time.monotonic() - started
            client.close()

    threads = [threading.Thread(target=ask, args=(f"heavy{i}", _prose(60_000, i + 2))) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    ask("small", "a short question about the quarterly plan", small_key)
    for t in threads:
        t.join(30)
    assert done["small"] < max(done["heavy0"], done["heavy1"])
    assert done["small"] < 1.5


def test_a_cut_before_the_app_is_counted_and_audited(limited: Gateway) -> None:
    host, port = limited.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 40_000 + b"\r\n\r\n"
        )
        raw = sock.recv(65536)
    assert raw.startswith(b"HTTP/1.1 431 ")
    scrape = parse_exposition(limited.http().get("/metrics").text)
    assert scrape.value("gateway_client_cuts_total", reason="headers_too_large") >= 1
    events = [r for r in limited.audit_rows() if r["endpoint"] == "client.cut"]
    assert any(r["error"] == "headers_too_large" for r in events)
    assert limited.fakes.openai.received == []


def test_a_base64_blob_longer_than_a_window_is_decoded_wherever_it_falls(gateway: Gateway) -> None:
    secret = "The merger notes are attached for your review. " * 700 + "Mail jane.roe@example.com today."
    blob = base64.b64encode(secret.encode()).decode()
    client = gateway.openai(timeout=60)
    for prefix in (8, 9, 10, 11):  # every position of the blob on base64's 4-character grid
        text = "x" * prefix + " decode: " + "lorem " * 5000 + blob
        with contextlib.suppress(openai.APIStatusError):  # refused or kept local: not sent offshore
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])
        assert not any(blob[:200] in r.body.decode() for r in gateway.fakes.openai.received)


def test_a_flood_of_bad_keys_is_throttled_without_burying_the_audit_trail(limited: Gateway) -> None:
    http = limited.http()
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    statuses = [
        http.post(
            "/v1/chat/completions", json=ask, headers={"authorization": "Bearer gwk_nope_x"}
        ).status_code
        for _ in range(60)
    ]
    assert statuses[:20] == [401] * 20 and statuses[-1] == 429
    throttled = http.post("/v1/chat/completions", json=ask, headers={"authorization": "Bearer gwk_nope_x"})
    assert (
        throttled.json()["error"]["code"] == "auth_throttled" and int(throttled.headers["retry-after"]) >= 1
    )
    # A real key from the same address still passes.
    good = http.post(
        "/v1/chat/completions", json=ask, headers={"authorization": f"Bearer {_new_key(limited, 'ok')}"}
    )
    assert good.status_code == 200
    rows = [r for r in limited.audit_rows() if r["error"] == "auth_throttled"]
    assert 1 <= len(rows) <= 2  # once per 10 s per address, however many were refused
