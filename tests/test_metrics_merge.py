"""Merging workers' expositions into one scrape: literal inputs, literal outputs."""

from __future__ import annotations

import os
from pathlib import Path

from gateway.metrics_merge import WorkerMetrics, merge

A = b"""# HELP gateway_requests_total Requests handled, by outcome.
# TYPE gateway_requests_total counter
gateway_requests_total{endpoint="chat.completions",status="200"} 3
# HELP gateway_audit_store_up 1 when audit records can be written.
# TYPE gateway_audit_store_up gauge
gateway_audit_store_up 1
# HELP gateway_draining 1 while the process drains for shutdown.
# TYPE gateway_draining gauge
gateway_draining 0
# HELP gateway_active_requests Model requests in flight.
# TYPE gateway_active_requests gauge
gateway_active_requests 2
# HELP gateway_scan_seconds Time to scan a request.
# TYPE gateway_scan_seconds histogram
gateway_scan_seconds_bucket{le="0.1"} 1
gateway_scan_seconds_bucket{le="+Inf"} 3
gateway_scan_seconds_sum 0.25
gateway_scan_seconds_count 3
"""
B = b"""# HELP gateway_requests_total Requests handled, by outcome.
# TYPE gateway_requests_total counter
gateway_requests_total{endpoint="chat.completions",status="200"} 4
gateway_requests_total{endpoint="embeddings",status="200"} 1
# HELP gateway_audit_store_up 1 when audit records can be written.
# TYPE gateway_audit_store_up gauge
gateway_audit_store_up 0
# HELP gateway_draining 1 while the process drains for shutdown.
# TYPE gateway_draining gauge
gateway_draining 1
# HELP gateway_active_requests Model requests in flight.
# TYPE gateway_active_requests gauge
gateway_active_requests 5
# HELP gateway_scan_seconds Time to scan a request.
# TYPE gateway_scan_seconds histogram
gateway_scan_seconds_bucket{le="0.1"} 2
gateway_scan_seconds_bucket{le="+Inf"} 2
gateway_scan_seconds_sum 0.125
gateway_scan_seconds_count 2
gateway_scan_seconds_count 2 torn-line
"""


def _values(text: bytes) -> dict[str, str]:
    lines = [line for line in text.decode().splitlines() if line and not line.startswith("#")]
    return dict(line.rsplit(" ", 1) for line in lines)


def test_counters_and_histograms_add_up_gauges_follow_their_meaning() -> None:
    merged = _values(merge(A, [(B, True)]))
    assert merged['gateway_requests_total{endpoint="chat.completions",status="200"}'] == "7"
    assert merged['gateway_requests_total{endpoint="embeddings",status="200"}'] == "1"
    assert merged["gateway_audit_store_up"] == "0"  # up only when every worker is
    assert merged["gateway_draining"] == "1"  # draining when any worker is
    assert merged["gateway_active_requests"] == "7"
    assert merged['gateway_scan_seconds_bucket{le="+Inf"}'] == "5"
    assert merged["gateway_scan_seconds_sum"] == "0.375"
    assert merged["gateway_scan_seconds_count"] == "5"  # the torn line was skipped


def test_a_dead_workers_gauges_are_left_out_and_its_counters_kept() -> None:
    merged = _values(merge(A, [(B, False)]))
    assert merged["gateway_audit_store_up"] == "1" and merged["gateway_active_requests"] == "2"
    assert merged['gateway_requests_total{endpoint="chat.completions",status="200"}'] == "7"


def test_each_family_keeps_one_help_and_type_line() -> None:
    text = merge(A, [(B, True), (A, True)]).decode()
    assert text.count("# TYPE gateway_requests_total counter") == 1
    assert text.count("# HELP gateway_scan_seconds ") == 1


def test_snapshots_are_replaced_whole_and_peers_exclude_the_reader(tmp_path: Path) -> None:
    me, other = WorkerMetrics(tmp_path, pid=os.getpid()), WorkerMetrics(tmp_path, pid=2**22 + 7)
    me.write(A)
    other.write(B)
    assert me.peers() == [(B, False)]  # that pid does not run: its gauges will be left out
    # Written through a partial file and renamed: nothing half-written is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{os.getpid()}.prom", f"{2**22 + 7}.prom"])
