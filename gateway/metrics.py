"""Prometheus metrics: request counts and latencies, local destination readiness, lost audit rows.

Hand-written text exposition format 0.0.4, so there is no global registry and no dependency: each
:class:`Metrics` holds its own numbers, and two gateways in one process (as in the tests) never
share them.  Every label value comes from a closed set (endpoints, policy actions, HTTP statuses)
or from the configuration (destination names); anything else is folded into ``other``.  Request
content, models and users are never labels: they would leak content and grow without bound.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, get_args

from gateway.endpoints import ENDPOINTS
from gateway.policy.schema import Action

if TYPE_CHECKING:
    from gateway.exchange import Exchange

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

NONE = "-"  # no destination (the request failed before routing)
OTHER = "other"  # a value outside the label's known set
NO_ACTION = "none"  # no policy decision (the request failed before the policy stage)
UNKNOWN_ENDPOINT = "unknown"  # a path outside the surface
NO_STATUS = "none"  # no answer was started (e.g. the task was cancelled at shutdown)

# Scans normally take milliseconds; the top buckets show requests near the scan timeout (15 s default).
SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)
# Time to the destination's response headers: milliseconds for a cached local answer, minutes for a
# long non-streamed generation (the total deadline defaults to 900 s).
UPSTREAM_BUCKETS = (
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0,
)  # fmt: skip
REQUEST_BUCKETS = (0.005, *UPSTREAM_BUCKETS)


class SupportsReady(Protocol):
    @property
    def ready(self) -> bool: ...


class SupportsFailed(Protocol):
    @property
    def failed(self) -> int: ...

    @property
    def available(self) -> bool: ...

    @property
    def anchor_failures(self) -> int: ...


class SupportsShed(Protocol):
    @property
    def shed(self) -> Mapping[str, int]: ...

    @property
    def active(self) -> int: ...

    @property
    def draining(self) -> bool: ...


class SupportsScanLoad(Protocol):
    @property
    def shed(self) -> Mapping[str, int]: ...

    @property
    def running(self) -> int: ...

    @property
    def waiting(self) -> int: ...


class _Histogram:
    """One histogram family: per label set, a count per bucket (not cumulative), the sum and the count."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float], labels: Sequence[str]) -> None:
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("histogram buckets must be increasing")
        self.name, self.help, self.labels = name, help_text, tuple(labels)
        self.bounds = tuple(float(b) for b in buckets)
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, values: tuple[str, ...], seconds: float) -> None:
        if not math.isfinite(seconds):
            return
        seconds = max(seconds, 0.0)
        counts, total = self._series.setdefault(values, ([0] * (len(self.bounds) + 1), [0.0]))
        # The last slot is the +Inf bucket; bisect is not worth it for under 20 bounds.
        index = next((i for i, bound in enumerate(self.bounds) if seconds <= bound), len(self.bounds))
        counts[index] += 1
        total[0] += seconds

    def render(self, out: list[str]) -> None:
        _header(out, self.name, self.help, "histogram")
        for values, (counts, total) in sorted(self._series.items()):
            pairs = list(zip(self.labels, values, strict=True))
            running = 0
            for bound, count in zip((*self.bounds, math.inf), counts, strict=True):
                running += count
                out.append(f"{self.name}_bucket{_labels([*pairs, ('le', _number(bound))])} {running}")
            out.append(f"{self.name}_sum{_labels(pairs)} {_number(total[0])}")
            out.append(f"{self.name}_count{_labels(pairs)} {running}")


class Metrics:
    """The gateway's metrics.  ``observe`` takes each finished exchange; ``render`` answers a scrape.

    Local readiness and lost audit rows are read from their owners at scrape time, so they are never
    stale and nothing has to push them here.
    """

    def __init__(
        self,
        destinations: Iterable[str],
        locals_: Mapping[str, SupportsReady],
        audit: SupportsFailed,
        admission: SupportsShed | None = None,
        scanner: SupportsScanLoad | None = None,
    ) -> None:
        self._admission = admission
        self._scanner = scanner
        self._cuts: dict[str, int] = {}
        self._destinations = frozenset(destinations)
        self._locals = locals_
        self._audit = audit
        self._endpoints = frozenset(e.name for e in ENDPOINTS)
        self._actions = frozenset(get_args(Action))
        # observe() and render() both run on the event loop today; the lock keeps a render from a
        # thread (a test, a future exporter) from reading a series while it is being updated.
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str, str], int] = {}
        self._scan = _Histogram("gateway_scan_seconds", "Time to scan a request (stage 4).", SCAN_BUCKETS, ())
        self._upstream = _Histogram(
            "gateway_upstream_seconds",
            "Time from sending a request to the destination's response headers.",
            UPSTREAM_BUCKETS,
            ("destination",),
        )
        self._request = _Histogram(
            "gateway_request_seconds",
            "Time the gateway spent on a request, answer streaming included.",
            REQUEST_BUCKETS,
            ("endpoint",),
        )

    def observe(self, ex: Exchange) -> None:
        """Count one finished exchange; called once per request, in the pipeline's ``finally``."""
        endpoint = self.endpoint_label(ex.endpoint.name if ex.endpoint is not None else None)
        destination = self.destination_label(ex.route.destination.name if ex.route is not None else None)
        action = self.action_label(ex.decision.action if ex.decision is not None else None)
        status = status_label(ex.status)
        elapsed = ex.elapsed_ms() / 1000.0
        with self._lock:
            key = (endpoint, destination, action, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            if ex.scan_ms is not None:
                self._scan.observe((), ex.scan_ms / 1000.0)
            if ex.upstream_ms is not None:
                self._upstream.observe((destination,), ex.upstream_ms / 1000.0)
            self._request.observe((endpoint,), elapsed)

    def cut(self, reason: str) -> None:
        """Count a client connection the server cut (a deadline or a header limit, gateway.serving)."""
        with self._lock:
            self._cuts[reason] = self._cuts.get(reason, 0) + 1

    def render(self) -> bytes:
        out: list[str] = []
        with self._lock:
            _header(
                out,
                "gateway_client_cuts_total",
                "Client connections cut: deadlines, header limits.",
                "counter",
            )
            for reason, count in sorted(self._cuts.items()):
                out.append(f"gateway_client_cuts_total{_labels([('reason', reason)])} {count}")
            _header(out, "gateway_requests_total", "Requests handled, by outcome.", "counter")
            names = ("endpoint", "destination", "action", "status")
            for values, count in sorted(self._requests.items()):
                out.append(f"gateway_requests_total{_labels(zip(names, values, strict=True))} {count}")
            self._scan.render(out)
            self._upstream.render(out)
            self._request.render(out)
        _header(out, "gateway_local_up", "1 when the local destination is ready for requests.", "gauge")
        for name in sorted(self._locals):
            up = 1 if self._locals[name].ready else 0
            out.append(f"gateway_local_up{_labels([('destination', self.destination_label(name))])} {up}")
        _header(
            out, "gateway_audit_failed_total", "Audit records that could not be written (lost).", "counter"
        )
        out.append(f"gateway_audit_failed_total {self._audit.failed}")
        _header(out, "gateway_audit_store_up", "1 when audit records can be written.", "gauge")
        out.append(f"gateway_audit_store_up {1 if self._audit.available else 0}")
        _header(
            out,
            "gateway_audit_anchor_failures_total",
            "Chain heads that could not be copied outside the database (audit.anchor).",
            "counter",
        )
        out.append(f"gateway_audit_anchor_failures_total {self._audit.anchor_failures}")
        if self._admission is not None:
            _header(out, "gateway_shed_total", "Requests refused by admission, by reason.", "counter")
            shed = dict(self._admission.shed)
            if self._scanner is not None:
                shed.update(self._scanner.shed)
            for reason, count in sorted(shed.items()):
                out.append(f"gateway_shed_total{_labels([('reason', reason)])} {count}")
            _header(out, "gateway_active_requests", "Model requests in flight.", "gauge")
            out.append(f"gateway_active_requests {self._admission.active}")
            _header(out, "gateway_draining", "1 while the process drains for shutdown.", "gauge")
            out.append(f"gateway_draining {1 if self._admission.draining else 0}")
        if self._scanner is not None:
            _header(out, "gateway_scans_running", "Scans running on a scan thread.", "gauge")
            out.append(f"gateway_scans_running {self._scanner.running}")
            _header(out, "gateway_scans_waiting", "Scans waiting for a scan thread.", "gauge")
            out.append(f"gateway_scans_waiting {self._scanner.waiting}")
        return ("\n".join(out) + "\n").encode("utf-8")

    def endpoint_label(self, name: str | None) -> str:
        if name is None:
            return UNKNOWN_ENDPOINT
        return name if name in self._endpoints else OTHER

    def destination_label(self, name: str | None) -> str:
        if name is None:
            return NONE
        return name if name in self._destinations else OTHER

    def action_label(self, action: str | None) -> str:
        if action is None:
            return NO_ACTION
        return action if action in self._actions else OTHER


def status_label(status: int | None) -> str:
    if status is None:
        return NO_STATUS
    return str(status) if 100 <= status <= 599 else OTHER


def _header(out: list[str], name: str, help_text: str, kind: str) -> None:
    out.append(f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
    out.append(f"# TYPE {name} {kind}")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return f"{{{inner}}}" if inner else ""


def _escape(value: str) -> str:
    # The format's three escapes; destination names come from YAML keys and may hold any of them.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
