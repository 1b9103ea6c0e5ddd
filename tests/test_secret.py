"""The server secret: from the environment or a file, never silently from the audit database, and
``gateway secret export`` to move a development install's secret out unchanged."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from gateway.cli import main
from gateway.database import create_db_engine, migrate
from gateway.secret import (
    SecretExportError,
    export_secret,
    gateway_secrets,
    load_or_create_secret,
    resolve_secret,
    stored_secret,
)
from gateway.settings import ConfigError, Settings, settings_from_mapping

PLAIN = "correct horse battery staple"


def _settings(environ: dict[str, str], **server: object) -> Settings:
    return settings_from_mapping({"server": server} if server else {}, source="g.yaml", environ=environ)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    return engine


def test_the_secret_comes_from_the_environment_or_a_file(tmp_path: Path) -> None:
    assert _settings({"GATEWAY_SECRET": PLAIN}).secret == PLAIN.encode()
    path = tmp_path / "secret"
    path.write_text(f"{PLAIN}\n")
    assert _settings({"GATEWAY_SECRET_FILE": str(path)}).secret == PLAIN.encode()
    # `hex:` is raw bytes: how an exported secret (random bytes) is written.
    path.write_text("hex:" + "00ff" * 8 + "\n")
    assert _settings({"GATEWAY_SECRET_FILE": str(path)}).secret == bytes.fromhex("00ff" * 8)
    assert _settings({"GATEWAY_SECRET": "hex:" + "ab" * 16}).secret == b"\xab" * 16
    assert _settings({}).secret is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read the secret file"),
        ("", "the secret file is empty"),
        ("  \n", "the secret file is empty"),
        ("short-but-bad", "at least 16"),
        ("hex:" + "ab" * 15, "at least 16"),
        ("hex:zz" + "ab" * 20, "only hex digits"),
    ],
)
def test_a_bad_secret_file_is_a_config_error_that_never_shows_it(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as info:
        _settings({"GATEWAY_SECRET_FILE": str(path)})
    assert problem in str(info.value) and "GATEWAY_SECRET_FILE" in str(info.value)
    if content and content.strip():
        assert content.strip() not in str(info.value)


def test_both_sources_at_once_is_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(PLAIN)
    with pytest.raises(ConfigError, match="not both"):
        _settings({"GATEWAY_SECRET": PLAIN, "GATEWAY_SECRET_FILE": str(path)})


def test_without_a_secret_the_gateway_refuses_outside_development_mode(engine: Engine) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_SECRET_FILE") as info:
        resolve_secret(_settings({}), engine)
    assert "dev_mode" in str(info.value)
    assert stored_secret(engine) is None  # nothing was created on the way


def test_development_mode_keeps_a_secret_in_the_database_and_says_so_loudly(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.secret"):
        first = resolve_secret(_settings({}, dev_mode=True), engine)
    assert "DEVELOPMENT MODE" in caplog.text
    assert len(first) == 32 and stored_secret(engine) == first
    assert resolve_secret(_settings({}).in_dev_mode(), engine) == first  # `serve --dev`, same secret


def _chain(engine: Engine, secret: bytes) -> None:
    """Audit records written with ``secret``, as a gateway keyed by it would write them."""
    from gateway.audit.chain import chain_key
    from gateway.audit.store import AuditWriter
    from tests.audit.test_verify import _row

    writer = AuditWriter(engine, chain_key(secret), flush_interval=0.01)
    writer.start()
    writer.submit(_row(1))
    assert writer.flush()
    writer.close()


def test_a_development_install_given_a_new_secret_instead_of_its_own_is_refused(engine: Engine) -> None:
    stored = load_or_create_secret(engine)
    _chain(engine, stored)  # the trail was written in development mode, with the stored secret
    with pytest.raises(ConfigError, match="written with the secret a development-mode gateway") as info:
        resolve_secret(_settings({"GATEWAY_SECRET": PLAIN}), engine)
    assert "gateway secret export" in str(info.value)
    assert stored.hex() not in str(info.value)
    # Without a secret outside dev mode, the message says how to move the stored one out.
    with pytest.raises(ConfigError, match="the database holds one"):
        resolve_secret(_settings({}), engine)


def test_export_moves_the_secret_out_unchanged(engine: Engine, tmp_path: Path) -> None:
    stored = load_or_create_secret(engine)
    target = tmp_path / "gateway.secret"
    export_secret(engine, target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert stored_secret(engine) is None  # moved: the database no longer holds it
    settings = _settings({"GATEWAY_SECRET_FILE": str(target)})
    assert settings.secret == stored
    assert resolve_secret(settings, engine) == stored


def test_export_never_overwrites_and_needs_something_to_move(engine: Engine, tmp_path: Path) -> None:
    target = tmp_path / "gateway.secret"
    with pytest.raises(SecretExportError, match="holds no secret"):
        export_secret(engine, target)
    assert not target.exists()
    stored = load_or_create_secret(engine)
    target.write_text("something else\n")
    with pytest.raises(SecretExportError, match="exists"):
        export_secret(engine, target)
    assert target.read_text() == "something else\n" and stored_secret(engine) == stored


def test_the_cli_exports_and_then_the_install_runs_on_the_file(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = load_or_create_secret(engine)
    config = tmp_path / "gateway.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'g.db'}\n")
    monkeypatch.delenv("GATEWAY_SECRET", raising=False)
    monkeypatch.delenv("GATEWAY_SECRET_FILE", raising=False)
    target = tmp_path / "out.secret"
    assert main(["secret", "export", "--config", str(config), "--to", str(target)]) == 0
    assert f"GATEWAY_SECRET_FILE={target}" in capsys.readouterr().out
    assert main(["secret", "export", "--config", str(config), "--to", str(tmp_path / "again")]) == 1
    assert "holds no secret" in capsys.readouterr().err
    # `audit verify` now needs the file (no secret, no dev mode: a config error, exit 2).
    assert main(["audit", "verify", "--config", str(config)]) == 2
    assert "no secret" in capsys.readouterr().err
    monkeypatch.setenv("GATEWAY_SECRET_FILE", str(target))
    assert main(["audit", "verify", "--config", str(config)]) == 0
    assert stored.hex() not in capsys.readouterr().out


def test_a_secret_planted_in_the_database_is_ignored_loudly_and_blocks_nothing(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever can write the database can insert a secret of their own there.  The configured one
    wins (the trail was written with it), the plant is logged, and nothing tells the operator to
    adopt it."""
    _chain(engine, PLAIN.encode())
    with engine.begin() as conn:
        conn.execute(insert(gateway_secrets).values(name="value-key", value=b"attacker-chosen-secret!!"))
    with caplog.at_level(logging.ERROR, logger="gateway.secret"):
        assert resolve_secret(_settings({"GATEWAY_SECRET": PLAIN}), engine) == PLAIN.encode()
    assert "holds a secret other than the configured one" in caplog.text
    assert "export" not in caplog.text
    # A fresh install (no trail yet) is not blocked either.
    fresh = create_db_engine(str(engine.url).replace("g.db", "fresh.db"))
    migrate(fresh)
    with fresh.begin() as conn:
        conn.execute(insert(gateway_secrets).values(name="value-key", value=b"attacker-chosen-secret!!"))
    assert resolve_secret(_settings({"GATEWAY_SECRET": PLAIN}), fresh) == PLAIN.encode()
    fresh.dispose()


def test_a_record_forged_and_rechained_without_the_outside_secret_does_not_verify(engine: Engine) -> None:
    """The finding: with the secret in the database, a forged record re-chained with the gateway's
    own code verified.  Now the database holds no secret; a forger who re-chains with one of their
    own (the gateway's code, a secret they planted) is caught by a verify keyed with the real one."""
    from sqlalchemy import delete, select

    from gateway.audit.chain import chain_key
    from gateway.audit.store import AuditWriter
    from gateway.audit.tables import audit_chain_heads, audit_records
    from gateway.audit.verify import verify_trail
    from tests.audit.test_verify import _row

    real = chain_key(resolve_secret(_settings({"GATEWAY_SECRET": PLAIN}), engine))
    writer = AuditWriter(engine, real, flush_interval=0.01)
    writer.start()
    for i in range(3):
        writer.submit(_row(i))
    assert writer.flush()
    writer.close()
    assert verify_trail(engine, real).intact and stored_secret(engine) is None
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(audit_records).order_by(audit_records.c.seq)).mappings()]
        conn.execute(delete(audit_records))
        conn.execute(delete(audit_chain_heads))
    forger = AuditWriter(engine, chain_key(b"planted-by-the-forger!!"), flush_interval=0.01)
    forger.start()
    for row in rows:
        forged = {k: v for k, v in row.items() if k not in ("id", "writer", "seq", "prev_hash", "hash")}
        forged["user"] = "somebody-else"
        forger.submit(forged)
    assert forger.flush()
    forger.close()
    problem = verify_trail(engine, real).problem
    assert problem is not None and "altered" in problem.what  # the head's MAC gives it away first


def test_a_secret_file_others_may_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret"
    path.write_text(PLAIN)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        _settings({"GATEWAY_SECRET_FILE": str(path)})
    assert "readable by others (mode 644)" in caplog.text and PLAIN not in caplog.text
    caplog.clear()
    path.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="gateway.settings"):
        _settings({"GATEWAY_SECRET_FILE": str(path)})
    assert caplog.text == ""
