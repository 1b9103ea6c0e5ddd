"""The third-party ``pii-leak-benchmark`` against the real gateway.

The benchmark runs its own capture server as the gateway's upstream, sends personal data (and
credential specimens) through the gateway, and checks that none of it reached the capture raw and that
the answers come back with the original values.  It runs as a subprocess, the gateway in-process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Fakes, Gateway, start_gateway

POLICY = """
policy: conformance
description: Pseudonymize personal data and credentials for every destination; restore them in answers.
rules:
  - id: pseudonymize-sensitive
    when: {data_classes: [personal_data, credentials]}
    action: pseudonymize
"""
BIN = Path(sys.executable).parent
CI_TOOL = BIN / "pii-leak-benchmark"
V2_TOOL = BIN / "pii-leak-benchmark-v2"


@pytest.fixture(autouse=True)
def _tools_installed() -> None:
    # A missing tool is a broken install (it is in the test extras), not a reason to skip.
    if not (CI_TOOL.exists() and V2_TOOL.exists()):
        pytest.fail(f"pii-leak-benchmark is not installed next to {sys.executable}: pip install -e '.[test]'")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _destination(port: int, models: list[str]) -> dict[str, Any]:
    return {
        "type": "openai",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "api_key_env": "FAKE_OPENAI_KEY",
        "jurisdiction": "US",
        "models": models,
    }


class Bench:
    def __init__(self, gateway: Gateway, ci_port: int, v2_port: int) -> None:
        self.gateway, self.ci_port, self.v2_port = gateway, ci_port, v2_port


@pytest.fixture(scope="module")
def bench(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("bench")
    policy = root / "conformance.yaml"
    policy.write_text(POLICY)
    ci_port, v2_port = _free_port(), _free_port()
    # The benchmark's capture servers are the upstreams, chosen by model name.
    destinations = {
        "conformance": _destination(ci_port, ["conformance-*"]),
        "v2": _destination(v2_port, ["test"]),
    }
    gw = start_gateway(
        fakes, f"sqlite:///{root / 'gateway.db'}", destinations=destinations, policies=[str(policy)]
    )
    yield Bench(gw, ci_port, v2_port)
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def _run(args: list[str], timeout: float, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")[-3000:] if isinstance(exc.stdout, bytes) else (exc.stdout or "")[-3000:]
        pytest.fail(f"{Path(args[0]).name} did not finish within {timeout}s; output tail:\n{out}")


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout tail:\n{proc.stdout[-3000:]}\nstderr tail:\n{proc.stderr[-2000:]}"


def test_ci_check_is_clean(bench: Bench, tmp_path: Path) -> None:
    out = tmp_path / "ci"
    proc = _run(
        [
            str(CI_TOOL),
            "ci",
            "--target-base-url",
            f"{bench.gateway.url}/v1",
            "--target-model",
            "conformance-model",
            "--capture-port",
            str(bench.ci_port),
            "--out",
            str(out),
        ],
        timeout=120,
        env=_env(CONFORMANCE_TARGET_API_KEY=bench.gateway.key),
    )
    assert proc.returncode == 0, _tail(proc)
    current = json.loads((out / "current.json").read_text())
    raw = json.loads((out / "current.raw.json").read_text())
    assert current["verdict"] == "CLEAN", _tail(proc)
    entities = current["entities"]  # entity type -> "contained" | "leaked" | ...
    assert entities and set(entities.values()) == {"contained"}, entities
    assert all(current["required_checks"].values()), current["required_checks"]
    checks = raw["checks"]
    assert checks["configured_upstream_boundary"]["leaked_entity_types"] == [], checks
    assert checks["response_fidelity"]["iterations_matching"] == 3, checks["response_fidelity"]


def test_v2_gateway_suite_passes(bench: Bench, tmp_path: Path) -> None:
    out = tmp_path / "v2"
    summary = out / "summary.json"
    proc = _run(
        [
            str(V2_TOOL),
            "--gateway-url",
            f"{bench.gateway.url}/v1/chat/completions",
            "--only",
            "gateway",
            "--upstream-port",
            str(bench.v2_port),
            "--model",
            "test",
            "--exhaustive-splits",
            "--seed",
            "00c0ffee",
            "--out",
            str(out),
            "--json-out",
            str(summary),
        ],
        timeout=300,
        env=_env(CONFORMANCE_TARGET_API_KEY=bench.gateway.key),
    )
    # The tool exits 0 even when the gateway leaks: the verdict is in the summary.
    assert proc.returncode == 0 and summary.exists(), _tail(proc)
    row = json.loads(summary.read_text())["rows"][0]
    got = {
        k: row.get(k)
        for k in (
            "outcome",
            "leak_adversarial",
            "leak_single_chunk",
            "fidelity_rate",
            "inconclusive",
            "cases_applicable",
            "request_path_leak",
        )
    }
    assert got == {
        "outcome": "pass",
        "leak_adversarial": 0.0,
        "leak_single_chunk": 0.0,
        "fidelity_rate": 1.0,
        "inconclusive": 0,
        "cases_applicable": 32,
        "request_path_leak": [],
    }, f"{got}\n{_tail(proc)}"
