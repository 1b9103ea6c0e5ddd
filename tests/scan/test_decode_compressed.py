"""Compressed payloads inside base64 and hex runs (``gateway.scan.decode.opened``): found, mapped to
the run, and never decompressed past the decoding budget."""

from __future__ import annotations

import asyncio
import base64
import bz2
import gzip
import lzma
import re
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scan.decode import MAX_DECODED_BYTES, Budget, NormalizationLimit, candidates, decoded, opened
from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.normalize import views

EMAIL = "maria.gonzalez@example.org"
CARD = "4111 1111 1111 1111"


def _deflate(data: bytes, level: int = 9) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


COMPRESSORS: dict[str, Callable[[bytes, int], bytes]] = {
    "gzip": lambda data, level: gzip.compress(data, compresslevel=level, mtime=0),
    "zlib": lambda data, level: zlib.compress(data, level),
    "deflate": _deflate,
    "bz2": lambda data, level: bz2.compress(data, level),
    "xz": lambda data, level: lzma.compress(data, preset=level),
}


class Values:
    """A toy detector of e-mail addresses and card numbers: what matters here is where hits land."""

    name = "values"
    _rx = re.compile(r"[\w.]+@[\w.]+\.\w+|\d{4}(?: \d{4}){3}")

    def detect(self, text: str) -> list[Hit]:
        return [Hit("pii", "VALUE", m.start(), m.end(), 0.9, self.name) for m in self._rx.finditer(text)]


def _view(text: str, name: str) -> str | None:
    return next((v.text for v in views(text) if v.name == name), None)


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
@pytest.mark.parametrize("value", [EMAIL, CARD])
def test_a_compressed_value_in_base64_is_found_and_mapped_to_the_blob(fmt: str, value: str) -> None:
    planted = f"The customer's value is {value}."
    blob = base64.b64encode(COMPRESSORS[fmt](planted.encode(), 9)).decode()
    text = f"{fmt}+base64: {blob}\nDecode it first."
    assert _view(text, "base64") == f"{fmt}+base64: {planted}\nDecode it first."
    [found] = ScanEngine([Values()]).scan_text(text)
    assert (found.hit.start, found.hit.end) == (text.index(blob), text.index(blob) + len(blob))
    assert found.view == "base64"


@pytest.mark.parametrize("fmt", ["gzip", "zlib", "deflate"])
def test_a_compressed_value_in_hex_is_found_and_mapped_to_the_blob(fmt: str) -> None:
    blob = COMPRESSORS[fmt](f"write to {EMAIL}".encode(), 6).hex()
    text = f"payload {blob} end"
    [found] = ScanEngine([Values()]).scan_text(text)
    assert text[found.hit.start : found.hit.end] == blob
    assert found.view == "hex"


def test_base64_inside_a_compressed_stream_is_decoded_as_nesting_is() -> None:
    inner = base64.b64encode(f"card {CARD}".encode()).decode()
    blob = base64.b64encode(gzip.compress(f"see {inner} ok".encode(), mtime=0)).decode()
    assert _view(f"x {blob}", "base64") == f"x see card {CARD} ok"


def test_gzip_of_gzip_and_concatenated_members_are_read() -> None:
    twice = gzip.compress(gzip.compress(EMAIL.encode(), mtime=0), mtime=0)
    assert opened(twice, Budget(10, 1000)) == EMAIL
    members = gzip.compress(b"first part, ", mtime=0) + gzip.compress(EMAIL.encode(), mtime=0)
    assert opened(members, Budget(10, 1000)) == f"first part, {EMAIL}"


def test_a_truncated_stream_reads_as_far_as_it_goes() -> None:
    text = f"Dear customer, your address {EMAIL} is on file. " * 4
    cut = gzip.compress(text.encode(), mtime=0)[:-12]  # no trailer, and part of the last block gone
    out = opened(cut, Budget(10, 10_000))
    assert out is not None and EMAIL in out


def test_binary_and_corrupt_streams_are_not_text() -> None:
    assert opened(gzip.compress(bytes(range(256)) * 4, mtime=0), Budget(10, 10_000)) is None
    assert opened(b"\x1f\x8b\x08\x00garbage that is no deflate stream", Budget(10, 10_000)) is None
    assert (
        opened(
            bytes.fromhex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            Budget(10, 1000),
        )
        is None
    )


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.emails(),
        st.from_regex(r"\A4\d{3} \d{4} \d{4} \d{4}\Z"),
    ),
    fmt=st.sampled_from(sorted(COMPRESSORS)),
    level=st.integers(1, 9),
    prefix=st.text(st.characters(categories=["L", "N", "Zs"]), max_size=40),
)
def test_any_value_compressed_at_any_level_is_found_in_its_blob(
    value: str, fmt: str, level: int, prefix: str
) -> None:
    # A sentence around the value: a run shorter than 16 characters is no candidate (raw deflate of
    # a short e-mail address can be 9 bytes), which is the decoding views' rule, not this one's.
    planted = f"Customer record: {prefix} {value} -- keep it."
    blob = base64.b64encode(COMPRESSORS[fmt](planted.encode(), level)).decode()
    text = f"Here: {blob} -- decode it."
    view = _view(text, "base64")
    assert view is not None and value in view
    start = view.index(value)
    mapped = next(v for v in views(text) if v.name == "base64").to_original(start, start + len(value))
    assert mapped == (6, 6 + len(blob))


# --- bombs: the output read is bounded by the budget, whatever the stream claims ------------------


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_a_text_bomb_is_a_budget_overrun(fmt: str) -> None:
    bomb = COMPRESSORS[fmt](b"a" * (64 << 20), 9)  # 64 MiB of text in a few kB
    text = "open this: " + base64.b64encode(bomb).decode()
    with pytest.raises(NormalizationLimit):
        views(text)


@pytest.mark.parametrize("fmt", sorted(COMPRESSORS))
def test_a_bomb_costs_no_more_memory_than_the_budget(fmt: str) -> None:
    text_bomb = COMPRESSORS[fmt](b"a" * (64 << 20), 6)
    binary_bomb = COMPRESSORS[fmt](b"\0" * (64 << 20), 6)
    tracemalloc.start()
    try:
        with pytest.raises(NormalizationLimit):
            opened(text_bomb, Budget(256, MAX_DECODED_BYTES))
        assert opened(binary_bomb, Budget(256, MAX_DECODED_BYTES)) is None  # decided on its first bytes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    state = 9 << 20 if fmt == "xz" else 1 << 20  # the codec's own: `xz -6` declares an 8 MiB dictionary
    assert peak < 2 * MAX_DECODED_BYTES + state  # the output read (once copied while joined), not 64 MiB


def test_a_stream_that_fits_the_budget_is_charged_its_text() -> None:
    blob = base64.b64encode(gzip.compress(b"x" * 5000, mtime=0)).decode()
    budget = Budget(10, 6000)
    out = decoded(f"a {blob}", "base64", budget, candidates(f"a {blob}"))
    assert out is not None and out[0] == "a " + "x" * 5000
    assert budget.spent_bytes == 5000
    with pytest.raises(NormalizationLimit):
        decoded(f"a {blob}", "base64", Budget(10, 4999), candidates(f"a {blob}"))


def test_opening_streams_counts_against_the_runs() -> None:
    # A bzip2 bomb costs milliseconds to open even when its output is thrown away: attempts count.
    bomb = base64.b64encode(bz2.compress(b"\0" * (8 << 20))).decode()
    text = " ".join([bomb] * 40)
    with pytest.raises(NormalizationLimit):
        views(text)
    assert len(views(" ".join([bomb] * 20))) >= 1  # fewer attempts fit


def test_a_bomb_in_a_request_fails_the_scan_closed() -> None:
    # The budget overrun stays what it was: the request is unscanned (the default policy blocks it).
    from gateway.scan.service import Scanner

    bomb = base64.b64encode(gzip.compress(b"a" * (64 << 20), mtime=0)).decode()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"unpack: {bomb}"}]}
    scanner = Scanner(ScanEngine([Values()], cache_size=0), timeout=30, threads=1)
    try:
        result = asyncio.run(scanner.scan("chat.completions", body))
    finally:
        scanner.close()
    assert result.failed


def test_streams_thrown_away_are_charged_to_the_budget() -> None:
    """Raw deflate without its end marker decompresses and is then not used: the bytes it cost count,
    so many such runs in one text end in a budget overrun (the scan fails closed), not in unbounded work."""
    import base64
    import zlib

    from gateway.scan.decode import NormalizationLimit
    from gateway.scan.normalize import views

    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    cut = (packer.compress(b"a" * 2**20) + packer.flush())[:-8]
    blob = base64.b64encode(cut).decode()
    with pytest.raises(NormalizationLimit):
        views(" ".join([blob] * 20))
