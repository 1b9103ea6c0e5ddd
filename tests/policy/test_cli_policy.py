"""`gateway policy check|test` and the decision in `gateway scan`, run in-process through cli.main."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.policy.examples import run_examples
from gateway.policy.load import load_policy
from gateway.scan.build import build_engine
from gateway.scan.engine import ScanEngine, ScanResult
from gateway.scan.segments import Extracted
from gateway.settings import ScanSettings

REPO = Path(__file__).resolve().parents[2]

POLICY = """\
policy: test
rules:
  - id: keys-local
    when: {data_classes: [credentials]}
    action: route_local

  - id: people-tokens
    when: {data_classes: [personal_data]}
    unless: {destination: {types: [local]}}
    action: pseudonymize
examples:
  - name: e-mail to openai
    text: Write to maria.gonzalez@example.org about her invoice.
    destination: openai
    expect: {action: pseudonymize, rules: [people-tokens]}
  - name: key stays local
    text: Deploy with aws_access_key_id = AKIAZ7QK3XW5PLM2RT4N now.
    destination: {name: somewhere, type: anthropic, jurisdiction: US}
    expect: {action: route_local, rules: [keys-local]}
"""

EMAIL = "Write a short reply to maria.gonzalez@example.org about her invoice."
AWS_KEY = "Deploy with aws_access_key_id = AKIAZ7QK3XW5PLM2RT4N and tell me why it fails."


@pytest.fixture(scope="module", autouse=True)
def shared_engine() -> Iterator[ScanEngine]:
    """The real engine, built once: the CLI would build it (seconds) on every call."""
    engine = build_engine(ScanSettings())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("gateway.scan.build.build_engine", lambda *args, **kwargs: engine)
        yield engine


def write_config(tmp_path: Path, *policies: Path, local: bool = True) -> Path:
    config = tmp_path / "gateway.yaml"
    lines = [
        f"database_url: sqlite:///{tmp_path / 'gateway.db'}",
        f"policies: {json.dumps([str(p) for p in policies])}",
        "destinations:",
        "  openai: {type: openai, base_url: 'https://api.openai.com/v1', jurisdiction: US,"
        " models: ['gpt-*']}",
        "  deepseek: {type: openai, base_url: 'https://api.deepseek.com/v1', jurisdiction: CN,"
        " models: ['deepseek-*']}",
    ]
    if local:
        lines.append("  local: {type: local, base_url: 'http://127.0.0.1:8000/v1', jurisdiction: LOCAL}")
    config.write_text("\n".join(lines) + "\n")
    return config


def write_policy(tmp_path: Path, text: str = POLICY, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- policy check ---------------------------------------------------------------------------------


def test_check_ok_prints_each_file_and_the_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_policy(tmp_path)
    second = write_policy(
        tmp_path,
        "policy: extra\nrules:\n  - id: no-cn\n    when: {destination: {jurisdictions: [CN]}}\n"
        "    action: block\n",
        "extra.yaml",
    )
    assert main(["policy", "check", str(first), str(second)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{first}: ok, 2 rules"
    assert out[1] == f"{second}: ok, 1 rules"
    assert out[2].startswith("policy test+extra, version sha256:")


def test_check_defaults_to_the_configs_policies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write_policy(tmp_path)
    assert main(["policy", "check", "--config", str(write_config(tmp_path, policy))]) == 0
    assert f"{policy}: ok, 2 rules" in capsys.readouterr().out


def test_check_reports_every_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_policy(
        tmp_path,
        "policy: bad\nrules:\n  - id: one\n    when: {data_classes: [nonsense]}\n    action: block\n"
        "  - id: two\n    action: shred\n",
    )
    assert main(["policy", "check", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    problems = captured.err.splitlines()
    assert any(p.startswith(f"{bad}:4: ") and "unknown data class 'nonsense'" in p for p in problems)
    assert any(p.startswith(f"{bad}:7: ") and "action" in p for p in problems)


def test_check_needs_no_config_when_files_are_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("server: {port: nope}\n")
    assert main(["policy", "check", "--config", str(broken), str(write_policy(tmp_path))]) == 0
    assert main(["policy", "check", "--config", str(broken)]) == 2
    assert f"{broken}:1: server.port" in capsys.readouterr().err


# --- policy test ----------------------------------------------------------------------------------


def test_examples_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write_policy(tmp_path)
    assert main(["policy", "test", "--config", str(write_config(tmp_path, policy))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["PASS e-mail to openai", "PASS key stays local"]
    assert out[2].startswith("2 passed, 0 failed")


def test_a_failing_example_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write_policy(
        tmp_path,
        POLICY.replace(
            "expect: {action: route_local, rules: [keys-local]}", "expect: {action: allow, rules: []}"
        ),
    )
    assert main(["policy", "test", "--config", str(write_config(tmp_path, policy))]) == 1
    out = capsys.readouterr().out
    assert "PASS e-mail to openai" in out
    assert "FAIL key stays local: expected allow [], got route_local [keys-local]" in out
    assert "1 passed, 1 failed" in out


def test_an_unknown_destination_name_fails_the_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path, POLICY.replace("destination: openai", "destination: azure"))
    assert main(["policy", "test", "--config", str(write_config(tmp_path, policy))]) == 1
    out = capsys.readouterr().out
    assert "FAIL e-mail to openai: destination 'azure' is not in the config's destinations" in out
    assert "(openai, deepseek, local)" in out


def test_examples_are_decided_by_all_the_files_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # extra.yaml's example only passes with test's keys-local rule deployed alongside it.
    base = write_policy(tmp_path, POLICY.split("examples:")[0])
    extra = write_policy(
        tmp_path,
        "policy: extra\nrules: []\nexamples:\n  - name: a key in extra\n"
        f"    text: '{AWS_KEY}'\n    destination: openai\n"
        "    expect: {action: route_local, rules: [keys-local]}\n",
        "extra.yaml",
    )
    config = str(write_config(tmp_path, base))
    assert main(["policy", "test", "--config", config, str(base), str(extra)]) == 0
    assert "  PASS a key in extra" in capsys.readouterr().out
    assert main(["policy", "test", "--config", config, str(extra)]) == 1
    assert "FAIL a key in extra: expected route_local [keys-local], got allow []" in capsys.readouterr().out


def test_an_invalid_policy_file_fails_the_test_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_policy(tmp_path, "policy: bad\nrules: nope\n")
    assert main(["policy", "test", "--config", str(write_config(tmp_path)), str(bad)]) == 1
    assert f"{bad}:2: rules" in capsys.readouterr().err


def test_the_default_policy_examples_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"  # built-in defaults, whatever $GATEWAY_CONFIG says
    empty.write_text("")
    code = main(["policy", "test", "--config", str(empty), str(REPO / "policies" / "default.yaml")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "0 failed" in out


def test_runner_falls_back_to_a_nominal_local_target(tmp_path: Path) -> None:
    # No scan and no local destination configured: a request rule can still expect route_local.
    policy_text = (
        "policy: legal\nrules:\n  - id: legal-local\n    when: {principal: {teams: [legal]}}\n"
        "    unless: {destination: {jurisdictions: [LOCAL]}}\n    action: route_local\n"
        "examples:\n  - name: legal stays local\n    text: hello\n    principal: {team: legal}\n"
        "    destination: {name: x, jurisdiction: us}\n"
        "    expect: {action: route_local, rules: [legal-local]}\n"
    )
    seen: list[tuple[str, dict[str, Any]]] = []

    def scan(endpoint: str, body: dict[str, Any]) -> ScanResult:
        seen.append((endpoint, body))
        return ScanResult((), Extracted((), ()))

    [result] = run_examples(load_policy([write_policy(tmp_path, policy_text)]), scan, {})
    assert result.passed, result.detail
    assert result.decision is not None and result.decision.local
    assert seen == [("chat.completions", {"messages": [{"role": "user", "content": "hello"}]})]


# --- scan explains the decision -------------------------------------------------------------------


def run_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *args: str, local: bool = True
) -> tuple[int, str, str]:
    config = write_config(tmp_path, write_policy(tmp_path), local=local)
    body = tmp_path / "input.txt"
    body.write_text(text)
    code = main(["scan", "--config", str(config), str(body), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_scan_json_pseudonymizes_an_email_for_openai(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_scan(tmp_path, capsys, EMAIL, "--json", "--model", "gpt-4o")
    assert code == 1
    decision = json.loads(out)["decision"]
    assert decision["action"] == "pseudonymize"
    assert decision["destination"] == "openai"
    assert decision["policy_version"].startswith("sha256:")
    [rule] = decision["rules"]
    assert rule["id"] == "people-tokens"
    assert rule["action"] == "pseudonymize"
    assert rule["where"] == f"{tmp_path / 'policy.yaml'}:7"
    assert rule["count"] == 1
    assert "personal_data" in rule["classes"]
    assert decision["local"] is False and decision["message"] is None


def test_scan_json_keeps_an_aws_key_local(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scan(tmp_path, capsys, AWS_KEY, "--json", "--destination", "openai")
    assert code == 1
    decision = json.loads(out)["decision"]
    assert decision["action"] == "route_local"
    assert [r["id"] for r in decision["rules"]] == ["keys-local"]
    assert decision["rules"][0]["where"] == f"{tmp_path / 'policy.yaml'}:3"
    assert decision["local"] is True
    assert decision["local_destination"] == "local"


def test_scan_text_explains_the_decision(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scan(tmp_path, capsys, AWS_KEY, "--model", "deepseek-chat", local=False)
    assert code == 1
    assert "decision: route_local for destination deepseek, model deepseek-chat" in out
    assert f"keys-local  at {tmp_path / 'policy.yaml'}:3: 1 value (credentials)" in out
    assert "no local destination is configured" in out


def test_scan_with_nothing_found_allows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_scan(tmp_path, capsys, "How do I boil an egg?", "--json")
    assert code == 0
    decision = json.loads(out)["decision"]
    assert (decision["action"], decision["rules"], decision["destination"]) == ("allow", [], "openai")


def test_scan_with_an_unknown_destination_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_scan(tmp_path, capsys, EMAIL, "--destination", "azure")
    assert code == 2
    assert "no destination 'azure'" in err


def test_scan_with_a_bad_policy_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_policy(tmp_path, "policy: bad\nrules:\n  - id: x\n    action: nope\n", "bad.yaml")
    body = tmp_path / "input.txt"
    body.write_text(EMAIL)
    assert main(["scan", "--config", str(write_config(tmp_path, bad)), str(body)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{bad}:4: " in captured.err


def test_scan_with_a_missing_policy_file_says_where_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "policies" / "default.yaml"
    body = tmp_path / "input.txt"
    body.write_text(EMAIL)
    assert main(["scan", "--config", str(write_config(tmp_path, missing)), str(body)]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: cannot read policy file" in err
    assert "relative to the working directory" in err
