"""The embedded engine: llama.cpp's server in a child process, supervised by the gateway.

Start-up generates (or verifies) the model, starts :mod:`gateway.local.engine_child`, waits for it
to listen, to report healthy and to answer a one-token probe.  Then a watcher restarts it when it
dies (with backoff) or stops answering its health check, and the gateway refuses local requests
(503 ``local_unavailable``) while it is down; shutdown closes the child's stdin, which stops it.

The engine listens on 127.0.0.1 on a port it picks, and only accepts a key made for this start, so
other local users cannot use it (or read what it is asked) through its HTTP API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sys
import time
from pathlib import Path

import httpx

from gateway.endpoints import Destination
from gateway.local import tiny_moe
from gateway.local.backend import LocalBackend
from gateway.scan.model_files import sha256_file
from gateway.settings import EngineSettings
from gateway.upstream.credentials import BearerKey

log = logging.getLogger("gateway.local")

HEALTH_TIMEOUT = 5.0
MAX_BACKOFF = 30.0


class EngineStartError(RuntimeError):
    """The engine did not come up; the message names the reason, never a prompt."""


# What a restart may run into; each is retried with backoff while local requests get 503.
_START_FAILURES = (EngineStartError, tiny_moe.ModelIntegrityError, OSError, TimeoutError, ValueError)


def resolve_model(settings: EngineSettings, cache_dir: Path) -> Path:
    """The GGUF to load, checked: the generated model against its recorded hash, a given file against
    ``model_sha256`` when set."""
    if settings.model_path is None:
        return tiny_moe.ensure(cache_dir)
    path = Path(settings.model_path)
    if settings.model_sha256 is not None:
        found = sha256_file(path)
        if found != settings.model_sha256:
            raise tiny_moe.ModelIntegrityError(f"{path}: SHA-256 {found} is not the configured model_sha256")
    return path


class EmbeddedEngine(LocalBackend):
    def __init__(self, dest: Destination, client: httpx.AsyncClient, cache_dir: Path) -> None:
        super().__init__(dest)
        self._settings = dest.settings.engine or EngineSettings()
        self._client = client
        self._cache_dir = cache_dir
        self._model: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._address: str | None = None
        self._key = ""
        self._auth = BearerKey("")
        self.starts = 0  # engine processes started so far (the first one included)
        self.startup_seconds: float | None = None  # the last start: spawn to first probe answered

    @property
    def alias(self) -> str:
        return self.dest.settings.model or (
            tiny_moe.NAME if self._settings.model_path is None else Path(self._settings.model_path).stem
        )

    @property
    def base_url(self) -> str:
        return f"{self._address}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def auth(self) -> httpx.Auth:
        return self._auth

    async def start(self) -> None:
        """The first start must succeed: a model that cannot load is a configuration error."""
        await self._spawn()
        self._task = asyncio.create_task(self._watch())

    async def close(self) -> None:
        await super().close()
        self._set(False, "stopped")
        await self._stop()

    async def _spawn(self) -> None:
        started = time.perf_counter()
        # Checked before every start, restarts included: a model file changed on disk is never run.
        self._model = await asyncio.to_thread(resolve_model, self._settings, self._cache_dir)
        self._key = secrets.token_urlsafe(32)
        self._auth = BearerKey(self._key)
        config = {
            "model": str(self._model),
            "alias": self.alias,
            "context": self._settings.context_size,
            "parallel": self._settings.parallel,
            "threads": self._settings.threads,
            "api_key": self._key,
        }
        # stderr is dropped: llama.cpp's log is not ours to vet, and request content must not reach a log.
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.local.engine_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self._proc = proc
        self.starts += 1
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(config).encode() + b"\n")
            await proc.stdin.drain()
            async with asyncio.timeout(self._settings.start_timeout):
                line = await proc.stdout.readline()
                reply = json.loads(line) if line else {"error": f"exited with status {await proc.wait()}"}
                if "address" not in reply:
                    raise EngineStartError(f"the local engine did not start: {reply.get('error')}")
                self._address = str(reply["address"])
                await self._until_ready()
        except BaseException:
            await self._stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        self._set(True, "ready")
        log.info(
            "local engine for '%s' started in %.2fs (pid %d, model %s)",
            self.dest.name,
            self.startup_seconds,
            proc.pid,
            self._model.name,
        )

    async def _until_ready(self) -> None:
        # llama.cpp answers /health with 503 while the model loads.
        while not await self._healthy():
            if self._proc is None or self._proc.returncode is not None:
                raise EngineStartError("the local engine exited while loading the model")
            await asyncio.sleep(0.05)
        problem = await self.probe(self._client, self.alias)
        if problem is not None:
            raise EngineStartError(f"the local engine does not answer: {problem}")

    async def _healthy(self) -> bool:
        try:
            reply = await self._client.get(f"{self._address}/health", timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError:
            return False
        return reply.status_code == 200

    async def _watch(self) -> None:
        backoff = 0.5
        while True:
            proc = self._proc
            assert proc is not None
            exited = await _exited_within(proc, self.dest.settings.probe_interval)
            if not exited and await self._healthy():
                backoff = 0.5
                continue
            why = f"exited with status {proc.returncode}" if exited else "stopped answering its health check"
            self._set(False, f"the engine {why}; restarting")
            await self._stop()
            while True:
                try:
                    await self._spawn()
                    break
                except (
                    EngineStartError,
                    tiny_moe.ModelIntegrityError,
                    OSError,
                    TimeoutError,
                    ValueError,
                ) as exc:
                    self._set(False, f"the engine failed to restart ({type(exc).__name__})")
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()  # the child's signal to exit
        try:
            async with asyncio.timeout(5.0):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _exited_within(proc: asyncio.subprocess.Process, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await proc.wait()
            return True
    return False
