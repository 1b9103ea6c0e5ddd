"""``gateway serve`` as a real process: config file, key creation, health, a proxied request, shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai

from tests.e2e.conftest import OPENAI_KEY, Fakes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_key(env: dict[str, str]) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "create", "--user", "dora"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return created.stdout.strip().splitlines()[-1]


def _environ(config: Path) -> dict[str, str]:
    """The child's environment: the config, the provider key, and a secret file next to the config."""
    secret = config.with_name("gateway.secret")
    secret.write_text("hex:" + "7a" * 32 + "\n")
    secret.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_SECRET")}
    return {**env, "FAKE_KEY": OPENAI_KEY, "GATEWAY_CONFIG": str(config), "GATEWAY_SECRET_FILE": str(secret)}


def _serve(config: Path, *flags: str) -> tuple[dict[str, str], str, subprocess.Popen[str]]:
    """A key, then ``gateway serve`` as a child process with its output captured."""
    env = _environ(config)
    if "--dev" in flags:
        del env["GATEWAY_SECRET_FILE"]
    key = _create_key(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return env, key, proc


def _wait_healthy(
    proc: subprocess.Popen[str], base: str, timeout: float = 30, path: str = "/healthz"
) -> None:
    """Until ``path`` answers 200; the process's output if it ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "gateway did not come up"
        time.sleep(0.1)


def test_serve_process(fakes: Fakes, tmp_path: Path) -> None:
    port = _free_port()
    config = openai_only_config(fakes, tmp_path, port)
    _, key, proc = _serve(config)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(proc, base)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["status"] == "ready"
        assert ready["destinations"] == 1 and ready["destinations_without_credentials"] == 0
        with openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0) as client:
            answer = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "yo"}]
            )
        assert answer.choices[0].message.content == "echo: yo"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    # uvicorn re-raises the signal after a clean shutdown, so the process ends "killed by SIGTERM".
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    # One line per request, with no provider key, gateway key or prompt text in the log.
    assert "chat.completions -> openai 200" in output
    for secret in (OPENAI_KEY, key, 'yo"', "echo: yo"):
        assert secret not in output


def test_sighup_reloads_the_policy_and_a_bad_policy_stops_the_start(fakes: Fakes, tmp_path: Path) -> None:
    port = _free_port()
    policy = tmp_path / "policy.yaml"
    policy.write_text("policy: open\nrules: []\n")
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
server: {{port: {port}}}
database_url: sqlite:///{tmp_path / "gw.db"}
policies: ["{policy}"]
policy_watch_interval: 0
scan: {{enabled: false}}
destinations:
  openai: {{type: openai, base_url: "{fakes.openai_url}/v1", api_key_env: FAKE_KEY, jurisdiction: US,
            models: ["gpt-*"]}}
"""
    )
    env, key, proc = _serve(config)
    base = f"http://127.0.0.1:{port}"

    def version() -> str:
        with openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0) as client:
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "yo"}]
            )
        return str(raw.headers["x-gateway-policy-version"])

    try:
        _wait_healthy(proc, base)
        first = version()
        policy.write_text("policy: open-again\nrules: []\n")
        time.sleep(0.3)
        assert version() == first, "with policy_watch_interval 0 only SIGHUP reloads"
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while version() == first:
            assert proc.poll() is None, "SIGHUP must not stop the gateway"
            assert time.monotonic() < deadline, "SIGHUP did not reload the policy"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert "policy sha256:" in output and "active" in output

    # A bad policy is a loud start-up failure naming the file and line, never a silent default.
    policy.write_text("policy: broken\nrules:\n  - id: x\n    action: explode\n")
    failed = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert failed.returncode == 2, failed.stderr
    assert f"{policy}:4: rules.0.action:" in failed.stderr


def openai_only_config(fakes: Fakes, tmp_path: Path, port: int, extra: str = "") -> Path:
    """gateway.yaml in ``tmp_path``: one OpenAI destination (the fake), SQLite, ``extra`` lines."""
    config = tmp_path / "gateway.yaml"
    config.write_text(
        f"""\
server: {{port: {port}}}
database_url: sqlite:///{tmp_path / "gw.db"}
destinations:
  openai: {{type: openai, base_url: "{fakes.openai_url}/v1", api_key_env: FAKE_KEY, jurisdiction: US,
            models: ["gpt-*"]}}
{extra}"""
    )
    return config


def test_no_secret_no_start_unless_development_mode_says_so_loudly(fakes: Fakes, tmp_path: Path) -> None:
    port = _free_port()
    config = openai_only_config(fakes, tmp_path, port, "scan: {enabled: false}\n")
    env = _environ(config)
    del env["GATEWAY_SECRET_FILE"]
    refused = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 2, refused.stderr
    assert "no secret" in refused.stderr and "GATEWAY_SECRET_FILE" in refused.stderr
    _, _, proc = _serve(config, "--dev")
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}")
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert "WARNING gateway.secret: DEVELOPMENT MODE" in output
