from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.settings import ConfigError, load_settings, settings_from_text

GOOD = """\
server: {host: 0.0.0.0, port: 9000}
database_url: sqlite:///x.db
destinations:
  openai: {type: openai, base_url: "https://api.openai.com/v1/", api_key_env: OPENAI_API_KEY,
           jurisdiction: us, models: ["gpt-*"]}
  local: {type: local, base_url: "http://127.0.0.1:8000/v1", model: qwen3-30b-a3b, jurisdiction: LOCAL}
"""


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    assert settings.source == "<built-in defaults>"
    assert settings.server.port == 8080 and settings.server.host == "127.0.0.1"
    assert settings.server.max_body_bytes == 10 * 1024 * 1024
    assert set(settings.destinations) == {"openai", "anthropic", "deepseek", "local"}
    assert settings.destinations["local"].engine is not None  # the embedded engine, generated model
    assert settings.destinations["deepseek"].jurisdiction == "CN"
    assert settings.credentials == {}


def test_file_values_and_credentials_from_environment() -> None:
    settings = settings_from_text(GOOD, source="g.yaml", environ={"OPENAI_API_KEY": "sk-secret"})
    assert settings.server.port == 9000
    assert settings.destinations["openai"].base_url == "https://api.openai.com/v1"
    assert settings.destinations["openai"].jurisdiction == "US"
    assert settings.credentials == {"openai": "sk-secret"}
    # Secrets never show in a repr (which is what a traceback or debug log would print).
    assert "sk-secret" not in repr(settings)


def test_settings_are_frozen() -> None:
    settings = settings_from_text(GOOD, source="g.yaml", environ={})
    with pytest.raises(Exception, match="frozen"):
        settings.server.port = 1  # type: ignore[misc]


def test_config_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gateway.yaml").write_text("server: {port: 1111}\n")
    (tmp_path / "env.yaml").write_text("server: {port: 2222}\n")
    (tmp_path / "flag.yaml").write_text("server: {port: 3333}\n")
    assert load_settings(None, environ={}).server.port == 1111
    assert load_settings(None, environ={"GATEWAY_CONFIG": "env.yaml"}).server.port == 2222
    assert load_settings("flag.yaml", environ={"GATEWAY_CONFIG": "env.yaml"}).server.port == 3333


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server: {port: 80, colour: red}\n", "g.yaml:1: server.colour: Extra inputs are not permitted"),
        ("server:\n  port: high\n", "g.yaml:2: server.port: Input should be a valid integer"),
        (
            "destinations:\n  x:\n    type: openai\n    base_url: ftp://a\n    jurisdiction: US\n",
            "g.yaml:4: destinations.x.base_url: Value error, must start with http:// or https://",
        ),
        (
            "destinations:\n  x: {type: openai, base_url: 'http://a'}\n",
            "g.yaml:2: destinations.x.jurisdiction",
        ),
        ("destinations:\n  x: {type: carrier-pigeon, jurisdiction: US}\n", "g.yaml:2: destinations.x.type"),
        ("server: [1, 2\n", "g.yaml:2: expected ',' or ']'"),
        ("- a list\n", "g.yaml:1: the config file must be a mapping"),
        ("destinations:\n  x: {type: openai, jurisdiction: US}\n", "destinations.x.base_url: required"),
        (
            "destinations:\n  l: {type: local, jurisdiction: LOCAL, engine: {model_path: /no.gguf}}\n",
            "destinations.l.engine.model_path: no such file: /no.gguf",
        ),
        (
            "destinations:\n  l: {type: local, base_url: 'http://h/v1', jurisdiction: LOCAL, engine: {}}\n",
            "destinations.l.engine: only for a type local destination without base_url",
        ),
        (
            "destinations:\n  l: {type: local, jurisdiction: LOCAL, engine: {model_sha256: abc}}\n",
            "g.yaml:2: destinations.l.engine.model_sha256",
        ),
        ("sticky_local: {url: 'http://x'}\n", "sticky_local.url: Value error, must start with redis://"),
    ],
)
def test_bad_files_name_file_line_and_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_text(text, source="g.yaml", environ={})
    assert expected in str(info.value)


def test_cli_exits_2_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server: {port: nope}\n")
    assert main(["keys", "create", "--user", "a", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1: server.port" in err


def test_cli_exits_2_on_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read config file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "message"),
    [("nonsense", "not a valid database URL"), ("mysql://x/y", "use sqlite:/// or postgresql")],
)
def test_bad_database_url_is_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_text(f"database_url: '{url}'\n", source="g.yaml", environ={})


def test_provider_key_is_stripped_and_checked() -> None:
    text = "destinations:\n  o: {type: openai, base_url: 'http://x', api_key_env: K, jurisdiction: US}\n"
    assert settings_from_text(text, source="g", environ={"K": " sk-abc\n"}).credentials == {"o": "sk-abc"}
    with pytest.raises(ConfigError, match="whitespace or control characters") as info:
        settings_from_text(text, source="g", environ={"K": "sk-abc\r\nX-Injected: 1"})
    assert "sk-abc" not in str(info.value)
