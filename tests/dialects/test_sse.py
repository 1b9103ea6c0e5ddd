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


def test_long_event_in_small_chunks_is_linear_and_bounded() -> None:
    import time

    payload = b"x" * (4 * 1024 * 1024)
    parser = SSEParser()
    started = time.perf_counter()
    events: list[SSEEvent] = []
    for i in range(0, len(payload), 4096):
        events += parser.feed(payload[i : i + 4096] if i else b"data: " + payload[i : i + 4096])
    events += parser.feed(b"\n\n")
    # Quadratic buffering took seconds for this; linear takes milliseconds.  Generous bound, no flake.
    assert time.perf_counter() - started < 1.0
    assert len(events) == 1 and len(events[0].data) == len(payload)


def test_over_long_line_is_refused() -> None:
    from gateway.dialects.sse import SSEError

    parser = SSEParser(max_line=1000)
    parser.feed(b"data: " + b"y" * 900)
    with pytest.raises(SSEError):
        parser.feed(b"y" * 200)


def test_lone_surrogate_payload_encodes() -> None:
    event = json_event({"text": "a\ud800b"})
    assert b"\\ud800" in event.encode()
