"""Metrics: what observe() counts, and that render() is valid Prometheus text exposition format 0.0.4.

``parse_exposition`` is a strict reader of the format (also used by the end-to-end test): it refuses
what a Prometheus server would refuse, and checks each histogram's own arithmetic.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from gateway.endpoints import ENDPOINTS_BY_PATH, Destination, Route
from gateway.exchange import Exchange
from gateway.metrics import Metrics
from gateway.policy.decide import Decision
from gateway.policy.schema import Action
from gateway.settings import ConfigError, DestinationSettings, settings_from_mapping

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
_HEADER = re.compile(rf"^# (HELP|TYPE) ({_NAME}) ?(.*)$")
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}

Labels = frozenset[tuple[str, str]]


@dataclass
class Scrape:
    types: dict[str, str] = field(default_factory=dict)
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)

    def value(self, name: str, **labels: str) -> float:
        return self.samples[(name, frozenset(labels.items()))]

    def get(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def series(self, name: str) -> dict[Labels, float]:
        return {labels: v for (n, labels), v in self.samples.items() if n == name}


def _labels(text: str) -> Labels:
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _LABEL.match(text, pos)
        assert match is not None, f"bad label set {text!r} at {pos}"
        value = re.sub(r'\\[\\"n]', lambda m: _UNESCAPE[m.group(0)], match.group(2))
        pairs.append((match.group(1), value))
        pos = match.end()
        if pos < len(text):
            assert text[pos] == ",", f"bad label separator in {text!r}"
            pos += 1
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"repeated label in {text!r}"
    return frozenset(pairs)


def _family(name: str, types: dict[str, str]) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and types.get(base) == "histogram":
            return base
    return name


def parse_exposition(text: str) -> Scrape:
    """Parse and validate; raises AssertionError on anything a Prometheus server would reject."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    scrape = Scrape()
    seen_families: list[str] = []
    for line in text.splitlines():
        assert line.strip() == line and line, f"blank or padded line {line!r}"
        if line.startswith("#"):
            header = _HEADER.match(line)
            assert header is not None, f"bad comment line {line!r}"
            if header.group(1) == "TYPE":
                kind, name = header.group(3), header.group(2)
                assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert name not in scrape.types, f"second TYPE for {name}"
                assert name not in seen_families, f"TYPE for {name} after its samples"
                scrape.types[name] = kind
            continue
        sample = _SAMPLE.match(line)
        assert sample is not None, f"bad sample line {line!r}"
        name, labels, value = sample.group(1), _labels(sample.group(2) or ""), float(sample.group(3))
        family = _family(name, scrape.types)
        assert family in scrape.types, f"sample {name} without a TYPE line"
        if seen_families and seen_families[-1] != family:
            assert family not in seen_families, f"samples of {family} are not grouped together"
        if not seen_families or seen_families[-1] != family:
            seen_families.append(family)
        assert (name, labels) not in scrape.samples, f"duplicate sample {line!r}"
        scrape.samples[(name, labels)] = value
    for family, kind in scrape.types.items():
        if kind == "histogram":
            _check_histogram(scrape, family)
        if kind == "counter":
            assert all(v >= 0 for v in scrape.series(family).values()), family
    return scrape


def _check_histogram(scrape: Scrape, family: str) -> None:
    buckets: dict[Labels, list[tuple[float, float]]] = {}
    for labels, value in scrape.series(f"{family}_bucket").items():
        le = dict(labels)["le"]
        rest = frozenset(p for p in labels if p[0] != "le")
        buckets.setdefault(rest, []).append((float(le), value))
    assert set(buckets) == set(scrape.series(f"{family}_count")) == set(scrape.series(f"{family}_sum"))
    for labels, points in buckets.items():
        points.sort()
        counts = [count for _, count in points]
        assert counts == sorted(counts), f"{family} buckets are not cumulative: {points}"
        assert points[-1][0] == math.inf, f"{family} has no +Inf bucket"
        assert points[-1][1] == scrape.samples[(f"{family}_count", labels)]


# --- the Metrics class ---------------------------------------------------------------------------


class FakeLocal:
    def __init__(self, ready: bool) -> None:
        self.ready = ready


class FakeAudit:
    def __init__(self) -> None:
        self.failed = 0
        self.available = True
        self.anchor_failures = 0


def _dest(name: str) -> Destination:
    return Destination(name, DestinationSettings(type="openai", base_url="http://x", jurisdiction="US"))


def exchange(
    path: str = "/v1/chat/completions",
    destination: str | None = "openai",
    action: str | None = "allow",
    status: int | None = 200,
    scan_ms: float | None = None,
    upstream_ms: float | None = None,
    seconds: float = 0.0,
) -> Exchange:
    ex = Exchange(method="POST", path=path, headers={}, client_addr=None)
    ex.endpoint = ENDPOINTS_BY_PATH.get(path)
    if destination is not None:
        ex.route = Route(_dest(destination), "/chat/completions", "gpt-4o-mini")
    if action is not None:
        # A value outside the Action literal stands for a future action the metrics do not know yet.
        ex.decision = Decision(action=action, policy_version="v1")  # type: ignore[arg-type]
    ex.status, ex.scan_ms, ex.upstream_ms = status, scan_ms, upstream_ms
    ex.started = time.perf_counter() - seconds
    return ex


@pytest.fixture
def parts() -> tuple[Metrics, dict[str, FakeLocal], FakeAudit]:
    locals_ = {"local": FakeLocal(True)}
    audit = FakeAudit()
    return Metrics(["openai", "anthropic", "local"], locals_, audit), locals_, audit


def test_empty_metrics_are_valid_and_name_every_family(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    scrape = parse_exposition(metrics.render().decode())
    assert scrape.types == {
        "gateway_requests_total": "counter",
        "gateway_scan_seconds": "histogram",
        "gateway_upstream_seconds": "histogram",
        "gateway_request_seconds": "histogram",
        "gateway_local_up": "gauge",
        "gateway_audit_failed_total": "counter",
        "gateway_audit_store_up": "gauge",
        "gateway_audit_anchor_failures_total": "counter",
        "gateway_client_cuts_total": "counter",
    }
    assert scrape.series("gateway_requests_total") == {}
    assert scrape.value("gateway_local_up", destination="local") == 1
    assert scrape.value("gateway_audit_failed_total") == 0
    assert scrape.value("gateway_audit_store_up") == 1


def test_admission_scanner_and_client_cuts_are_exposed() -> None:
    class Admitted:
        shed: ClassVar[dict[str, int]] = {"max_active": 3, "key_rate": 1}
        active = 7
        draining = True

    class Scanning:
        shed: ClassVar[dict[str, int]] = {"scan_busy": 2, "scan_key_share": 5}
        running = 1
        waiting = 4

    metrics = Metrics(["openai"], {}, FakeAudit(), Admitted(), Scanning())
    metrics.cut("header_timeout")
    metrics.cut("header_timeout")
    metrics.cut("write_timeout")
    scrape = parse_exposition(metrics.render().decode())
    assert scrape.value("gateway_shed_total", reason="max_active") == 3
    assert scrape.value("gateway_shed_total", reason="key_rate") == 1
    assert scrape.value("gateway_shed_total", reason="scan_busy") == 2
    assert scrape.value("gateway_shed_total", reason="scan_key_share") == 5
    assert scrape.value("gateway_active_requests") == 7
    assert scrape.value("gateway_draining") == 1
    assert (scrape.value("gateway_scans_running"), scrape.value("gateway_scans_waiting")) == (1, 4)
    assert scrape.value("gateway_client_cuts_total", reason="header_timeout") == 2
    assert scrape.value("gateway_client_cuts_total", reason="write_timeout") == 1


def test_requests_are_counted_by_endpoint_destination_action_and_status(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    metrics.observe(exchange())
    metrics.observe(exchange())
    metrics.observe(exchange(action="block", status=403))
    metrics.observe(exchange(path="/v1/messages", destination="local", action="route_local"))
    metrics.observe(exchange(destination=None, action=None, status=404))  # unknown model
    metrics.observe(exchange(path="/v1/models", destination=None, action=None))
    metrics.observe(exchange(path="/wp-login.php", destination=None, action=None, status=404))
    scrape = parse_exposition(metrics.render().decode())
    series = {
        tuple(dict(labels)[k] for k in ("endpoint", "destination", "action", "status")): value
        for labels, value in scrape.series("gateway_requests_total").items()
    }
    assert series == {
        ("chat.completions", "openai", "allow", "200"): 2,
        ("chat.completions", "openai", "block", "403"): 1,
        ("messages", "local", "route_local", "200"): 1,
        ("chat.completions", "-", "none", "404"): 1,
        ("models", "-", "none", "200"): 1,
        ("unknown", "-", "none", "404"): 1,
    }


def test_histogram_buckets_are_cumulative_with_right_count_and_sum(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    # 0.5 ms, 3 ms, exactly 1 s (le is inclusive), 20 s, and past the largest bound.
    for ms in (0.5, 3.0, 1000.0, 20_000.0, 100_000.0):
        metrics.observe(exchange(scan_ms=ms))
    scrape = parse_exposition(metrics.render().decode())
    bucket = {dict(k)["le"]: v for k, v in scrape.series("gateway_scan_seconds_bucket").items()}
    assert bucket["0.001"] == 1
    assert bucket["0.0025"] == 1
    assert bucket["0.005"] == 2
    assert bucket["0.5"] == 2
    assert bucket["1.0"] == 3
    assert bucket["15.0"] == 3
    assert bucket["30.0"] == 4
    assert bucket["+Inf"] == 5
    assert scrape.value("gateway_scan_seconds_count") == 5
    assert scrape.value("gateway_scan_seconds_sum") == pytest.approx(121.0035)


def test_upstream_and_request_latency_are_labelled(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    metrics.observe(exchange(upstream_ms=250.0, seconds=0.3))
    metrics.observe(exchange(destination="local", upstream_ms=90_000.0, seconds=95.0))
    metrics.observe(exchange(destination=None, action=None, status=404))  # never sent: no upstream time
    scrape = parse_exposition(metrics.render().decode())
    assert scrape.value("gateway_upstream_seconds_count", destination="openai") == 1
    assert scrape.value("gateway_upstream_seconds_bucket", destination="openai", le="0.25") == 1
    assert scrape.value("gateway_upstream_seconds_bucket", destination="openai", le="0.1") == 0
    assert scrape.value("gateway_upstream_seconds_bucket", destination="local", le="60.0") == 0
    assert scrape.value("gateway_upstream_seconds_bucket", destination="local", le="120.0") == 1
    assert scrape.value("gateway_upstream_seconds_sum", destination="local") == pytest.approx(90.0)
    assert set(scrape.series("gateway_upstream_seconds_count")) == {
        frozenset({("destination", "openai")}),
        frozenset({("destination", "local")}),
    }
    assert scrape.value("gateway_request_seconds_count", endpoint="chat.completions") == 3
    assert scrape.value("gateway_request_seconds_bucket", endpoint="chat.completions", le="0.25") == 1
    assert scrape.value("gateway_request_seconds_bucket", endpoint="chat.completions", le="60.0") == 2
    assert scrape.value("gateway_request_seconds_sum", endpoint="chat.completions") == pytest.approx(
        95.3, abs=0.05
    )
    assert scrape.series("gateway_scan_seconds_count") == {}


def test_label_values_outside_their_sets_are_folded(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    metrics.observe(exchange(destination="not-configured", action="exfiltrate", status=999, upstream_ms=1.0))
    metrics.observe(exchange(status=None))
    scrape = parse_exposition(metrics.render().decode())
    assert (
        scrape.value(
            "gateway_requests_total",
            endpoint="chat.completions",
            destination="other",
            action="other",
            status="other",
        )
        == 1
    )
    assert (
        scrape.value(
            "gateway_requests_total",
            endpoint="chat.completions",
            destination="openai",
            action="allow",
            status="none",
        )
        == 1
    )
    assert scrape.value("gateway_upstream_seconds_count", destination="other") == 1


def test_known_actions_are_all_accepted(parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit]) -> None:
    metrics, _, _ = parts
    actions: tuple[Action, ...] = ("allow", "pseudonymize", "hash", "redact", "route_local", "block")
    for action in actions:
        metrics.observe(exchange(action=action))
    scrape = parse_exposition(metrics.render().decode())
    assert {dict(k)["action"] for k in scrape.series("gateway_requests_total")} == set(actions)


def test_destination_names_are_escaped() -> None:
    odd = 'we"ird\\name\nx'
    metrics = Metrics([odd], {odd: FakeLocal(False)}, FakeAudit())
    metrics.observe(exchange(destination=odd, upstream_ms=5.0))
    text = metrics.render().decode()
    scrape = parse_exposition(text)
    assert scrape.value("gateway_local_up", destination=odd) == 0
    assert scrape.value("gateway_upstream_seconds_count", destination=odd) == 1
    assert 'destination="we\\"ird\\\\name\\nx"' in text


def test_request_content_and_model_names_never_appear(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, _, _ = parts
    ex = exchange(upstream_ms=3.0)
    ex.model = "gpt-canary-model-7f3a"
    ex.raw_body = b'{"messages":[{"content":"canary-secret-9c1e"}]}'
    ex.error = "canary-error-4d2b"
    metrics.observe(ex)
    text = metrics.render().decode()
    for canary in ("canary", "gpt-4o-mini"):
        assert canary not in text


def test_local_up_and_audit_failures_are_read_at_scrape_time(
    parts: tuple[Metrics, dict[str, FakeLocal], FakeAudit],
) -> None:
    metrics, locals_, audit = parts
    assert parse_exposition(metrics.render().decode()).value("gateway_local_up", destination="local") == 1
    locals_["local"].ready = False
    audit.failed = 3
    audit.available = False
    audit.anchor_failures = 2
    scrape = parse_exposition(metrics.render().decode())
    assert scrape.value("gateway_local_up", destination="local") == 0
    assert scrape.value("gateway_audit_failed_total") == 3
    assert scrape.value("gateway_audit_store_up") == 0
    assert scrape.value("gateway_audit_anchor_failures_total") == 2


def test_metrics_are_per_instance() -> None:
    first = Metrics(["openai"], {}, FakeAudit())
    second = Metrics(["openai"], {}, FakeAudit())
    first.observe(exchange())
    assert parse_exposition(second.render().decode()).series("gateway_requests_total") == {}


@pytest.mark.parametrize(
    "text",
    [
        "x 1",  # no final newline
        "x 1\n",  # no TYPE
        '# TYPE x counter\nx{a="1"} 1\nx{a="1"} 2\n',  # duplicate
        "# TYPE x counter\nx{a=1} 1\n",  # unquoted label
        '# TYPE h histogram\nh_bucket{le="1.0"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
        '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
    ],
)
def test_the_parser_rejects_broken_text(text: str) -> None:
    with pytest.raises(AssertionError):
        parse_exposition(text)


# --- settings ------------------------------------------------------------------------------------


def test_metrics_settings_default_open_and_token_from_environment() -> None:
    plain = settings_from_mapping({}, source="<t>", environ={})
    assert plain.file.metrics.enabled and plain.file.metrics.token_env is None
    assert plain.metrics_token is None
    tokened = settings_from_mapping(
        {"metrics": {"token_env": "SCRAPE_TOKEN"}}, source="<t>", environ={"SCRAPE_TOKEN": " s3cret \n"}
    )
    assert tokened.metrics_token == "s3cret"
    assert "s3cret" not in repr(tokened)
    # An unset variable is not a start-up error (the CLI's offline commands read the same file);
    # the endpoint then refuses every scrape.
    unset = settings_from_mapping({"metrics": {"token_env": "SCRAPE_TOKEN"}}, source="<t>", environ={})
    assert unset.metrics_token is None


def test_metrics_settings_refuse_unknown_keys_and_bad_tokens() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.tokn_env"):
        settings_from_mapping({"metrics": {"tokn_env": "X"}}, source="<t>", environ={})
    with pytest.raises(ConfigError, match=r"metrics\.token_env"):
        settings_from_mapping({"metrics": {"token_env": "X"}}, source="<t>", environ={"X": "a b"})
