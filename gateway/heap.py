"""The C heap of a long-running gateway: memory freed by scan threads is given back to the system.

glibc gives each thread that allocates under contention an arena of its own, up to eight per core,
and keeps what was freed in an arena for that arena's later use rather than returning it.  The
detector's spaCy model is replaced from time to time (``gateway.scan.pii_vocab``) and its old
vocabulary, tens of MiB allocated from several scan threads, was freed into arenas that the next model
was not allocated from: measured with four threads scanning fresh prompts and a reload every 5,000
learnt words, RSS went 230 -> 361 MiB over 13 reloads.  With at most two arenas and the heap trimmed
once an old model is gone, it stayed at 229-246 MiB over 16 reloads (``bench/RESULTS.md``).

Both calls are glibc's; elsewhere (musl, macOS) they do nothing and say so.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_ARENA_MAX = -8  # from glibc's malloc.h


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def limit_arenas(count: int) -> bool:
    """At most ``count`` malloc arenas for the process, from now on; call it before threads start.
    ``count`` 0 leaves glibc's default.  True when the limit was set."""
    libc = _libc()
    if count <= 0 or libc is None or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(ctypes.c_int(_M_ARENA_MAX), ctypes.c_int(count)))


def give_back() -> bool:
    """Return the free memory at the top of the heap and free whole pages inside it to the system.
    True when glibc released something."""
    libc = _libc()
    if libc is None or not hasattr(libc, "malloc_trim"):
        return False
    return bool(libc.malloc_trim(ctypes.c_size_t(0)))
