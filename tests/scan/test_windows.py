"""Long segments are read in overlapping windows: every value lies whole in some window, offsets map
back to the segment, and a scan out of time stops between windows."""

from __future__ import annotations

import base64
import itertools
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scan.engine import (
    OVERLAP,
    WINDOW,
    Piece,
    ScanDeadline,
    ScanEngine,
    TextLimit,
    run_parts,
    windows,
)
from gateway.scan.findings import Hit
from tests.scan.test_engine import Pattern, card, chat, email


@given(st.integers(0, 5 * WINDOW), st.integers(0, 60), st.sampled_from([" ", "\n"]))
@settings(max_examples=200, deadline=None)
def test_windows_cover_the_text_and_overlap_by_at_least_overlap(length: int, gap: int, space: str) -> None:
    # Whitespace every ``gap`` characters exercises the snapping to it; none, the nominal starts.
    text = "".join(space if gap and i % gap == 0 else "x" for i in range(length))
    spans = windows(text)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for start, end in spans:
        assert 0 < end - start <= WINDOW or length == 0
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert s1 < s2 < e1 < e2  # moves forward, never leaves a gap
        assert e1 - s2 >= OVERLAP


@pytest.mark.parametrize("prefix", range(8))
def test_a_base64_blob_longer_than_a_window_is_decoded_wherever_it_starts(prefix: int) -> None:
    secret = "notes about the merger, mail jane.roe@example.com " * 900  # ~45 K characters decoded
    blob = base64.b64encode(secret.encode()).decode()
    assert len(blob) > WINDOW
    text = "x" * prefix + " decode: " + "pad " * 8000 + blob + " thanks"
    exact = Pattern("email", "EMAIL_ADDRESS", r"jane\.roe@example\.com")  # no backtracking on long runs
    found = ScanEngine([exact], cache_size=0).scan("chat.completions", chat(text)).findings
    at = text.index(blob)
    assert {(f.start, f.end, f.view) for f in found} == {(at, at + len(blob), "base64")}


@pytest.mark.parametrize(
    "offset", [0, WINDOW - OVERLAP - 10, WINDOW - 12, WINDOW - 3, WINDOW, 3 * WINDOW + 7]
)
def test_a_value_anywhere_in_a_long_text_is_found_once_where_it_is(offset: int) -> None:
    value = "alice.ohara+x@example-mail.org"
    text = "lorem ipsum " * ((4 * WINDOW) // 12)
    text = text[:offset] + " " + value + " " + text[offset:]
    found = ScanEngine([email()]).scan("chat.completions", chat(text)).findings
    assert [(f.start, f.end) for f in found] == [(offset + 1, offset + 1 + len(value))]


def test_a_value_cut_by_a_window_edge_is_one_finding() -> None:
    # Sixteen digits straddling every window edge of a long text without spaces.
    digits = "4111111111111111"
    text = ("z" * (WINDOW - 8)) + digits + ("z" * (2 * WINDOW))
    found = ScanEngine([card()]).scan("chat.completions", chat(text.replace("z", " "))).findings
    assert [text[f.start : f.end] for f in found] == [digits]


class Counting:
    """Slow per call, so a deadline falls between windows; counts the windows it read."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[int] = set()

    def detect(self, text: str) -> list[Hit]:
        self.calls += 1
        self.threads.add(threading.get_ident())
        time.sleep(0.05)
        return []


def test_a_scan_past_its_deadline_stops_between_windows() -> None:
    detector = Counting()
    engine = ScanEngine([detector], cache_size=0)
    text = "word " * (100 * WINDOW // 5)  # 100 windows of 50 ms: 5 s if nothing stopped it
    started = time.monotonic()
    with pytest.raises(ScanDeadline):
        engine.scan("chat.completions", chat(text), deadline=time.monotonic() + 0.3)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    # Every view is one call per window; the deadline stopped it well before the hundredth window.
    assert detector.calls < 60


def test_more_text_than_the_limit_is_refused_before_any_detector_runs() -> None:
    detector = Counting()
    engine = ScanEngine([detector], max_text_chars=1000)
    with pytest.raises(TextLimit) as refused:
        engine.scan("chat.completions", chat("a" * 600, "b" * 600))
    assert (refused.value.chars, refused.value.limit) == (1200, 1000)
    assert detector.calls == 0
    assert engine.scan("chat.completions", chat("a" * 600)).findings == ()


def test_thousands_of_short_items_are_read_in_bounded_parts_and_a_split_value_is_still_found() -> None:
    filler = "lorem ipsum dolor sit amet " * 5
    texts = [filler] * 4000
    at = 2345  # a value split over two list items deep inside
    texts[at] = filler + "my card is 4111 1111"
    texts[at + 1] = "1111 1111 " + filler
    engine = ScanEngine([card()], cache_size=0)
    found = engine.scan("chat.completions", chat(*texts)).findings
    assert sorted({f.segment for f in found}) == [at, at + 1]


def test_seams_of_many_items_stop_at_the_deadline() -> None:
    detector = Counting()
    engine = ScanEngine([detector], seam_detectors=[detector], cache_size=0)
    # Digits at every joint: every part of every order is worth reading.
    body = chat(*[f"{i} 4111 1111" for i in range(20_000)])
    started = time.monotonic()
    with pytest.raises(ScanDeadline):
        engine.scan("chat.completions", body, deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 3.0


@given(st.lists(st.integers(1, 2 * 96), min_size=2, max_size=3000))
@settings(max_examples=100, deadline=None)
def test_parts_of_a_run_cover_it_in_order_bounded_and_overlapping(sizes: list[int]) -> None:
    run = [Piece(i, 0, "x" * n) for i, n in enumerate(sizes)]
    parts = run_parts(run)
    assert parts[0][0] is run[0] and parts[-1][-1] is run[-1]
    for part in parts:
        assert sum(len(p.text) + 1 for p in part) <= WINDOW or len(part) == 1
    for left, right in itertools.pairwise(parts):
        first, last = run.index(right[0]), run.index(left[-1])
        assert run.index(left[0]) < first <= last  # forward, no gap
        shared = sum(len(p.text) + 1 for p in run[first : last + 1])
        assert shared >= OVERLAP or first == run.index(left[0]) + 1
