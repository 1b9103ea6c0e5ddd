"""A review app over a SQLite trail with sample records, and keys of every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from gateway.auth import KeyStore, create_key
from gateway.database import create_db_engine, migrate
from gateway.web import build_audit_app
from tests.audit.test_query import insert_rows, sample_rows

SECRET = b"test-server-secret-0123456789abc"
ORIGIN = "http://testserver"


@dataclass
class Review:
    client: TestClient
    engine: Engine
    auditor: str
    admin: str
    user: str
    auditor_id: str

    def login(self, key: str) -> int:
        response = self.client.post(
            "/audit/login", data={"key": key}, headers={"origin": ORIGIN}, follow_redirects=False
        )
        return response.status_code


@pytest.fixture
def review(tmp_path: Path) -> Iterator[Review]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'gateway.db'}")
    migrate(engine)
    insert_rows(engine, sample_rows())
    auditor = create_key(engine, user="audrey", team="security", role="auditor")
    admin = create_key(engine, user="root", team=None, role="admin")
    user = create_key(engine, user="alice", team="research", role="user")
    app = build_audit_app(engine, KeyStore(engine), SECRET)
    with TestClient(app, base_url=ORIGIN) as client:
        yield Review(client, engine, auditor.key, admin.key, user.key, auditor.principal.key_id)
    engine.dispose()
