"""One scrape for all workers: each worker's exposition, merged into totals.

With ``server.workers`` above 1, every worker writes its own exposition to the workers' shared
directory about once a second (``WorkerMetrics``), and the worker that answers a scrape merges its
live exposition with the others' latest.  Counters and histograms (buckets, sums, counts) are summed,
so a scrape gives totals over all workers.  When a worker dies the supervisor removes its snapshot
as it starts another, so its counts leave the totals (Prometheus sees a counter reset, as for any
restart).
Gauges are read from the workers alive only: ``*_up`` gauges take the minimum (the pool is up when
every worker is), ``gateway_draining`` the maximum, other gauges (requests in flight, scans running)
the sum.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SNAPSHOT_INTERVAL = 1.0
_SUFFIX = ".prom"


@dataclass
class _Family:
    name: str
    help_line: str
    kind: str
    samples: dict[str, float] = field(default_factory=dict)  # "name{labels}" -> value, first-seen order


def merge(own: bytes, peers: Sequence[tuple[bytes, bool]]) -> bytes:
    """``own`` merged with ``peers`` ((exposition, alive) each) in Prometheus text format."""
    families: dict[str, _Family] = {}
    _add(families, own.decode("utf-8"), alive=True)
    for text, alive in peers:
        _add(families, text.decode("utf-8", "replace"), alive=alive)
    out: list[str] = []
    for family in families.values():
        out.append(family.help_line)
        out.append(f"# TYPE {family.name} {family.kind}")
        out.extend(f"{sample} {_number(value)}" for sample, value in family.samples.items())
    return ("\n".join(out) + "\n").encode("utf-8")


def _add(families: dict[str, _Family], text: str, *, alive: bool) -> None:
    help_lines: dict[str, str] = {}
    current: _Family | None = None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            help_lines[line.split(" ", 3)[2]] = line
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            current = families.get(name)
            if current is None:
                current = families[name] = _Family(name, help_lines.get(name, f"# HELP {name}"), kind)
        elif line and not line.startswith("#") and current is not None:
            sample, _, raw = line.rpartition(" ")
            try:
                value = float(raw)
            except ValueError:
                continue  # a torn line of a snapshot being replaced: skipped, never fatal
            if current.kind == "gauge" and not alive:
                continue
            seen = current.samples.get(sample)
            current.samples[sample] = value if seen is None else _combine(current, seen, value)


def _combine(family: _Family, a: float, b: float) -> float:
    if family.kind == "gauge":
        if family.name.endswith("_up"):
            return min(a, b)
        if family.name == "gateway_draining":
            return max(a, b)
    return a + b


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value == int(value) else repr(value)


class WorkerMetrics:
    """This worker's snapshots in the shared ``directory`` (``<pid>.prom``), and the others' reading."""

    def __init__(self, directory: Path, pid: int | None = None) -> None:
        self._directory = directory
        self._pid = os.getpid() if pid is None else pid
        self._path = directory / f"{self._pid}{_SUFFIX}"

    def write(self, exposition: bytes) -> None:
        partial = self._path.with_name(self._path.name + ".partial")
        partial.write_bytes(exposition)
        os.replace(partial, self._path)  # a reader sees the old snapshot or the new, never half

    def peers(self) -> list[tuple[bytes, bool]]:
        found: list[tuple[bytes, bool]] = []
        for path in sorted(self._directory.glob(f"*{_SUFFIX}")):
            pid = int(path.stem) if path.stem.isdigit() else -1
            if pid == self._pid:
                continue
            with contextlib.suppress(OSError):
                found.append((path.read_bytes(), _alive(pid)))
        return found


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def snapshots(worker: WorkerMetrics, render: Callable[[], bytes]) -> None:
    """Write this worker's exposition every SNAPSHOT_INTERVAL seconds, for the others' scrapes."""
    while True:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(worker.write, render())
        await asyncio.sleep(SNAPSHOT_INTERVAL)
