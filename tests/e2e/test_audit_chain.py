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
