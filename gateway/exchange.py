"""The one request object that travels through the pipeline.

Each stage reads what earlier stages filled in and adds its own part; the audit
stage turns the finished exchange into a record.  Holds no raw secrets: the
gateway key is reduced to a key id by the auth stage and the provider key is
attached by the upstream client's ``httpx.Auth``, never stored here.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from gateway.endpoints import Endpoint, Route
    from gateway.policy.decide import Decision
    from gateway.scan.engine import ScanResult
    from gateway.transform.answer import AnswerFilter

Role = Literal["user", "auditor", "admin"]


@dataclass(frozen=True, slots=True)
class Principal:
    user: str
    team: str | None
    role: Role
    key_id: str


@dataclass(slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


@dataclass(slots=True)
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    client_addr: str | None
    request_id: str = field(default_factory=new_request_id)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.perf_counter)
    endpoint: Endpoint | None = None
    raw_body: bytes = b""
    body: dict[str, Any] | None = None
    principal: Principal | None = None
    tried_key_id: str | None = None  # the key id of a failed authentication (never its secret)
    model: str | None = None
    model_checked: bool = False  # the model name passed its grammar and scan: the audit may store it
    stream: bool = False
    scan: ScanResult | None = None
    decision: Decision | None = None
    rewritten: bool = False  # stage 6 changed ``body``; ``raw_body`` is the client's original
    route: Route | None = None
    status: int | None = None
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    disconnected: bool = False
    truncated: bool = False
    response_bytes: int = 0
    dropped_events: int = 0  # answer stream events that could not be read, so were not relayed
    pseudonyms: int = 0  # tokens issued for this request (stage 6)
    answer: AnswerFilter | None = None  # stage 9's restore map and output guard, when there is work
    response_id: str | None = None  # the destination's id for its answer (Responses: for the vault)
    conversation: str | None = None  # the conversation key, when routing needed it (sticky local)
    scan_ms: float | None = None  # stage 4's time
    upstream_ms: float | None = None  # request sent -> the destination's response headers
    # SHA-256 of the answer bytes the client received (for the audit record's keyed hash); None: no answer.
    answer_digest: Any = None
    _body_digest: bytes | None = None

    def body_digest(self) -> bytes:
        """SHA-256 of the client's request body, computed once (the start and end records both use it)."""
        if self._body_digest is None:
            self._body_digest = hashlib.sha256(self.raw_body).digest()
        return self._body_digest

    def sent(self, data: bytes) -> None:
        """Answer bytes on their way to the client: counted, and digested for the audit record."""
        self.response_bytes += len(data)
        if self.answer_digest is None:
            self.answer_digest = hashlib.sha256()
        self.answer_digest.update(data)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0
