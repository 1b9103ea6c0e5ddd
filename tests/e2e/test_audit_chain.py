"""The hash-chained trail with two ``gateway serve`` processes writing to one PostgreSQL database under
load, checked by ``gateway audit verify`` as an operator would run it; then one record is altered and
verify names it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select, update

from gateway.audit.tables import audit_chain_heads, audit_records
from gateway.database import create_db_engine
from tests.e2e.conftest import OPENAI_KEY, Fakes
from tests.e2e.test_cli_serve import _free_port, _wait_healthy

SECRET = "an-operator-chosen-secret-of-32-chars"
PER_GATEWAY = 60


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_two_gateways_on_postgres_keep_verifiable_chains(
    fakes: Fakes, postgres_url: str, tmp_path: Path
) -> None:
    ports = [_free_port(), _free_port()]
    env = {**os.environ, "FAKE_KEY": OPENAI_KEY, "GATEWAY_SECRET": SECRET}
    configs = []
    for port in ports:
        config = tmp_path / f"gateway-{port}.yaml"
        config.write_text(
            f"server: {{port: {port}}}\n"
            f"database_url: '{postgres_url.replace('postgresql://', 'postgresql+psycopg://', 1)}'\n"
            "scan: {enabled: false}\n"
            "destinations:\n"
            f"  openai: {{type: openai, base_url: '{fakes.openai_url}/v1', api_key_env: FAKE_KEY,"
            " jurisdiction: US, models: ['gpt-*']}\n"
        )
        configs.append(config)
    # Both start at once: their migrations must take turns.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve"],
            env={**env, "GATEWAY_CONFIG": str(c)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for c in configs
    ]
    first_env = {**env, "GATEWAY_CONFIG": str(configs[0])}
    try:
        for proc, port in zip(procs, ports, strict=True):
            _wait_healthy(proc, f"http://127.0.0.1:{port}")
        created = _cli(first_env, "keys", "create", "--user", "erin")
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        time.sleep(1.1)  # a gateway looks an unknown key up again at most once a second

        def call(port: int, i: int) -> int:
            body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}"}]}
            reply = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {key}"},
                timeout=30,
            )
            return reply.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(
                pool.map(call, [ports[i % 2] for i in range(2 * PER_GATEWAY)], range(2 * PER_GATEWAY))
            )
        assert statuses == [200] * (2 * PER_GATEWAY)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=30)  # also closes its output pipe

    verified = _cli(first_env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # A start and an end record per request, in two chains (one per process).
    assert f"{4 * PER_GATEWAY} records in 2 chains" in verified.stdout

    engine = create_db_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        heads = conn.execute(select(func.count()).select_from(audit_chain_heads)).scalar()
        victim = conn.execute(
            select(audit_records.c.id, audit_records.c.request_id)
            .where(audit_records.c.phase == "end")
            .order_by(audit_records.c.id)
            .offset(37)
            .limit(1)
        ).one()
        conn.execute(
            update(audit_records).where(audit_records.c.id == victim.id).values(destination="elsewhere")
        )
    engine.dispose()
    assert heads == 2
    tampered = _cli(first_env, "audit", "verify")
    assert tampered.returncode == 1
    assert f"record id={victim.id}" in tampered.stdout and victim.request_id in tampered.stdout
    assert "modified" in tampered.stdout


def test_no_record_no_egress(fakes: Fakes, tmp_path: Path) -> None:
    """The audit store refuses writes (here: its table is gone): requests are refused with 503 and the
    provider receives nothing; the gateway says why."""
    from sqlalchemy import text

    from tests.e2e.conftest import start_gateway

    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'g.db'}")
    try:
        ok = gw.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
        )
        assert ok.choices and len(fakes.openai.received) == 1
        with gw.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_records RENAME TO audit_records_gone"))
        fakes.reset()
        for stream in (False, True):
            reply = gw.http().post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {gw.key}"},
                json={
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "hi"}],
                    "stream": stream,
                },
            )
            assert reply.status_code == 503
            assert reply.json()["error"]["code"] == "audit_unavailable"
        assert fakes.openai.received == [] and fakes.openai.active == 0
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


def test_retention_prunes_old_records_at_start_and_leaves_a_tombstone(fakes: Fakes, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from gateway.audit.chain import chain_key
    from gateway.audit.store import AuditWriter
    from gateway.audit.tables import audit_tombstones
    from gateway.audit.verify import verify_trail
    from gateway.database import migrate
    from tests.audit.test_verify import _row
    from tests.e2e.conftest import start_gateway

    url = f"sqlite:///{tmp_path / 'g.db'}"
    key = chain_key(SECRET.encode())
    engine = create_db_engine(url)
    migrate(engine)
    writer = AuditWriter(engine, key, batch_size=10, flush_interval=0.01)
    writer.start()
    old = datetime.now(UTC) - timedelta(days=90)
    for i in range(12):
        writer.submit(_row(i, old))
    assert writer.flush(timeout=30)
    writer.close()
    gw = start_gateway(fakes, url, {"GATEWAY_SECRET": SECRET}, audit={"retention_days": 30})
    try:
        deadline = time.monotonic() + 20
        while True:
            with engine.connect() as conn:
                stone = conn.execute(select(audit_tombstones)).mappings().first()
            if stone is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert stone is not None and (stone["up_to_seq"], stone["pruned"]) == (12, 12)
        raw = gw.openai().chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        gw.audit(raw.headers["x-request-id"])  # its end record is written just after the answer
        report = verify_trail(engine, key)
        assert report.intact and report.records == 2  # this request's start and end, nothing older
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
        engine.dispose()
