"""Loading policy files: every problem is `file:line: message`, versions are content hashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.policy.load import PolicyError, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str | bytes, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def problems_of(*paths: Path) -> tuple[str, ...]:
    with pytest.raises(PolicyError) as info:
        load_policy(paths)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    action: block\n    colour: red\n",
            5,
            "rules.0.colour: Extra inputs are not permitted",
            id="unknown-rule-key",
        ),
        pytest.param(
            "policy: p\nowner: me\nrules: []\n",
            2,
            "owner: Extra inputs are not permitted",
            id="unknown-top-level-key",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when:\n      kinds: [pii]\n      colour: red\n"
            "    action: redact\n",
            6,
            "rules.0.when.colour: Extra inputs are not permitted",
            id="unknown-when-key",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: obliterate\n",
            5,
            "rules.0.action: Input should be 'allow', 'pseudonymize', 'hash', 'redact', 'route_local' "
            "or 'block'",
            id="unknown-action",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when:\n      data_classes: [personal_data, gossip]\n"
            "    action: block\n",
            5,
            "rules.0.when.data_classes: unknown data class 'gossip'; known: personal_data,",
            id="unknown-data-class",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    action: block\n  - id: b\n"
            "    when: {principal: {teams: [x]}}\n    action: pseudonymize\n",
            5,
            "rules.1: action pseudonymize changes matched values, so `when` needs data_classes, kinds or "
            "entities",
            id="value-action-without-finding-condition",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: redact\n    message: hi\n",
            3,
            "rules.0: message is shown only when the action is block",
            id="message-on-non-block-rule",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when:\n      endpoints: [embeddings]\n      min_count: 2\n"
            "    action: block\n",
            4,
            "rules.0.when: min_score and min_count need data_classes, kinds or entities",
            id="min-count-without-finding-condition",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: 'has spaces'\n    action: block\n",
            3,
            "rules.0.id: rule ids are 1-80 letters",
            id="bad-rule-id",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii], min_score: 1.5}\n    action: block\n",
            4,
            "rules.0.when.min_score: Input should be less than or equal to 1",
            id="min-score-out-of-range",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    when: {principal: {roles: [root]}}\n    action: block\n",
            4,
            "rules.0.when.principal.roles.0: Input should be 'user', 'auditor' or 'admin'",
            id="unknown-role",
        ),
        pytest.param(
            "policy: p\nrules:\n  - id: a\n    action: block\n",
            None,
            None,
            id="valid",
        ),
    ],
)
def test_validation_errors_name_file_and_line(
    tmp_path: Path, text: str, line: int | None, message: str | None
) -> None:
    path = write(tmp_path, text)
    if line is None:
        assert len(load_policy([path]).rules) == 1
        return
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: {message}")


def test_parse_policy_uses_the_given_source_name() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(b"policy: p\nrules:\n  - id: a\n    action: nope\n", "inline.yaml")
    assert info.value.problems[0].startswith("inline.yaml:4: rules.0.action: ")


def test_duplicate_rule_id_in_one_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "policy: p\nrules:\n  - id: a\n    action: allow\n  - id: a\n    action: block\n")
    (problem,) = problems_of(path)
    assert re.fullmatch(rf"{re.escape(str(path))}:\d+: .*rule id 'a' is used twice", problem)


def test_duplicate_rule_id_in_one_file_names_the_line_of_the_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path, "policy: p\nrules:\n  - id: a\n    action: allow\n  - id: a\n    action: block\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:5: ")


def test_duplicate_rule_id_across_files(tmp_path: Path) -> None:
    first = write(tmp_path, "policy: one\nrules:\n  - id: shared\n    action: allow\n", "first.yaml")
    second = write(
        tmp_path,
        "policy: two\nrules:\n  - id: own\n    action: allow\n  - id: shared\n    action: block\n",
        "second.yaml",
    )
    (problem,) = problems_of(first, second)
    assert problem == f"{second}:5: rule id 'shared' is already used at {first}:3"


def test_unknown_capitalised_key_is_named_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    Action: block\n    action: block\n",
    )
    (problem,) = problems_of(path)
    assert problem == f"{path}:5: rules.0.Action: Extra inputs are not permitted"


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "policy: p\nrules:\n  - id: [a\n    action: block\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:4: ")
    tabs = write(tmp_path, "policy: p\nrules:\n\t- id: a\n", "tabs.yaml")
    (problem,) = problems_of(tabs)
    assert problem.startswith(f"{tabs}:3: ")


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, b"policy: p\nrules:\n  - id: caf\xe9\n    action: block\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:")
    assert "not UTF-8 (byte 28)" in problem


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"policy: p\nrules:\n  - id: caf\xe9\n    action: block\n")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:3: ")


@pytest.mark.parametrize(
    ("text", "what"), [("", "empty"), ("# only a comment\n", "empty"), ("- a\n- b\n", "a list")]
)
def test_not_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    path = write(tmp_path, text)
    (problem,) = problems_of(path)
    assert problem == f"{path}:1: a policy file is a mapping with `policy:` and `rules:`, not {what}"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    (problem,) = problems_of(path)
    assert problem == f"{path}: cannot read policy file: No such file or directory"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "policy: p\n"
        "rules:\n"
        "  - id: a\n"
        "    action: obliterate\n"
        "  - id: b\n"
        "    when: {data_classes: [gossip]}\n"
        "    action: block\n"
        "  - id: c\n"
        "    colour: red\n"
        "    action: block\n",
        "bad.yaml",
    )
    missing = tmp_path / "missing.yaml"
    empty = write(tmp_path, "", "empty.yaml")
    problems = problems_of(bad, missing, empty)
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"{bad}:4",
        f"{bad}:6",
        f"{bad}:9",
        str(missing),
        f"{empty}:1",
    ]


def test_a_good_file_does_not_hide_a_bad_one(tmp_path: Path) -> None:
    good = write(tmp_path, "policy: good\nrules:\n  - id: a\n    action: allow\n", "good.yaml")
    bad = write(tmp_path, "policy: bad\nrules:\n  - id: b\n    action: nope\n", "bad.yaml")
    (problem,) = problems_of(good, bad)
    assert problem.startswith(f"{bad}:4: ")


# --- version ------------------------------------------------------------------------------------

POLICY = "policy: p\nrules:\n  - id: a\n    when: {kinds: [pii]}\n    action: redact\n"


def test_version_is_a_short_sha256(tmp_path: Path) -> None:
    version = load_policy([write(tmp_path, POLICY)]).version
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", version)


def test_version_is_stable_for_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = load_policy([write(tmp_path / "x", POLICY)])
    b = load_policy([write(tmp_path / "y", POLICY)])
    assert a.version == b.version  # the file's name and bytes, not its directory
    assert load_policy(a.sources).version == a.version


def test_version_changes_with_one_byte(tmp_path: Path) -> None:
    path = write(tmp_path, POLICY)
    before = load_policy([path]).version
    data = bytearray(path.read_bytes())
    data[data.index(b"id: a") + 4] = ord("b")
    path.write_bytes(bytes(data))
    assert load_policy([path]).version != before
    write(tmp_path, POLICY + "#\n")
    assert load_policy([path]).version != before  # the bytes, not the meaning
    write(tmp_path, POLICY)
    assert load_policy([path]).version == before


def test_version_covers_every_file_in_order(tmp_path: Path) -> None:
    one = write(tmp_path, "policy: one\nrules:\n  - id: a\n    action: allow\n", "one.yaml")
    two = write(tmp_path, "policy: two\nrules:\n  - id: b\n    action: allow\n", "two.yaml")
    both = load_policy([one, two])
    assert both.version != load_policy([one]).version
    assert both.version != load_policy([two, one]).version
    assert both.names == ("one", "two")
    assert [r.id for r in both.rules] == ["a", "b"]
    assert both.label == "one+two"


def test_no_files_is_an_empty_policy() -> None:
    empty = load_policy([])
    assert empty.rules == ()
    assert empty.label == "(no policy)"
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", empty.version)


# --- compiled rules -----------------------------------------------------------------------------


def test_rule_where_is_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "policy: p\n"
        "mode: shadow\n"
        "rules:\n"
        "  - id: a\n"
        "    action: allow\n"
        "\n"
        "  # a comment\n"
        "  - id: b\n"
        "    when: {kinds: [pii]}\n"
        "    action: redact\n",
    )
    policy = load_policy([path])
    assert [r.where for r in policy.rules] == [f"{path}:4", f"{path}:8"]
    assert [r.mode for r in policy.rules] == ["shadow", "shadow"]


def test_rule_mode_defaults_to_the_policy_mode(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "policy: p\nrules:\n  - id: a\n    action: allow\n  - id: b\n    action: block\n    mode: shadow\n",
    )
    assert [r.mode for r in load_policy([path]).rules] == ["enforce", "shadow"]


def test_default_policy_loads() -> None:
    path = ROOT / "policies" / "default.yaml"
    policy = load_policy([path])
    assert policy.names == ("default",)
    ids = [r.id for r in policy.rules]
    assert ids[0] == "scan-failed-block"
    assert "personal-data-pseudonymized" in ids
    assert len(ids) == len(set(ids))
    assert all(r.mode == "enforce" for r in policy.rules)
    assert all(r.where.startswith(f"{path}:") for r in policy.rules)
    assert len(policy.files[0].examples) >= 1
