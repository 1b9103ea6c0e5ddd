"""Several replicas, one truth: three ``gateway serve`` processes (separate ports, as separate
machines would be) on one PostgreSQL database and one Redis, with detection on.

Pseudonyms made on one replica are restored on another, a conversation that went local stays local on
every replica, a key revoked on one is refused by all within ``server.key_cache_seconds``, a policy
and term-list change reaches all (their records name the same version), and ``kill -9`` of one replica
under load leaves every egress on record and every chain verifying."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, func, select

from gateway.audit.tables import audit_records
from gateway.database import create_db_engine
from tests.conftest import postgres_schema
from tests.e2e.conftest import DEFAULT_POLICY, PROVIDER_ENV, Fakes, gateway_config
from tests.e2e.test_cli_serve import _create_key, _free_port, _wait_healthy

pytestmark = pytest.mark.postgres

EMAIL = "replica.person@example.org"
KEY_CACHE_S = 2.0
CODE_NAME = "saltmarsh"


@dataclass
class Replicas:
    urls: list[str]
    procs: list[subprocess.Popen[str]]
    env: dict[str, str]
    key: str
    engine: Engine
    terms: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "gateway", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=120)

    def post(self, replica: int, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        with httpx.Client(base_url=self.urls[replica], timeout=30) as http:
            return http.post(path, json=body, headers={"authorization": f"Bearer {self.key}", **headers})


@pytest.fixture(scope="module")
def replicas(
    fakes: Fakes, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Replicas]:
    url = request.getfixturevalue("postgres_module_url")
    tmp = tmp_path_factory.mktemp("replicas")
    terms = tmp / "terms.yaml"
    terms.write_text("lists:\n  projects:\n    - Bluebird\n")
    redis_url = "redis://127.0.0.1:6379/0"
    # Three replicas at once from cold: each migrates (they take turns) and loads its own scan engine.
    ports = [_free_port() for _ in range(3)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_SECRET")}
    env.update(PROVIDER_ENV)
    procs = []
    for port in ports:
        config = gateway_config(fakes, url)
        config.update(
            server={"port": port, "key_cache_seconds": KEY_CACHE_S},
            policies=[DEFAULT_POLICY],
            policy_watch_interval=0.5,
            scan={"terms": str(terms)},
            vault={"url": redis_url},
            sticky_local={"url": redis_url},
        )
        path = tmp / f"gateway-{port}.yaml"
        path.write_text(yaml.safe_dump(config))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve"],
                env={**env, "GATEWAY_CONFIG": str(path)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    env["GATEWAY_CONFIG"] = str(tmp / f"gateway-{ports[0]}.yaml")
    engine = create_db_engine(url)
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for proc, base in zip(procs, urls, strict=True):
            _wait_healthy(proc, base, timeout=120)
        key = _create_key(env)
        fakes.reset()  # the local model's start-up probes
        yield Replicas(urls, procs, env, key, engine, terms)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=60)
        engine.dispose()


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for the module's three replicas."""
    with postgres_schema() as url:
        yield url


def test_pseudonyms_made_on_one_replica_are_restored_on_another(replicas: Replicas, fakes: Fakes) -> None:
    first = replicas.post(0, "/v1/responses", {"model": "gpt-4o-mini", "input": f"Write to {EMAIL} today."})
    assert first.status_code == 200, first.text
    sent = json.dumps(fakes.openai.received[-1].json)
    assert EMAIL not in sent
    token = next(word for word in sent.replace('"', " ").split() if word.startswith("<EMAIL_ADDRESS_"))
    token = token[: token.index(">") + 1]
    # Turn 2, on another replica: the model repeats turn 1's token; the vault (Redis) knows it.
    body = {"model": "gpt-4o-mini", "input": f"Repeat {token}", "previous_response_id": first.json()["id"]}
    second = replicas.post(1, "/v1/responses", body)
    assert second.status_code == 200, second.text
    text = second.json()["output"][0]["content"][0]["text"]
    assert text == f"echo: Repeat {EMAIL}"


def test_a_conversation_that_went_local_stays_local_on_every_replica(
    replicas: Replicas, fakes: Fakes
) -> None:
    conversation = {"x-gateway-conversation": "replica-conversation-1"}
    secret = "Why does this fail: aws_access_key_id = AKIAZ7QK3XW5PLM2RT4N ?"
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": secret}]}
    first = replicas.post(0, "/v1/chat/completions", body, **conversation)
    assert first.status_code == 200 and first.headers["x-gateway-route"].startswith("local")
    follow_up = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "And what now?"}]}
    for replica in (1, 2):
        reply = replicas.post(replica, "/v1/chat/completions", follow_up, **conversation)
        assert reply.status_code == 200 and reply.headers["x-gateway-route"].startswith("local"), replica
    assert fakes.openai.received == []  # nothing of the conversation went offshore
    assert replicas.post(1, "/v1/chat/completions", follow_up).headers.get("x-gateway-route") is None


def test_a_key_revoked_on_one_replica_is_refused_by_all(replicas: Replicas) -> None:
    created = replicas.cli("keys", "create", "--user", "leaving")
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}

    def status(replica: int) -> int:
        with httpx.Client(base_url=replicas.urls[replica], timeout=30) as http:
            return http.post(
                "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
            ).status_code

    assert [status(r) for r in range(3)] == [200, 200, 200]
    assert replicas.cli("keys", "revoke", key_id).returncode == 0
    revoked_at = time.monotonic()
    while [status(r) for r in range(3)] != [401, 401, 401]:
        assert time.monotonic() - revoked_at < KEY_CACHE_S + 3, "a replica kept accepting a revoked key"
        time.sleep(0.2)


def test_a_term_list_change_reaches_every_replica_under_one_version(replicas: Replicas, fakes: Fakes) -> None:
    body = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": f"Status of project {CODE_NAME}?"}],
    }
    before = {
        replicas.post(r, "/v1/chat/completions", body).headers["x-gateway-policy-version"] for r in range(3)
    }
    assert len(before) == 1
    replicas.terms.write_text(f"lists:\n  projects:\n    - Bluebird\n    - {CODE_NAME}\n")
    deadline = time.monotonic() + 15
    while True:
        replies = [replicas.post(r, "/v1/chat/completions", body) for r in range(3)]
        versions = {reply.headers["x-gateway-policy-version"] for reply in replies}
        if versions.isdisjoint(before) and len(versions) == 1:
            break
        assert time.monotonic() < deadline, f"replicas on versions {versions}"
        time.sleep(0.3)
    assert all(reply.headers["x-gateway-route"].startswith("local") for reply in replies)
    (version,) = versions
    ids = [reply.headers["x-request-id"] for reply in replies]
    deadline = time.monotonic() + 10
    while True:
        with replicas.engine.connect() as conn:
            rows = conn.execute(
                select(audit_records.c.policy_version, audit_records.c.writer).where(
                    audit_records.c.request_id.in_(ids), audit_records.c.phase == "end"
                )
            ).all()
        if len(rows) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {row.policy_version for row in rows} == {version} and len({row.writer for row in rows}) == 3


def test_kill_9_of_one_replica_under_load_loses_nothing(replicas: Replicas, fakes: Fakes) -> None:
    with replicas.engine.connect() as conn:
        starts_before = conn.execute(
            select(func.count()).select_from(audit_records).where(audit_records.c.phase == "start")
        ).scalar_one()
    slow, fakes.openai.slow_seconds = fakes.openai.slow_seconds, 0.2
    stop = threading.Event()
    outcomes: list[int | str] = []

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            body = {
                "model": "gpt-4o-slow" if i % 2 else "gpt-4o-mini",
                "messages": [{"role": "user", "content": f"load {n}-{i}: write to {EMAIL}"}],
            }
            try:
                outcomes.append(replicas.post(n % 3, "/v1/chat/completions", body).status_code)
            except httpx.HTTPError as exc:
                outcomes.append(type(exc).__name__)
                time.sleep(0.05)  # the killed replica refuses at once: do not spin
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(fakes.openai.received) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = replicas.procs[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        time.sleep(1.0)  # the others go on under load
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        fakes.openai.slow_seconds = slow
    assert 200 in outcomes and any(isinstance(o, str) for o in outcomes)
    sent = [json.dumps(r.json) for r in fakes.openai.received]
    assert all(EMAIL not in body for body in sent)
    time.sleep(1.0)  # the survivors' last records
    with replicas.engine.connect() as conn:
        starts = conn.execute(
            select(func.count()).select_from(audit_records).where(audit_records.c.phase == "start")
        ).scalar_one()
    starts -= starts_before
    # No record, no egress: each body the provider received was on record before it left.  A request
    # cut by the kill between its record and its egress is on record without having left (at most one
    # per client of the killed replica).
    assert len(sent) <= starts <= len(sent) + 2
    verified = replicas.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail intact" in verified.stdout
