"""AnswerGuard: values split over pieces are held until complete, prose flows word by word."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transform.answer_guard import CONTEXT, MAX_HOLD, MAX_PEM_HOLD, AnswerGuard, Replacement

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def find_emails(text: str) -> Sequence[Replacement]:
    return [Replacement(m.start(), m.end(), "[EMAIL_ADDRESS]") for m in _EMAIL.finditer(text)]


class Recorder:
    """An inspect that finds e-mails and records what it was shown."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, text: str) -> Sequence[Replacement]:
        self.seen.append(text)
        return find_emails(text)


def guard_whole(text: str) -> str:
    guard = AnswerGuard(find_emails)
    return guard.feed(text) + guard.flush()


def guard_pieces(pieces: Sequence[str]) -> tuple[str, AnswerGuard]:
    guard = AnswerGuard(find_emails)
    out = []
    for piece in pieces:
        out.append(guard.feed(piece))
        assert guard.held <= MAX_HOLD, (piece, guard.held)
    out.append(guard.flush())
    assert guard.held == 0
    return "".join(out), guard


WORDS = st.sampled_from(
    ["hello", "there,", "the", "answer", "is", "Write", "to", "or", "(see", "notes)", "ok!", "42", "ID", "x"]
)
EMAILS = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(alphabet="abcdefghXYZ0123._+", min_size=1, max_size=10).filter(lambda s: s[0] != "."),
    st.text(alphabet="abcdefghijklmnop-", min_size=1, max_size=10).filter(lambda s: s[0] != "-"),
    st.sampled_from(["com", "org", "co.uk", "DE"]),
)
SEPARATORS = st.sampled_from([" ", " ", "\n", "  ", "\n\n", ", "])


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    parts: list[str] = []
    emails: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            email = draw(EMAILS)
            emails.append(email)
            parts.append(email)
        else:
            parts.append(draw(WORDS))
        parts.append(draw(SEPARATORS))
    if draw(st.booleans()) and parts:
        parts.pop()  # sometimes no trailing separator
    return "".join(parts), emails


@st.composite
def chunkings(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=len(text) + 4)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_chunking_equals_the_whole_text_and_no_address_leaks(data: st.DataObject) -> None:
    text, emails = data.draw(texts())
    pieces = data.draw(chunkings(text))
    whole = guard_whole(text)
    got, guard = guard_pieces(pieces)
    assert got == whole
    assert "@" not in got, got
    assert got.count("[EMAIL_ADDRESS]") == len(emails)
    assert guard.replaced == len(emails)
    assert whole == _EMAIL.sub("[EMAIL_ADDRESS]", text)


@settings(max_examples=200, deadline=None)
@given(texts())
def test_every_two_piece_split_equals_the_whole_text(case: tuple[str, list[str]]) -> None:
    text, _ = case
    whole = guard_whole(text)
    for cut in range(len(text) + 1):
        got, _guard = guard_pieces([text[:cut], text[cut:]])
        assert got == whole, cut


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ019 \n.,-", max_size=40), max_size=30))
def test_hold_is_bounded_without_pem(pieces: list[str]) -> None:
    guard = AnswerGuard(lambda _text: [])
    out = []
    for piece in pieces:
        out.append(guard.feed(piece))
        assert guard.held <= MAX_HOLD
    out.append(guard.flush())
    assert "".join(out) == "".join(pieces)


def test_prose_is_released_word_by_word() -> None:
    guard = AnswerGuard(find_emails)
    assert guard.feed("Hello there ") == "Hello there "
    assert guard.held == 0
    assert guard.feed("my") == ""
    assert guard.feed(" friend") == "my "
    assert guard.held == 6


def test_digits_and_capitals_are_held_until_a_break() -> None:
    guard = AnswerGuard(find_emails)
    assert guard.feed("Call 415 555 ") == "Call "
    assert guard.held == 8
    assert guard.feed("0100 AKIA ") == ""
    assert guard.held == 18
    assert guard.feed("XYZ. Thanks ") == "415 555 0100 AKIA XYZ. Thanks "
    assert guard.held == 0


def test_address_split_over_pieces_is_replaced_whole() -> None:
    guard = AnswerGuard(find_emails)
    assert guard.feed("mail user@exa") == "mail "
    assert guard.feed("mple.com") == ""
    assert guard.feed(" today ") == "[EMAIL_ADDRESS] today "
    assert guard.replaced == 1


def test_inspect_sees_released_context() -> None:
    recorder = Recorder()
    guard = AnswerGuard(recorder)
    prose = "word " * 40
    assert guard.feed(prose) == prose
    assert guard.feed("next ") == "next "
    assert recorder.seen[-1] == (prose[-CONTEXT:] + "next ")


def test_long_run_without_break_is_released_beyond_max_hold() -> None:
    guard = AnswerGuard(find_emails)
    run = "A" * (MAX_HOLD + 10)
    out = guard.feed(run)
    assert out == "A" * (MAX_HOLD + 10 - 64)
    assert guard.held == 64
    assert guard.flush() == "A" * 64


def test_pem_block_is_held_until_its_end() -> None:
    guard = AnswerGuard(lambda _text: [])
    assert guard.feed("here it is -----BEGIN RSA PRIVATE KEY-----\n") == "here it is "
    body = "abc def ghi jkl\n" * 40  # breaks everywhere and longer than MAX_HOLD
    assert guard.feed(body) == ""
    assert guard.held > MAX_HOLD
    # Closed: released up to the last break (the body's last line); the END line waits for one.
    assert guard.feed("-----END RSA PRIVATE KEY-----\n") == "-----BEGIN RSA PRIVATE KEY-----\n" + body
    assert guard.held == 30
    assert guard.feed("all done ") == "-----END RSA PRIVATE KEY-----\nall done "
    assert guard.held == 0


def test_pem_hold_is_bounded() -> None:
    guard = AnswerGuard(lambda _text: [])
    guard.feed("-----BEGIN KEY-----\n")
    guard.feed("abcdefgh\n" * (MAX_PEM_HOLD // 9 + 10))
    assert guard.held <= MAX_PEM_HOLD


def test_inspect_raising_propagates_and_releases_nothing() -> None:
    def broken(_text: str) -> Sequence[Replacement]:
        raise RuntimeError("scanner down")

    guard = AnswerGuard(broken)
    assert guard.feed("HELLO") == ""  # nothing to release, inspect not called yet
    with pytest.raises(RuntimeError, match="scanner down"):
        guard.feed(" there friend ")
    with pytest.raises(RuntimeError, match="scanner down"):
        guard.flush()
    assert guard.replaced == 0


def test_flush_without_text_does_not_inspect() -> None:
    recorder = Recorder()
    guard = AnswerGuard(recorder)
    assert guard.flush() == ""
    assert recorder.seen == []


def test_worth_false_skips_inspection() -> None:
    recorder = Recorder()
    guard = AnswerGuard(recorder, lambda text: "@" in text)
    assert guard.feed("plain words here ") == "plain words here "
    assert recorder.seen == []
    assert guard.feed("mail bob@example.com now ") == "mail [EMAIL_ADDRESS] now "
    assert recorder.seen == ["plain words here mail bob@example.com now "]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_worth_prefilter_does_not_change_the_output(data: st.DataObject) -> None:
    text, emails = data.draw(texts())
    pieces = data.draw(chunkings(text))
    guard = AnswerGuard(find_emails, lambda pending: "@" in pending)
    got = "".join(guard.feed(p) for p in pieces) + guard.flush()
    assert got == guard_whole(text)
    assert guard.replaced == len(emails)
