"""/metrics on a real gateway: requests through the official SDK, then a scrape read as Prometheus would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from gateway.metrics import CONTENT_TYPE
from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway
from tests.test_metrics import Scrape, parse_exposition

POLICY = """
policy: metrics-e2e
rules:
  - id: ssn-block
    when: {entities: [US_SSN]}
    action: block
  - id: keys-local
    when: {data_classes: [credentials]}
    action: route_local
"""
KEY = "AKIAZ7QK3XW5PLM2RT4N"
TOKEN = "metrics-scrape-token-5b1f"


def _stop(gw: Gateway) -> None:
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


@pytest.fixture(scope="module")
def gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("metrics")
    policy = tmp / "policy.yaml"
    policy.write_text(POLICY)
    destinations = gateway_config(fakes, "sqlite://")["destinations"]
    # A second local destination nobody serves, so the gauge has a 0 to show.
    destinations["offline"] = {
        "type": "local",
        "base_url": "http://127.0.0.1:9/v1",
        "jurisdiction": "LOCAL",
        "probe_interval": 3600,
    }
    gw = start_gateway(
        fakes, f"sqlite:///{tmp / 'gateway.db'}", policies=[str(policy)], destinations=destinations
    )
    yield gw
    _stop(gw)


def scrape(gw: Gateway, **headers: str) -> httpx.Response:
    return gw.http().get("/metrics", headers=headers)


def scrape_until(gw: Gateway, done: Callable[[Scrape], bool], timeout: float = 10.0) -> Scrape:
    """The exchange is counted in the request's ``finally``, which may run just after the client has
    its answer, so a scrape right after a request can be a moment early."""
    deadline = time.monotonic() + timeout
    while True:
        response = scrape(gw)
        assert response.status_code == 200
        parsed = parse_exposition(response.text)
        if done(parsed) or time.monotonic() > deadline:
            return parsed
        time.sleep(0.02)


def requests_by(s: Scrape) -> dict[tuple[str, str, str, str], float]:
    names = ("endpoint", "destination", "action", "status")
    return {
        tuple(dict(labels)[n] for n in names): value  # type: ignore[misc]
        for labels, value in s.series("gateway_requests_total").items()
    }


def _delta(after: dict[Any, float], before: dict[Any, float]) -> dict[Any, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}


def test_requests_are_counted_by_destination_action_and_status(gateway: Gateway) -> None:
    before = scrape_until(gateway, lambda s: True)
    client = gateway.openai()
    plain: list[ChatCompletionMessageParam] = [{"role": "user", "content": "What is the capital of France?"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=plain)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Why is my key {KEY} rejected?"}]
    )
    with pytest.raises(openai.PermissionDeniedError) as blocked:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "My SSN is 536-22-8726."}]
        )
    assert blocked.value.status_code == 403
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=plain)
    gateway.http().get("/no/such/path")

    def five_more(s: Scrape) -> bool:
        return sum(requests_by(s).values()) - sum(requests_by(before).values()) >= 5

    after = scrape_until(gateway, five_more)
    assert _delta(requests_by(after), requests_by(before)) == {
        ("chat.completions", "openai", "allow", "200"): 1,
        ("chat.completions", "local", "route_local", "200"): 1,
        ("chat.completions", "openai", "block", "403"): 1,
        ("chat.completions", "-", "none", "404"): 1,
        ("unknown", "-", "none", "404"): 1,
    }
    # Three requests were scanned (the unknown model fails before the scan, the bad path before that).
    assert after.value("gateway_scan_seconds_count") - before.get("gateway_scan_seconds_count") == 3
    assert after.value("gateway_scan_seconds_sum") > before.get("gateway_scan_seconds_sum")
    for dest in ("openai", "local"):
        sent = after.value("gateway_upstream_seconds_count", destination=dest)
        assert sent - before.get("gateway_upstream_seconds_count", destination=dest) == 1, dest
        assert after.value("gateway_upstream_seconds_sum", destination=dest) > 0
    assert after.series("gateway_upstream_seconds_count").keys() <= {
        frozenset({("destination", "openai")}),
        frozenset({("destination", "local")}),
    }
    whole = after.value("gateway_request_seconds_count", endpoint="chat.completions")
    assert whole - before.get("gateway_request_seconds_count", endpoint="chat.completions") == 4
    # Neither the model names nor the prompts are anywhere in the scrape.
    text = scrape(gateway).text
    for canary in ("gpt-4o-mini", "no-such-model", KEY, "536-22-8726", "France"):
        assert canary not in text


def test_local_destinations_report_up_and_down(gateway: Gateway) -> None:
    response = scrape(gateway)
    assert response.headers["content-type"] == CONTENT_TYPE.decode()
    parsed = parse_exposition(response.text)
    assert parsed.series("gateway_local_up") == {
        frozenset({("destination", "local")}): 1,
        frozenset({("destination", "offline")}): 0,
    }
    assert parsed.value("gateway_audit_failed_total") == 0


def test_scrapes_are_not_requests_and_other_methods_are_refused(gateway: Gateway) -> None:
    before = requests_by(scrape_until(gateway, lambda s: True))
    http = gateway.http()
    assert http.post("/metrics").status_code == 405
    assert http.head("/metrics").status_code == 200
    assert requests_by(scrape_until(gateway, lambda s: True)) == before


@pytest.fixture
def tokened(fakes: Fakes, tmp_path: Path) -> Iterator[Gateway]:
    gw = start_gateway(
        fakes,
        f"sqlite:///{tmp_path / 'gateway.db'}",
        environ={"METRICS_TOKEN": TOKEN},
        metrics={"token_env": "METRICS_TOKEN"},
        scan={"enabled": False},
    )
    yield gw
    _stop(gw)


def test_a_configured_token_is_required(tokened: Gateway) -> None:
    assert scrape(tokened).status_code == 401
    assert scrape(tokened, authorization=f"Bearer {TOKEN}x").status_code == 401
    assert scrape(tokened, authorization=f"Basic {TOKEN}").status_code == 401
    # The gateway key is not the metrics token.
    assert scrape(tokened, authorization=f"Bearer {tokened.key}").status_code == 401
    refused = scrape(tokened)
    assert refused.headers["www-authenticate"] == "Bearer" and "gateway_" not in refused.text
    ok = scrape(tokened, authorization=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    parse_exposition(ok.text)


def test_a_token_variable_left_unset_refuses_every_scrape(fakes: Fakes, tmp_path: Path) -> None:
    gw = start_gateway(
        fakes,
        f"sqlite:///{tmp_path / 'gateway.db'}",
        metrics={"token_env": "METRICS_TOKEN_NOT_SET"},
        scan={"enabled": False},
    )
    try:
        assert scrape(gw).status_code == 503
        assert scrape(gw, authorization="Bearer anything").status_code == 503
    finally:
        _stop(gw)


def test_disabled_metrics_are_not_served(fakes: Fakes, tmp_path: Path) -> None:
    gw = start_gateway(
        fakes, f"sqlite:///{tmp_path / 'gateway.db'}", metrics={"enabled": False}, scan={"enabled": False}
    )
    try:
        assert scrape(gw).status_code == 404
    finally:
        _stop(gw)
