"""Chain heads kept outside the database, so that an outsider can check the trail.

Inside the database, a chain deleted together with its head and tombstone leaves nothing to compare
with, and whoever can write the database can make the trail shorter.  So each gateway process copies
its chain's head (writer, seq, hash, and the head's HMAC) now and then to somewhere append-only that
the database's users cannot rewrite: a file (mark it append-only, ``chattr +a``, or put it on
another machine's mount) and/or syslog (shipped off the host).  ``gateway audit verify --anchors``
reads such lines back and fails on a trail shorter than they say, a chain they name that is gone, or
a record whose hash is not the one anchored.

An anchor line is one JSON object, alone on its line or after a syslog prefix that names the
gateway's ident (``llm-gateway-audit``): another program's log line cannot pass for one.  Lines that
are not anchors are skipped.  The lines ``gateway audit verify`` prints for each head are read too
(whole lines only), so heads an auditor copied from an earlier run can be checked against as well.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.chain import head_mac

log = logging.getLogger(__name__)

KIND = "gateway-audit-head"
IDENT = "llm-gateway-audit"
_PRINTED = re.compile(r"chain (w[0-9a-f]+): head seq (\d+) hash ([0-9a-f]{64})")


@dataclass(frozen=True, slots=True)
class Anchor:
    writer: str
    seq: int
    hash: str
    mac: str | None = None  # None: a head an auditor copied from `gateway audit verify` output
    where: str = ""  # file:line, for messages


def anchor_line(key: bytes, writer: str, seq: int, last_hash: str) -> str:
    return json.dumps(
        {
            "anchor": KIND,
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "writer": writer,
            "seq": seq,
            "hash": last_hash,
            "mac": head_mac(key, writer, seq, last_hash),
        },
        separators=(",", ":"),
    )


def read_anchors(lines: Iterable[str], source: str) -> list[Anchor]:
    """The anchors in ``lines`` (an anchor file, a syslog extract, or `audit verify` output)."""
    found: list[Anchor] = []
    for number, line in enumerate(lines, 1):
        where = f"{source}:{number}"
        brace = line.find("{")
        if brace >= 0 and (not line[:brace].strip() or IDENT in line[:brace]):
            try:
                record = json.loads(line[brace:])
            except ValueError:
                record = None
            if isinstance(record, dict) and record.get("anchor") == KIND:
                try:
                    found.append(
                        Anchor(
                            str(record["writer"]),
                            int(record["seq"]),
                            str(record["hash"]),
                            str(record["mac"]),
                            where,
                        )
                    )
                except (KeyError, TypeError, ValueError):
                    raise ValueError(f"{where}: a malformed anchor line") from None
                continue
        printed = _PRINTED.fullmatch(line.strip())
        if printed is not None:
            found.append(Anchor(printed[1], int(printed[2]), printed[3], None, where))
    return found


class Anchoring:
    """Writes this process's chain head to the configured places, at most once per ``interval``
    (and once more at close).  A failed write is logged loudly and counted, never raised: the
    records themselves are in the database, and the next anchor covers them."""

    def __init__(self, key: bytes, *, file: str | None, syslog: bool, interval: float) -> None:
        self._key = key
        self._file = Path(file) if file else None
        self._syslog = syslog
        self._interval = interval
        self._last_written = -float("inf")
        self._anchored: tuple[int, str] | None = None
        self._pending: tuple[str, int, str] | None = None
        self.failures = 0

    @property
    def enabled(self) -> bool:
        return self._file is not None or self._syslog

    def moved(self, writer: str, seq: int, last_hash: str) -> None:
        """The head moved (a commit): anchor it if the last anchor is ``interval`` old."""
        if not self.enabled:
            return
        self._pending = (writer, seq, last_hash)
        if time.monotonic() - self._last_written >= self._interval:
            self.write_pending()

    def write_pending(self) -> None:
        if self._pending is None or self._pending[1:] == self._anchored:
            return
        writer, seq, last_hash = self._pending
        line = anchor_line(self._key, writer, seq, last_hash)
        ok = True
        if self._file is not None:
            ok = self._append(self._file, line) and ok
        if self._syslog:
            ok = self._to_syslog(line) and ok
        self._last_written = time.monotonic()
        if ok:
            self._anchored = (seq, last_hash)

    def _append(self, path: Path, line: str) -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.failures += 1
            log.error("audit anchor not written to %s: %s", path, exc.strerror or type(exc).__name__)
            return False
        return True

    def _to_syslog(self, line: str) -> bool:
        import syslog

        try:
            syslog.openlog(IDENT, syslog.LOG_PID, syslog.LOG_AUTH)
            syslog.syslog(syslog.LOG_NOTICE, line)
        except OSError as exc:
            self.failures += 1
            log.error("audit anchor not sent to syslog: %s", exc.strerror or type(exc).__name__)
            return False
        return True
