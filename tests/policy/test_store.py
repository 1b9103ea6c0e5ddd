"""PolicyStore: load at start, safe reload (keep the last good version), file watching."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.policy.compile import Policy
from gateway.policy.load import PolicyError, load_policy
from gateway.policy.store import PolicyEvent, PolicyStore

GOOD = "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: redact\n"
EDITED = "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: pseudonymize\n"
BROKEN = "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: obliterate\n"


def _store(paths: list[Path], on_event: Callable[[PolicyEvent], None] | None = None) -> PolicyStore[Policy]:
    """A store of policy files alone (the runtime's also holds the term lists: tests/test_rules.py)."""
    return PolicyStore(paths, functools.partial(load_policy, paths), on_event=on_event)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    return path


@pytest.fixture
def events() -> list[PolicyEvent]:
    return []


@pytest.fixture
def store(policy_file: Path, events: list[PolicyEvent]) -> Iterator[PolicyStore[Policy]]:
    s = _store([policy_file], on_event=events.append)
    yield s
    s.close()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_loads_at_construction(store: PolicyStore[Policy], policy_file: Path) -> None:
    assert store.current.version == load_policy([policy_file]).version
    assert [r.action for r in store.current.rules] == ["redact"]


@pytest.mark.parametrize("text", [BROKEN, ""])
def test_bad_file_at_start_raises(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        _store([path])
    assert info.value.problems[0].startswith(f"{path}:")


def test_missing_file_at_start_raises(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        _store([tmp_path / "absent.yaml"])


def test_reload_without_change_returns_none(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    before = store.current
    assert store.reload() is None
    policy_file.write_text(GOOD)  # rewritten with the same bytes: same version
    assert store.reload() is None
    assert store.current is before
    assert events == []


def test_valid_edit_swaps_the_policy(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    before = store.current
    policy_file.write_text(EDITED)
    event = store.reload()
    assert event is not None
    assert store.current is not before
    assert [r.action for r in store.current.rules] == ["pseudonymize"]
    assert event == PolicyEvent("policy.reloaded", store.current.version, before.version)
    assert events == [event]
    assert before.rules[0].action == "redact"  # the old object is untouched for requests holding it


def test_invalid_edit_keeps_the_old_policy(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    before = store.current
    policy_file.write_text(BROKEN)
    event = store.reload()
    assert event is not None
    assert event.kind == "policy.rejected"
    assert event.version == event.previous == before.version
    assert len(event.problems) == 1
    assert event.problems[0].startswith(f"{policy_file}:5: rules.0.action: ")
    assert store.current is before
    assert events == [event]
    # Fixed again: the next reload takes it.
    policy_file.write_text(EDITED)
    fixed = store.reload()
    assert fixed is not None
    assert fixed.kind == "policy.reloaded"
    assert fixed.previous == before.version
    assert store.current is not before


def test_deleted_file_is_rejected(store: PolicyStore[Policy], policy_file: Path) -> None:
    before = store.current
    policy_file.unlink()
    event = store.reload()
    assert event is not None
    assert event.kind == "policy.rejected"
    assert "cannot read policy file" in event.problems[0]
    assert store.current is before


def test_report_to_replaces_the_listener(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    other: list[PolicyEvent] = []
    store.report_to(other.append)
    policy_file.write_text(EDITED)
    event = store.reload()
    assert other == [event]
    assert events == []


def test_reload_without_listener(policy_file: Path) -> None:
    store = _store([policy_file])
    policy_file.write_text(EDITED)
    event = store.reload()
    assert event is not None
    assert event.kind == "policy.reloaded"


def test_watch_picks_up_an_edit(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    before = store.current
    store.watch(interval=0.05)
    policy_file.write_text(EDITED + "# edited\n")
    assert wait_for(lambda: store.current is not before)
    assert [r.action for r in store.current.rules] == ["pseudonymize"]
    assert wait_for(lambda: len(events) >= 1)
    assert events[0].kind == "policy.reloaded"
    assert events[0].previous == before.version


def test_watch_rejects_a_bad_edit_and_keeps_going(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    before = store.current
    store.watch(interval=0.05)
    policy_file.write_text(BROKEN + "# broken\n")
    assert wait_for(lambda: any(e.kind == "policy.rejected" for e in events))
    assert store.current is before
    policy_file.write_text(EDITED + "# fixed again, a different size\n")
    assert wait_for(lambda: store.current is not before)
    assert [e.kind for e in events][-1] == "policy.reloaded"


def test_watch_twice_starts_one_thread(store: PolicyStore[Policy]) -> None:
    store.watch(interval=0.05)
    first = store._watcher
    store.watch(interval=0.05)
    assert store._watcher is first


def test_close_stops_the_watcher(
    store: PolicyStore[Policy], policy_file: Path, events: list[PolicyEvent]
) -> None:
    store.watch(interval=0.05)
    thread = store._watcher
    assert isinstance(thread, threading.Thread)
    assert thread.is_alive()
    store.close()
    assert not thread.is_alive()
    assert store._watcher is None
    before = store.current
    policy_file.write_text(EDITED + "# after close\n")
    time.sleep(0.3)
    assert store.current is before
    assert events == []
    store.close()  # closing twice is harmless
