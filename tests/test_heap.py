"""glibc's heap calls: they work on this platform and are harmless where they do nothing."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from gateway.heap import give_back, limit_arenas

GLIBC = platform.libc_ver()[0] == "glibc" and ctypes.util.find_library("c") is not None


def test_no_limit_asked_is_not_set() -> None:
    assert limit_arenas(0) is False


@pytest.mark.skipif(not GLIBC, reason="mallopt and malloc_trim are glibc's")
def test_arena_limit_and_trim_on_glibc() -> None:
    assert limit_arenas(8) is True  # glibc's own default for 64-bit: nothing changes for the tests
    blocks = [ctypes.create_string_buffer(64 * 1024) for _ in range(256)]  # 16 MiB, then freed
    del blocks
    assert isinstance(give_back(), bool)
