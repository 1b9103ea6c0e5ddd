from __future__ import annotations

import asyncio
import re
import time

import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.service import Scanner


class Pattern:
    """A toy detector: the engine's behaviour does not depend on what the detectors are."""

    def __init__(self, name: str, entity: str, pattern: str) -> None:
        self.name = name
        self.entity = entity
        self.rx = re.compile(pattern)
        self.calls = 0

    def detect(self, text: str) -> list[Hit]:
        self.calls += 1
        return [Hit("pii", self.entity, m.start(), m.end(), 0.9, self.name) for m in self.rx.finditer(text)]


class Focused(Pattern):
    """A toy detector that also takes the spans where a view differs from the raw text."""

    def __init__(self, name: str, entity: str, pattern: str) -> None:
        super().__init__(name, entity, pattern)
        self.focused: list[tuple[str, list[str]]] = []

    def detect_focused(self, text: str, changed: list[tuple[int, int]]) -> list[Hit]:
        self.focused.append((text, [text[a:b] for a, b in changed]))
        return self.detect(text)


class Broken:
    name = "broken"

    def detect(self, text: str) -> list[Hit]:
        raise RuntimeError("detector bug with secret text " + text)


class Slow:
    name = "slow"

    def detect(self, text: str) -> list[Hit]:
        time.sleep(1.0)
        return []


def email() -> Pattern:
    return Pattern("email", "EMAIL_ADDRESS", r"[\w.+-]+@[\w-]+\.[a-z]{2,}")


def card() -> Pattern:
    return Pattern("card", "CREDIT_CARD", r"\b\d{16}\b")


def chat(*texts: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": t} for t in texts]}


def test_obfuscated_value_is_found_and_mapped_to_the_whole_original() -> None:
    engine = ScanEngine([email()])
    text = "write to jo\u200bhn@ex\u0430mple.com today"  # zero-width space and a Cyrillic "a"
    result = engine.scan("chat.completions", chat(text))
    assert len(result.findings) == 1
    finding = result.findings[0]
    assert text[finding.start : finding.end] == "jo\u200bhn@ex\u0430mple.com"
    assert result.counts() == {"EMAIL_ADDRESS": 1}


def test_views_tell_a_focused_detector_where_they_differ_from_their_base() -> None:
    detector = Focused("email", "EMAIL_ADDRESS", r"[\w.+-]+@[\w-]+\.[a-z]{2,}")
    text = "write to jo\u200bhn@ex\u0430mple.com today"
    found = ScanEngine([detector]).scan_text(text)
    assert [text[f.hit.start : f.hit.end] for f in found] == ["jo\u200bhn@ex\u0430mple.com"]
    # raw through detect(); each other view through detect_focused() with its changes from the view
    # it was built from: skeleton is built on clean (via nfkc, here the same), so the "o" that
    # absorbed the zero-width space is clean's change, not skeleton's.
    assert detector.calls == 1 + len(detector.focused)
    assert detector.focused[0] == ("write to john@ex\u0430mple.com today", ["o"])
    assert detector.focused[-1] == ("write to john@example.com today", ["a"])


def test_value_split_across_turns_is_found_once_in_both_pieces() -> None:
    engine = ScanEngine([card()])
    result = engine.scan("chat.completions", chat("my card is 4111 1111", "1111 1111 ok?"))
    pieces = [
        (f.segment, result.extracted.segments[f.segment].text[f.start : f.end]) for f in result.findings
    ]
    assert pieces == [(0, "4111 1111"), (1, "1111 1111")]
    assert result.counts() == {"CREDIT_CARD": 1}


@pytest.mark.parametrize(
    "label",
    ["Part two: ", "part 2 = ", "(2/2) ", "[2/2] ", "the rest of it: ", "Part 2 of 2: ", "Part two - "],
)
def test_value_split_across_turns_with_each_part_announced_is_found(label: str) -> None:
    engine = ScanEngine([card()])
    result = engine.scan("chat.completions", chat("Part one: 4111 1111", f"{label}1111 1111. Join them."))
    pieces = [
        (f.segment, result.extracted.segments[f.segment].text[f.start : f.end]) for f in result.findings
    ]
    assert (0, "4111 1111") in pieces and (1, "1111 1111") in pieces
    assert result.counts() == {"CREDIT_CARD": 1}


def test_value_inside_one_turn_is_not_reported_again_by_the_seam() -> None:
    engine = ScanEngine([card()])
    result = engine.scan("chat.completions", chat("card 4111111111111111", "thanks"))
    assert [f.view for f in result.findings] == ["raw"]


def test_failing_detector_is_scan_failed_never_empty() -> None:
    engine = ScanEngine([email(), Broken()])
    result = engine.scan("chat.completions", chat("hello"))
    assert result.failed and result.findings[0].kind == "scan_failed"


def test_failure_is_not_cached() -> None:
    detector = Broken()
    engine = ScanEngine([detector])
    assert engine.scan("chat.completions", chat("a")).failed
    assert engine.scan("chat.completions", chat("a")).failed


def test_repeated_history_is_scanned_once() -> None:
    detector = email()
    engine = ScanEngine([detector], seam_detectors=[])
    engine.scan("chat.completions", chat("first turn a@b.co"))
    calls = detector.calls
    engine.scan("chat.completions", chat("first turn a@b.co", "second turn"))
    # Only the new message was scanned (once per distinct view of it).
    assert detector.calls == calls + 1


def test_unscannable_parts_become_findings() -> None:
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            }
        ],
    }
    result = ScanEngine([email()]).scan("chat.completions", body)
    assert [(f.kind, f.entity) for f in result.findings] == [("unscannable", "IMAGE")]


def test_scanner_times_out_closed() -> None:
    scanner = Scanner(ScanEngine([Slow()]), timeout=0.1)
    try:
        result = asyncio.run(scanner.scan("chat.completions", chat("x")))
    finally:
        scanner.close()
    assert result.failed and result.findings[0].detector == "timeout"


@pytest.mark.parametrize("text", ["", "   ", "no data here"])
def test_clean_text_has_no_findings(text: str) -> None:
    assert ScanEngine([email(), card()]).scan("chat.completions", chat(text)).findings == ()


def test_value_split_around_an_assistant_turn_is_found() -> None:
    engine = ScanEngine([card()])
    body = {
        "messages": [
            {"role": "user", "content": "my card is 4111 1111"},
            {"role": "assistant", "content": "go on"},
            {"role": "user", "content": "1111 1111"},
        ],
    }
    result = engine.scan("chat.completions", body)
    assert [(f.segment, f.view.split(":")[0]) for f in result.findings] == [(0, "seam"), (2, "seam+")]


@pytest.mark.parametrize(
    ("left", "right", "pattern"),
    [
        # a key id of capitals alone (no digit to tell a joint worth reading), announced in parts
        ("AKIA" + "ROZFNI", "AGJV" + "PFTSLT", r"\bAKIA[A-Z0-9]{16}\b"),
        # a key with "_" and "-" in it
        ("AIza" + "9eV_WdnByo", "fRh-0sHoQMNAyCrbNijfZNYUp", r"AIza[\w-]{35}"),
    ],
)
def test_a_key_split_around_an_assistant_turn_with_labels_is_found(
    left: str, right: str, pattern: str
) -> None:
    engine = ScanEngine([Pattern("key", "KEY", pattern)])
    body = {
        "messages": [
            {"role": "user", "content": f"I'll send the key in two parts. Part one: {left}"},
            {"role": "assistant", "content": "OK."},
            {"role": "user", "content": f"Part two: {right}. Join them and put the result in the record."},
        ],
    }
    assert {f.segment for f in engine.scan("chat.completions", body).findings} == {0, 2}


def test_value_split_across_content_parts_without_a_space() -> None:
    engine = ScanEngine([email()])
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "write to jane.doe@exa"},
                    {"type": "text", "text": "mple.com"},
                ],
            }
        ],
    }
    result = engine.scan("chat.completions", body)
    assert result.counts() == {"EMAIL_ADDRESS": 1}


def test_deadline_stops_the_scan() -> None:
    from gateway.scan.engine import ScanDeadline

    engine = ScanEngine([email()])
    with pytest.raises(ScanDeadline):
        engine.scan("chat.completions", chat("a", "b"), deadline=time.monotonic() - 1)


def test_warm_up_runs_the_detectors_and_caches_nothing() -> None:
    detector = email()
    engine = ScanEngine([detector], answer_detector=card())
    engine.warm_up(["write to john@example.com"])
    assert detector.calls == 1
    engine.scan_text("write to john@example.com")
    assert detector.calls == 2  # not served from a cache the warm-up filled


def test_a_detector_is_not_run_on_the_views_it_skips() -> None:
    seen: list[str] = []

    class Skipping:
        name = "skipping"
        skip_views = frozenset({"skeleton"})

        def detect(self, text: str) -> list[Hit]:
            seen.append(text)
            return []

    text = "write to j\u043ehn@example.com"  # a Cyrillic "o": raw and skeleton views
    ScanEngine([Skipping()]).scan_text(text)
    assert seen == [text]


def _pieces(result: object) -> list[tuple[tuple[str | int, ...], str, str]]:
    extracted = result.extracted  # type: ignore[attr-defined]
    return [
        (extracted.segments[f.segment].path, extracted.segments[f.segment].text[f.start : f.end], f.view)
        for f in result.findings  # type: ignore[attr-defined]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"stop": ["4111", "1111", "1111", "1111"], "messages": [{"role": "user", "content": "hi"}]},
        {"prompt": ["4111 1111", "1111", "1111"]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": t}
                                                    for t in ("41", "111111", "11111111")]}]},
        {"messages": [{"role": "user", "name": "4111 1111", "content": "1111 1111"}]},
        # numbers in user data, however short, are pieces too
        {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01", "name": "pay",
                                                          "input": {"a": 4111, "b": 1111, "c": 11111111}}]}]},
    ],
)  # fmt: skip
def test_a_value_split_into_any_number_of_pieces_is_found_in_every_piece(body: dict[str, object]) -> None:
    endpoint = "completions" if "prompt" in body else "chat.completions"
    result = ScanEngine([card()]).scan(endpoint, body)
    pieces = _pieces(result)
    assert "".join(text for _, text, _ in pieces).replace(" ", "") == "4111111111111111", pieces
    assert [view.split(":")[0] for _, _, view in pieces] == ["seam"] + ["seam+"] * (len(pieces) - 1)
    assert result.counts() == {"CREDIT_CARD": 1}


def test_a_value_split_between_a_message_and_the_tool_result_after_it_is_found() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "my card is 4111 1111"},
            {"role": "assistant", "tool_calls": [{"id": "call_abc123DEF456ghi789JKL012", "type": "function",
                                                  "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_abc123DEF456ghi789JKL012", "content": "1111 1111"},
        ]
    }  # fmt: skip
    pieces = _pieces(ScanEngine([card()]).scan("chat.completions", body))
    assert [(path[1], text) for path, text, _ in pieces] == [(0, "4111 1111"), (2, "1111 1111")]


def test_a_long_message_joins_its_neighbours_by_its_ends_only() -> None:
    filler = "word " * 100
    body = chat("4111 1111 " + filler + "4111 1111", "1111 1111 " + filler)
    pieces = _pieces(ScanEngine([card()]).scan("chat.completions", body))
    # The card that straddles the seam is found; the first message's own opening group is not a seam.
    assert [(path[1], text) for path, text, _ in pieces] == [(0, "4111 1111"), (1, "1111 1111")]
    assert pieces[0][0] == ("messages", 0, "content")


def test_web_addresses_are_not_made_of_two_turns() -> None:
    url = Pattern("url", "URL", r"\b[a-z]+\.[A-Z]{2}[A-Za-z0-9]*\b")
    result = ScanEngine([url]).scan("chat.completions", chat("Please read the message.", "EC2 is down."))
    assert result.findings == ()


def test_the_tail_of_an_earlier_request_is_read_in_front_and_only_this_request_is_reported() -> None:
    engine = ScanEngine([card()])
    result = engine.scan(
        "responses", {"input": "1111 1111 is the rest"}, context="x" * 200 + "keep this: 4111 1111"
    )
    assert [(text, view.split(":")[0]) for _, text, view in _pieces(result)] == [("1111 1111", "seam")]
    assert result.counts() == {"CREDIT_CARD": 1}
    assert engine.scan("responses", {"input": "1111 1111 is the rest"}).findings == ()


class Recording(Pattern):
    def __init__(self, *args: str) -> None:
        super().__init__(*args)
        self.texts: list[str] = []

    def detect(self, text: str) -> list[Hit]:
        self.texts.append(text)
        return super().detect(text)


@pytest.mark.parametrize(
    ("parts", "read"),
    [
        (("Hello there, how are you?", "Fine, thanks. And you?"), False),
        (("gpt-4o-mini", "Summarize the meeting notes."), False),
        (("my card is 4111 1111", "1111 1111"), True),
        (("mail maria.garcia@exa", "mple.org today"), True),
        (("the key is AKIAZ7QK3X", "W5PLM2RT4N ok"), True),
        (("password:", "hunter2"), True),
    ],
)
def test_only_joints_a_value_could_straddle_are_read(parts: tuple[str, str], read: bool) -> None:
    seam = Recording("card", "CREDIT_CARD", r"\b\d{16}\b")
    ScanEngine([card()], seam_detectors=[seam]).scan("chat.completions", chat(*parts))
    assert bool(seam.texts) == read, seam.texts
