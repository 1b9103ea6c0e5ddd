"""Safe policy change on a running gateway: file-watch reload, a rejected edit, reload under load."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Fakes, Gateway, start_gateway

ALLOW_ALL = "policy: open\nrules: []\n"
REDACT_EMAIL = """
policy: strict
rules:
  - id: email-redact
    when: {entities: [EMAIL_ADDRESS]}
    action: redact
"""
EMAIL = "olga.ivanova@example.net"


def _write(path: Path, text: str) -> None:
    # Write then rename, as editors and config management do: readers never see half a file.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _wait_for(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting for the policy reload"
        time.sleep(0.05)


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(ALLOW_ALL)
    return path


@pytest.fixture
def reloading(fakes: Fakes, tmp_path: Path, policy: Path) -> Iterator[Gateway]:
    gw = start_gateway(
        fakes, f"sqlite:///{tmp_path / 'g.db'}", policies=[str(policy)], policy_watch_interval=0.05
    )
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _ask(gw: Gateway, text: str) -> str:
    raw = gw.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )
    return str(raw.headers["x-request-id"])


def _events(gw: Gateway, kind: str) -> list[dict[str, object]]:
    return [r for r in gw.audit_rows() if r["method"] == "EVENT" and r["endpoint"] == kind]


def test_an_edit_is_picked_up_and_a_bad_edit_keeps_the_last_good_version(
    reloading: Gateway, policy: Path
) -> None:
    store = reloading.app.runtime.policies
    first = store.current.version
    row = reloading.audit(_ask(reloading, f"mail {EMAIL}"))
    assert (
        row["policy_version"] == first and reloading.fakes.openai.received[-1].body.decode().count(EMAIL) == 1
    )

    _write(policy, REDACT_EMAIL)
    _wait_for(lambda: store.current.version != first)
    second = store.current.version
    row = reloading.audit(_ask(reloading, f"mail {EMAIL}"))
    assert row["policy_version"] == second and json.loads(row["rules"]) == ["email-redact"]
    assert EMAIL not in reloading.fakes.openai.received[-1].body.decode()
    reloaded = _events(reloading, "policy.reloaded")
    assert [e["policy_version"] for e in reloaded] == [second]

    _write(policy, REDACT_EMAIL.replace("action: redact", "action: obliterate"))
    _wait_for(lambda: bool(_events(reloading, "policy.rejected")))
    rejected = _events(reloading, "policy.rejected")[0]
    assert (rejected["policy_version"], rejected["error"]) == (second, "policy_invalid")
    assert store.current.version == second
    row = reloading.audit(_ask(reloading, f"mail {EMAIL}"))
    assert row["policy_version"] == second and EMAIL not in reloading.fakes.openai.received[-1].body.decode()


def test_requests_in_flight_during_reloads_each_follow_exactly_one_version(
    reloading: Gateway, policy: Path
) -> None:
    """Clients keep sending while the policy flips between two versions; every request is decided
    by one version, and what reached the provider is what that version prescribes."""
    store = reloading.app.runtime.policies
    versions: dict[str, str] = {store.current.version: "open"}
    stop = threading.Event()
    sent: list[tuple[str, str]] = []  # (marker, request id)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(worker: int) -> None:
        n = 0
        try:
            while not stop.is_set():
                marker = f"w{worker}-{n}"
                request_id = _ask(reloading, f"{marker} mail {EMAIL}")
                with lock:
                    sent.append((marker, request_id))
                n += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        for text, name in [(REDACT_EMAIL, "strict"), (ALLOW_ALL, "open"), (REDACT_EMAIL, "strict")]:
            time.sleep(0.4)
            before = store.current.version
            _write(policy, text)
            _wait_for(lambda before=before: store.current.version != before)  # type: ignore[misc]
            versions[store.current.version] = name
        time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    received = {}
    for r in reloading.fakes.openai.received:
        content = r.json["messages"][0]["content"]
        received[content.split(" ", 1)[0]] = content
    seen = set()
    for marker, request_id in sent:
        row = reloading.audit(request_id)
        name = versions[row["policy_version"]]
        seen.add(name)
        body = received[marker]
        if name == "strict":
            assert EMAIL not in body and "[EMAIL_ADDRESS]" in body, marker
        else:
            assert EMAIL in body, marker
    assert seen == {"open", "strict"} and len(sent) >= 8
