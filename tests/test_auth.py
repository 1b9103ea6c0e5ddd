from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.auth import KeyStore, api_keys, create_key, extract_key
from gateway.cli import main
from gateway.database import create_db_engine, metadata
from gateway.errors import AuthenticationFailed


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_only_a_hash_is_stored(engine) -> None:  # type: ignore[no-untyped-def]
    new = create_key(engine, user="alice", team="legal", role="auditor")
    secret = new.key.split("_", 2)[2]  # gwk_<id>_<secret>; the secret itself may contain "_"
    with engine.connect() as conn:
        rows = conn.execute(select(api_keys)).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert secret not in stored and new.key not in stored
    assert rows[0]["user"] == "alice" and rows[0]["team"] == "legal" and rows[0]["role"] == "auditor"


def test_authenticate_both_header_styles(engine) -> None:  # type: ignore[no-untyped-def]
    new = create_key(engine, user="bob", team=None, role="user")
    store = KeyStore(engine)
    store.load()
    for headers in ({"authorization": f"Bearer {new.key}"}, {"x-api-key": new.key}):
        principal = asyncio.run(store.authenticate(headers))
        assert principal == new.principal


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer "},
        {"authorization": "Basic abc"},
        {"x-api-key": "gwk_deadbeef_nope"},
        {"x-api-key": "sk-some-provider-key"},
    ],
)
def test_rejects_missing_and_wrong_keys(engine, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    create_key(engine, user="bob", team=None, role="user")
    store = KeyStore(engine)
    store.load()
    with pytest.raises(AuthenticationFailed):
        asyncio.run(store.authenticate(headers))


def test_right_id_wrong_secret_is_rejected(engine) -> None:  # type: ignore[no-untyped-def]
    new = create_key(engine, user="bob", team=None, role="user")
    store = KeyStore(engine)
    store.load()
    forged = new.key[:-4] + ("AAAA" if not new.key.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationFailed):
        asyncio.run(store.authenticate({"x-api-key": forged}))


def test_key_created_after_load_is_found_on_miss(engine) -> None:  # type: ignore[no-untyped-def]
    store = KeyStore(engine, miss_reload_interval=0.0)
    store.load()
    new = create_key(engine, user="late", team=None, role="user")
    assert asyncio.run(store.authenticate({"x-api-key": new.key})).user == "late"


def test_extract_key_prefers_bearer() -> None:
    assert extract_key({"authorization": "Bearer a", "x-api-key": "b"}) == "a"
    assert extract_key({"authorization": "bearer  a "}) == "a"
    assert extract_key({"x-api-key": " b "}) == "b"


def test_cli_prints_key_once_as_last_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "g.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n")
    assert (
        main(
            ["keys", "create", "--user", "carol", "--team", "ops", "--role", "admin", "--config", str(config)]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    assert key.startswith("gwk_") and key not in "\n".join(out[:-1])
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    store = KeyStore(engine)
    store.load()
    principal = asyncio.run(store.authenticate({"x-api-key": key}))
    engine.dispose()
    assert (principal.user, principal.team, principal.role) == ("carol", "ops", "admin")


def test_cli_list_and_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "g.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n")
    assert main(["keys", "create", "--user", "erin", "--config", str(config)]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    assert main(["keys", "list", "--config", str(config)]) == 0
    listing = capsys.readouterr().out
    assert (
        key_id in listing
        and "erin" in listing
        and "active" in listing
        and key.split("_", 2)[2] not in listing
    )
    assert main(["keys", "revoke", key_id, "--config", str(config)]) == 0
    assert main(["keys", "revoke", key_id, "--config", str(config)]) == 1
    engine = create_db_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    store = KeyStore(engine)
    store.load()
    with pytest.raises(AuthenticationFailed):
        asyncio.run(store.authenticate({"x-api-key": key}))
    engine.dispose()
