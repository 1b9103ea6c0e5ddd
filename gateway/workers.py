"""``gateway serve --workers N``: N worker processes on one port, each a whole gateway.

Scanning is CPU-bound Python, so one process uses about one core whatever its threads do.  The
supervisor (the process ``gateway serve`` started) runs N children of ``gateway serve --worker K``;
each binds the port with ``SO_REUSEPORT`` (the kernel spreads new connections over them) and holds
its own scan engine, audit chain (a writer id of its own, so every chain verifies), admission and
metrics.  The supervisor holds no threads, engines or connections: it forwards SIGTERM, SIGINT and
SIGHUP to the workers, restarts a worker that dies, and exits when they have all ended after a
shutdown signal.

What the workers share: the database (keys, the audit trail, vault and sticky conversations), Redis
when configured, and a directory of metrics snapshots, so that one scrape of ``/metrics`` returns
totals over all workers (gateway.metrics_merge).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

log = logging.getLogger("gateway.workers")


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening socket that other workers bind as well (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class Supervisor:
    def __init__(self, count: int, worker_args: Sequence[str]) -> None:
        self._count = count
        self._args = list(worker_args)
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._stopping = False
        self._status = 0
        self._deaths: dict[int, int] = {}
        self._pending: dict[int, float] = {}  # worker index -> when to start it again

    def run(self) -> int:
        # Handlers first: a signal during start-up must reach the workers, not end the supervisor alone.
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._forward)
        with tempfile.TemporaryDirectory(prefix="gateway-workers-") as shared:
            for index in range(self._count):
                self._start(index, Path(shared))
            while self._children or self._pending:
                self._reap(Path(shared))
                time.sleep(0.2)
        return self._status

    def _start(self, index: int, shared: Path) -> None:
        command = [sys.executable, "-m", "gateway", "serve", *self._args]
        command += ["--worker", str(index), "--worker-dir", str(shared)]
        child = subprocess.Popen(command)  # noqa: S603 (our own interpreter and module)
        self._children[index] = child
        log.info("worker %d started (pid %d)", index, child.pid)
        if self._stopping:  # a shutdown signal arrived while it was being started
            os.kill(child.pid, signal.SIGTERM)

    def _reap(self, shared: Path) -> None:
        for index, child in list(self._children.items()):
            code = child.poll()
            if code is None:
                continue
            del self._children[index]
            if self._stopping:
                continue
            # A worker writes its first metrics snapshot once it has started; one that ends before
            # that failed to start (a port taken, a model that will not load): stop them all with its
            # status rather than restart it for ever.
            if not (shared / f"{child.pid}.prom").exists():
                log.error("worker %d failed to start (exit %s); stopping the others", index, code)
                self._status = code if code > 0 else 1
                self._stop_all(signal.SIGTERM)
                continue
            # A worker that keeps dying (a request that crashes it, memory) is restarted ever more slowly.
            self._deaths[index] = self._deaths.get(index, 0) + 1
            wait = min(30.0, 0.5 * 2 ** (self._deaths[index] - 1))
            log.error(
                "worker %d (pid %d) ended (exit %s); starting another in %.1f s", index, child.pid, code, wait
            )
            (shared / f"{child.pid}.prom").unlink(missing_ok=True)  # its counts leave with it
            self._pending[index] = time.monotonic() + wait
        for index, due in list(self._pending.items()):
            if self._stopping:
                self._pending.clear()
            elif time.monotonic() >= due:
                del self._pending[index]
                self._start(index, shared)

    def _forward(self, sig: int, frame: FrameType | None) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT):
            self._stopping = True
        self._stop_all(sig)

    def _stop_all(self, sig: int) -> None:
        self._stopping = self._stopping or sig != signal.SIGHUP
        for child in self._children.values():
            if child.poll() is None:
                os.kill(child.pid, sig)
