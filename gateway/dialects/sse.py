"""Sans-I/O server-sent events: an incremental parser and an encoder.

The parser follows the WHATWG event-stream rules that matter for LLM APIs: any of
CRLF, LF or CR ends a line (also when the CR and LF arrive in different chunks),
comment lines are ignored, several ``data:`` lines join with a newline, and an event
is dispatched on a blank line.  Bytes are decoded incrementally, so a multi-byte
UTF-8 character split across chunks is handled.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any


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
    return SSEEvent(data=json.dumps(payload, separators=(",", ":"), ensure_ascii=False), event=event)


class SSEParser:
    """Feed bytes, get complete events.  ``pending`` tells whether a partial event is buffered."""

    __slots__ = ("_buffer", "_data", "_decoder", "_event", "_id", "_pending_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    @property
    def pending(self) -> bool:
        return bool(self._buffer or self._data or self._event is not None)

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
        self._buffer += text
        if "\n" not in self._buffer:
            return []
        lines = self._buffer.split("\n")
        self._buffer = lines.pop()
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
