from __future__ import annotations

import pytest

from gateway.dialects.sse import SSEEvent, SSEParser, json_event

STREAM = (
    b": keep-alive comment\n\n"
    b'event: message_start\ndata: {"type":"message_start"}\n\n'
    b'data: {"a": "caf\xc3\xa9"}\n\n'
    b"id: 7\ndata: line one\ndata: line two\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"type":"message_start"}', "message_start"),
    SSEEvent('{"a": "café"}'),
    SSEEvent("line one\nline two", None, "7"),
    SSEEvent("[DONE]", None, "7"),
]


def parse_chunks(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_whole_stream() -> None:
    assert parse_chunks([STREAM]) == EXPECTED


@pytest.mark.parametrize("offset", range(1, len(STREAM)))
def test_split_at_every_offset(offset: int) -> None:
    # Includes splits inside the two-byte UTF-8 "é".
    assert parse_chunks([STREAM[:offset], STREAM[offset:]]) == EXPECTED


def test_byte_by_byte() -> None:
    assert parse_chunks([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"])
def test_line_endings(newline: bytes) -> None:
    raw = STREAM.replace(b"\n", newline)
    assert parse_chunks([raw]) == EXPECTED
    assert parse_chunks([raw[i : i + 1] for i in range(len(raw))]) == EXPECTED


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    assert parse_chunks([b"data: x\r", b"\n\r", b"\n"]) == [SSEEvent("x")]


def test_pending_reports_partial_event() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"partial":') == []
    assert parser.pending
    assert parser.feed(b" 1}\n\n") == [SSEEvent('{"partial": 1}')]
    assert not parser.pending


def test_field_without_space_and_unknown_fields() -> None:
    assert parse_chunks([b"data:x\nretry: 10\nfoo: bar\n\n"]) == [SSEEvent("x")]


def test_encode_round_trips() -> None:
    events = [json_event({"type": "ping"}, event="ping"), SSEEvent("a\nb"), SSEEvent("[DONE]")]
    wire = b"".join(e.encode() for e in events)
    assert parse_chunks([wire]) == events
    assert events[0].encode() == b'event: ping\ndata: {"type":"ping"}\n\n'
