"""Stage 4 through the real server: findings reach the audit record; a failed scan sends nothing."""

from __future__ import annotations

import dataclasses
import json

import anthropic
import openai
import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.service import Scanner
from tests.e2e.conftest import Gateway

SENSITIVE = "I'm Maria Garcia, maria.garcia@example.org, AWS key AKIAIOSFODNN7EXAMPLE"


def test_findings_are_recorded_as_classes_and_counts_only(gateway: Gateway) -> None:
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": SENSITIVE}]
    )
    row = gateway.audit(raw.headers["x-request-id"])
    # The default policy keeps a request with a key on the local model.
    assert (row["destination"], row["action"], row["route_reason"]) == (
        "local",
        "route_local",
        "credentials-stay-local",
    )
    assert gateway.fakes.openai.received == [] and len(gateway.fakes.local.received) == 1
    classes = json.loads(row["data_classes"])
    assert classes["EMAIL_ADDRESS"] == 1 and classes["AWS_ACCESS_KEY_ID"] == 1 and classes["PERSON"] >= 1
    assert row["findings"] >= 3
    flat = json.dumps(row, default=str)
    for value in ("maria.garcia@example.org", "AKIAIOSFODNN7EXAMPLE", "Maria Garcia"):
        assert value not in flat


class _Broken:
    name = "broken"

    def detect(self, text: str) -> list[Hit]:
        raise RuntimeError("boom")


@pytest.fixture
def broken_scanner(gateway: Gateway):  # type: ignore[no-untyped-def]
    runtime = gateway.app.runtime
    scanner = Scanner(ScanEngine([_Broken()]), timeout=5)
    gateway.app._runtime = dataclasses.replace(runtime, scanner=scanner)
    yield
    gateway.app._runtime = runtime
    scanner.close()


@pytest.mark.usefixtures("broken_scanner")
def test_failed_scan_blocks_and_nothing_leaves(gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 503 and info.value.code == "scan_failed"
    with pytest.raises(anthropic.InternalServerError) as ainfo:
        gateway.anthropic().messages.create(
            model="claude-test-1", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert ainfo.value.status_code == 503
    assert gateway.fakes.openai.received == [] and gateway.fakes.anthropic.received == []
    row = gateway.audit(info.value.response.headers["x-request-id"])
    assert (row["status"], row["error"], row["action"]) == (503, "scan_failed", "block")
    assert json.loads(row["rules"]) == ["scan-failed-block"]
