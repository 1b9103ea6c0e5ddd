"""Sans-I/O server-sent events: an incremental parser and an encoder.

The parser follows the WHATWG event-stream rules that matter for LLM APIs: any of
CRLF, LF or CR ends a line (also when the CR and LF arrive in different chunks),
comment lines are ignored, several ``data:`` lines join with a newline, and an event
is dispatched on a blank line.  Bytes are decoded incrementally, so a multi-byte
UTF-8 character split across chunks is handled.  Work is linear in the input: an
unfinished line is kept as pieces and only the newest chunk is searched for line
ends.  A line longer than ``max_line`` characters is refused with
:class:`SSEError`, so one endless event cannot hold the gateway's memory.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any

from gateway.jsonwire import dumps_text

MAX_LINE = 32 * 1024 * 1024


class SSEError(ValueError):
    """The stream is not one we can relay (an over-long event)."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)

    def encode(self) -> bytes:
        parts = []
        if self.event is not None:
            parts.append(f"event: {self.event}\n")
        if self.id is not None:
            parts.append(f"id: {self.id}\n")
        for line in self.data.split("\n"):
            parts.append(f"data: {line}\n")
        parts.append("\n")
        return "".join(parts).encode()


def json_event(payload: Any, event: str | None = None) -> SSEEvent:
    return SSEEvent(data=dumps_text(payload), event=event)


class SSEParser:
    """Feed bytes, get complete events.  ``pending`` tells whether a partial event is buffered."""

    __slots__ = ("_data", "_decoder", "_event", "_id", "_max_line", "_partial", "_partial_len", "_pending_cr")

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []
        self._partial_len = 0
        self._max_line = max_line
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    @property
    def pending(self) -> bool:
        return bool(self._partial or self._data or self._event is not None)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if text.endswith("\r"):
            self._pending_cr = True
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._partial.append(text)
            self._partial_len += len(text)
            if self._partial_len > self._max_line:
                raise SSEError(f"a stream event line is longer than {self._max_line} characters")
            return []
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
        rest = lines.pop()
        self._partial = [rest] if rest else []
        self._partial_len = len(rest)
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if self._data or self._event is not None:
                    events.append(SSEEvent("\n".join(self._data), self._event, self._id))
                self._data = []
                self._event = None
                continue
            if line[0] == ":":
                continue
            field, sep, value = line.partition(":")
            if sep and value.startswith(" "):
                value = value[1:]
            if field == "data":
                self._data.append(value)
            elif field == "event":
                self._event = value
            elif field == "id":
                self._id = value
            # "retry" and unknown fields carry nothing we forward.
        return events
