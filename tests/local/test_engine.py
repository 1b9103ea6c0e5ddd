"""The embedded engine for real: llama.cpp (xllamacpp) in a child process, on the generated model."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from gateway.endpoints import Destination
from gateway.local import tiny_moe
from gateway.local.engine import EmbeddedEngine, EngineStartError, resolve_model
from gateway.local.tiny_moe import ModelIntegrityError
from gateway.scan.model_files import sha256_file
from gateway.settings import DestinationSettings, EngineSettings

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def destination(engine: EngineSettings, **extra: Any) -> Destination:
    return Destination(
        "local",
        DestinationSettings(type="local", jurisdiction="LOCAL", engine=engine, probe_interval=0.2, **extra),
    )


def small(**extra: Any) -> EngineSettings:
    return EngineSettings(context_size=2048, parallel=1, threads=1, **extra)


def gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def children_of_this_process() -> set[int]:
    """Live (not zombie) child processes, from /proc."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and fields[0] != "Z":
            found.add(int(entry.name))
    return found


# --- which model is loaded ----------------------------------------------------------------------


def test_resolve_model_checks_a_given_file(tmp_path: Path) -> None:
    model = tmp_path / "real.gguf"
    model.write_bytes(b"GGUF" + bytes(range(256)) * 4)
    right = sha256_file(model)
    wrong = ("0" if right[0] != "0" else "1") + right[1:]
    with pytest.raises(ModelIntegrityError) as info:
        resolve_model(EngineSettings(model_path=str(model), model_sha256=wrong), tmp_path / "cache")
    assert str(model) in str(info.value)
    assert resolve_model(EngineSettings(model_path=str(model), model_sha256=right), tmp_path / "c") == model
    # Without a hash the path is taken as given.
    assert resolve_model(EngineSettings(model_path=str(model)), tmp_path / "c") == model
    assert not (tmp_path / "c").exists() and not (tmp_path / "cache").exists()  # nothing generated


def test_resolve_model_defaults_to_the_generated_model(tmp_path: Path) -> None:
    path = resolve_model(EngineSettings(), tmp_path / "cache")
    assert path == tmp_path / "cache" / tiny_moe.FILE_NAME
    assert sha256_file(path) == tiny_moe.SHA256


# --- start-up failures --------------------------------------------------------------------------


def test_a_garbage_model_fails_start_and_leaves_no_process(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(os.urandom(64 * 1024))
    before = children_of_this_process()

    async def scenario() -> EmbeddedEngine:
        async with httpx.AsyncClient() as client:
            engine = EmbeddedEngine(
                destination(small(model_path=str(garbage), start_timeout=60)), client, tmp_path
            )
            with pytest.raises(EngineStartError, match="did not start"):
                await engine.start()
            assert not engine.ready
            assert engine.pid is None
            await engine.close()
            return engine

    engine = run(scenario())
    assert engine.starts == 1
    assert children_of_this_process() - before == set()


# --- the real engine ----------------------------------------------------------------------------


def test_engine_starts_serves_with_its_key_restarts_and_stops(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            engine = EmbeddedEngine(destination(small()), client, tmp_path / "cache")
            assert not engine.ready
            await engine.start()
            try:
                assert engine.ready and engine.detail == "ready"
                assert engine.starts == 1
                assert engine.startup_seconds is not None and 0 < engine.startup_seconds < 120
                assert engine.alias == tiny_moe.NAME
                base = engine.base_url
                assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
                port = int(base.removeprefix("http://127.0.0.1:").removesuffix("/v1"))
                assert 0 < port < 65536
                body = {
                    "model": tiny_moe.NAME,
                    "messages": [{"role": "user", "content": "Hello there"}],
                    "max_tokens": 4,
                    "temperature": 0,
                }
                # Other local users cannot use it: no key, or a wrong one, is refused.
                refused = await client.post(f"{base}/chat/completions", json=body, timeout=30)
                assert refused.status_code == 401
                wrong = await client.post(
                    f"{base}/chat/completions",
                    json=body,
                    headers={"authorization": "Bearer not-the-key"},
                    timeout=30,
                )
                assert wrong.status_code == 401
                answer = await client.post(
                    f"{base}/chat/completions", json=body, auth=engine.auth(), timeout=60
                )
                assert answer.status_code == 200
                reply = answer.json()
                assert reply["object"] == "chat.completion"
                assert reply["choices"][0]["message"]["role"] == "assistant"
                assert 1 <= reply["usage"]["completion_tokens"] <= 4
                listed = await client.get(f"{base}/models", auth=engine.auth(), timeout=30)
                assert tiny_moe.NAME in [m["id"] for m in listed.json()["data"]]

                # Killed: the watcher notices, refuses meanwhile, and starts a new one with a new key.
                first_pid, first_auth = engine.pid, engine.auth()
                assert first_pid is not None
                os.kill(first_pid, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while not (engine.ready and engine.starts >= 2):
                    assert time.monotonic() < deadline, f"engine not back: {engine.detail}"
                    await asyncio.sleep(0.05)
                assert engine.pid is not None and engine.pid != first_pid
                assert gone(first_pid, within=0.5)
                assert engine.auth() is not first_auth
                again = await client.post(
                    f"{engine.base_url}/chat/completions", json=body, auth=engine.auth(), timeout=60
                )
                assert again.status_code == 200
                stale = await client.post(
                    f"{engine.base_url}/chat/completions", json=body, auth=first_auth, timeout=30
                )
                assert stale.status_code == 401
            finally:
                last_pid = engine.pid
                await engine.close()
            assert not engine.ready and engine.detail == "stopped"
            assert engine.pid is None
            assert last_pid is not None and gone(last_pid)

    run(scenario())
