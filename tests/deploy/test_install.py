"""The image's install steps and the README's quick start, each run in a fresh virtualenv from a
clean copy of the repository (what git tracks, plus new files not ignored), and then asked for an
answer.  Slow (each installs every dependency from the package index, about a minute), and the only
way to know that a newcomer's first commands and the container build work without a daemon."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli_serve import _wait_healthy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    target = tmp_path / "clone"
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            (target / name).symlink_to(source.readlink())
        else:
            shutil.copy2(source, target / name)
    yield target


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _ask_local_model(base: str, gateway: Path, cwd: Path, env: dict[str, str]) -> httpx.Response:
    created = subprocess.run(
        [str(gateway), "keys", "create", "--user", "newcomer"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    body = {"model": "local-try", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
    return httpx.post(
        f"{base}/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=60
    )


def _wait_ready(proc: subprocess.Popen[str], base: str) -> None:
    _wait_healthy(proc, base, timeout=180, path="/readyz")


def test_the_install_script_installs_a_gateway_that_starts_and_answers(clone: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "opt-gateway"
    installed = subprocess.run(
        ["sh", str(clone / "deploy" / "install.sh"), str(prefix)], capture_output=True, text=True, timeout=900
    )
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert "all files match model_hashes.json" in installed.stdout
    # The start-up step, from an empty directory, as the image runs it (no config: built-in defaults).
    work = tmp_path / "var-lib-gateway"
    work.mkdir()
    (work / "secret").write_text("hex:" + "ab" * 32 + "\n")
    port = 18000 + (abs(hash(str(tmp_path))) % 2000)
    env = {
        "PATH": f"{prefix / 'bin'}:/usr/bin:/bin",
        "GATEWAY_SECRET_FILE": str(work / "secret"),
        "HOME": str(work),
    }
    proc = subprocess.Popen(
        [str(prefix / "bin" / "gateway"), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(proc, f"http://127.0.0.1:{port}")
        answer = _ask_local_model(f"http://127.0.0.1:{port}", prefix / "bin" / "gateway", work, env)
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["role"] == "assistant"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    assert "gateway: policy: default" in output and str(prefix) in output  # the packaged policy


def _quick_start(readme: str) -> list[str]:
    section = readme.split("## Set-up", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_quick_start_verbatim_gets_an_answer(clone: Path) -> None:
    assert _port_free(8080), "the quick start serves on 8080, which something else holds"
    commands = _quick_start((clone / "README.md").read_text())
    *setup, serve = commands
    assert "gateway serve" in serve
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(clone)}
    for command in setup:
        done = subprocess.run(
            ["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    proc = subprocess.Popen(
        ["bash", "-c", serve],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(proc, "http://127.0.0.1:8080")
        gateway_env = {**env, "GATEWAY_SECRET_FILE": "gateway.secret"}
        answer = _ask_local_model(
            "http://127.0.0.1:8080", clone / ".venv" / "bin" / "gateway", clone, gateway_env
        )
        assert answer.status_code == 200, answer.text
        # A provider whose key is not set: refused, naming the missing key.
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
        key = answer.request.headers["authorization"]
        refused = httpx.post(
            "http://127.0.0.1:8080/v1/chat/completions", json=body, headers={"authorization": key}
        )
        assert refused.status_code == 503 and "OPENAI_API_KEY" in refused.json()["error"]["message"]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    assert "RANDOM weights" in output  # the start-up summary says what the local model is
