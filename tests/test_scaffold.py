"""``gateway init`` and the start-up summary: the first hour's next step, and what serve says it loaded."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.policy.packaged import DEFAULT_POLICY
from gateway.rules import load_rules
from gateway.settings import load_settings, settings_from_mapping
from gateway.summary import startup_summary, warnings


def test_init_writes_a_valid_config_and_an_owner_only_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--dir", str(tmp_path)]) == 0
    secret = tmp_path / "gateway.secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    out = capsys.readouterr().out
    assert f"GATEWAY_SECRET_FILE={secret} gateway serve --config {tmp_path / 'gateway.yaml'}" in out
    settings = load_settings(str(tmp_path / "gateway.yaml"), environ={"GATEWAY_SECRET_FILE": str(secret)})
    assert settings.secret is not None and len(settings.secret) == 32
    assert set(settings.destinations) == {"openai", "anthropic", "local"}
    assert settings.file.policies == (DEFAULT_POLICY,)
    # Never overwrites, and writes nothing when it refuses.
    before = (tmp_path / "gateway.yaml").read_text(), secret.read_text()
    assert main(["init", "--dir", str(tmp_path)]) == 1
    assert "exists; nothing was written" in capsys.readouterr().err
    assert ((tmp_path / "gateway.yaml").read_text(), secret.read_text()) == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "gateway.secret").write_text("mine")
    assert main(["init", "--dir", str(tmp_path / "other")]) == 1
    assert not (tmp_path / "other" / "gateway.yaml").exists()


def test_the_summary_names_what_was_loaded_and_never_a_secret(tmp_path: Path) -> None:
    secret_file = tmp_path / "s"
    secret_file.write_text("hex:" + "cd" * 32)
    settings = settings_from_mapping(
        {"database_url": "postgresql+psycopg://gw:hunter2@db:5432/gw"},
        source="g.yaml",
        environ={"GATEWAY_SECRET_FILE": str(secret_file), "OPENAI_API_KEY": "sk-live-abc"},
    )
    rules = load_rules(settings.file.policies, settings.file.scan)
    text = "\n".join(startup_summary(settings, rules, host="0.0.0.0", port=8080, workers=2))
    assert "config: g.yaml" in text and rules.version in text and DEFAULT_POLICY in text
    assert "destination openai: US, https://api.openai.com/v1, key set" in text
    assert "destination anthropic: US, https://api.anthropic.com, key NOT set ($ANTHROPIC_API_KEY)" in text
    assert "destination local: LOCAL, embedded engine, the generated tiny model (RANDOM weights)" in text
    assert f"secret: from GATEWAY_SECRET_FILE ({secret_file})" in text
    assert "listening on 0.0.0.0:8080, 2 workers" in text
    for value in ("hunter2", "sk-live-abc", "cd" * 32):
        assert value not in text
    assert any("RANDOM weights" in line for line in warnings(settings))
    mine = settings_from_mapping(
        {
            "destinations": {
                "local": {"type": "local", "base_url": "http://l:8000/v1", "jurisdiction": "LOCAL"}
            }
        },
        source="g.yaml",
        environ={},
    )
    assert warnings(mine) == []


def test_the_summary_never_shows_credentials_in_a_url() -> None:
    from gateway.summary import _without_userinfo

    assert (
        _without_userinfo("https://user:tok3n@llm.example.com:8443/v1")
        == "https://***@llm.example.com:8443/v1"
    )
    assert _without_userinfo("https://api.openai.com/v1") == "https://api.openai.com/v1"
