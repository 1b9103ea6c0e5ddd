"""The active policy, and safe change: reload on file change or SIGHUP, keep the last good version.

What the store holds is whatever ``load`` returns with a ``version``: the runtime's is the policy
together with the term lists and fingerprints it decides with (gateway.rules), all watched and
replaced as one.  A request reads :attr:`PolicyStore.current` once and keeps that object for its
whole life (a stream included), so every request is decided by exactly one version even while a
reload happens.  A reload that fails validation changes nothing: the error is logged and reported
as an event (the runtime writes it to the audit trail), and the previous version stays active.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from gateway.policy.load import PolicyError

log = logging.getLogger("gateway.policy")


@dataclass(frozen=True, slots=True)
class PolicyEvent:
    kind: str  # "policy.reloaded" or "policy.rejected"
    version: str  # the version active after the event
    previous: str
    problems: tuple[str, ...] = ()


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


T = TypeVar("T", bound=Versioned)


class PolicyStore(Generic[T]):
    def __init__(
        self,
        paths: Sequence[str | Path],
        load: Callable[[], T],
        *,
        on_event: Callable[[PolicyEvent], None] | None = None,
    ) -> None:
        """Load now with ``load``; a bad file raises :class:`PolicyError` (the gateway does not start).
        ``paths``: every file ``load`` reads, watched for changes."""
        self._paths = tuple(paths)
        self._load = load
        self._on_event = on_event
        self._lock = threading.Lock()
        self._stamp = self._stamps()
        self._current = load()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def report_to(self, on_event: Callable[[PolicyEvent], None]) -> None:
        self._on_event = on_event

    @property
    def current(self) -> T:
        return self._current

    def reload(self) -> PolicyEvent | None:
        """Re-read the files.  Returns the event, or None when nothing changed."""
        with self._lock:
            self._stamp = self._stamps()
            previous = self._current
            try:
                policy = self._load()
            except PolicyError as exc:
                event = PolicyEvent("policy.rejected", previous.version, previous.version, exc.problems)
                log.error(
                    "policy change rejected; %s stays active: %s", previous.version, "; ".join(exc.problems)
                )
            else:
                if policy.version == previous.version:
                    return None
                self._current = policy
                event = PolicyEvent("policy.reloaded", policy.version, previous.version)
                log.info("policy %s active (was %s)", policy.version, previous.version)
        if self._on_event is not None:
            self._on_event(event)
        return event

    def watch(self, interval: float = 1.0) -> None:
        """Poll the files' metadata every ``interval`` seconds and reload when it changes."""
        if self._watcher is not None:
            return
        self._watcher = threading.Thread(
            target=self._poll, args=(interval,), name="policy-watch", daemon=True
        )
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None

    def _poll(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if self._stamps() != self._stamp:
                try:
                    self.reload()
                except Exception as exc:  # the watcher must survive anything, the policy stays as it is
                    log.error("policy reload failed: %s", type(exc).__name__)

    def _stamps(self) -> tuple[tuple[int, int, int] | None, ...]:
        # Size, mtime and inode: editors that write a new file and rename it change the inode.
        out: list[tuple[int, int, int] | None] = []
        for path in self._paths:
            try:
                st = os.stat(path)
            except OSError:
                out.append(None)
            else:
                out.append((st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(out)
