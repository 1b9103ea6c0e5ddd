"""The ``suspicious_encoding`` data class: its schema, its classes, and the default policy's rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit.query import classes_of_entity, kind_of
from gateway.exchange import Principal
from gateway.policy.classes import DATA_CLASSES, classes_of
from gateway.policy.compile import Target
from gateway.policy.decide import Facts, decide
from gateway.policy.load import PolicyError, load_policy, parse_policy
from gateway.scan.findings import KINDS, Finding
from gateway.scan.opaque import ENTITY

ROOT = Path(__file__).resolve().parents[2]
ALICE = Principal(user="alice", team="eng", role="user", key_id="key-alice")
OPENAI = Target(name="openai", type="openai", jurisdiction="US")
LOCAL = Target(name="local", type="local", jurisdiction="LOCAL")
BLOB = Finding("suspicious_encoding", ENTITY, 0, 10, 200, 0.9, "encoding")
EMAIL = Finding("pii", "EMAIL_ADDRESS", 0, 210, 230, 0.9, "pii")
IMAGE = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")


def _facts(*findings: Finding, destination: Target = OPENAI) -> Facts:
    return Facts(ALICE, destination, "gpt-4o-mini", "chat.completions", findings)


def test_a_kind_and_a_class_of_its_own_apart_from_unscannable() -> None:
    assert "suspicious_encoding" in KINDS
    assert "suspicious_encoding" in DATA_CLASSES
    assert classes_of("suspicious_encoding", ENTITY) == frozenset({"suspicious_encoding"})
    assert "suspicious_encoding" not in classes_of("unscannable", "IMAGE")
    assert "unscannable" not in classes_of("suspicious_encoding", ENTITY)


def test_audit_records_know_the_entity() -> None:
    assert kind_of(ENTITY) == "suspicious_encoding"
    assert classes_of_entity(ENTITY) == frozenset({"suspicious_encoding"})


@pytest.mark.parametrize(
    "when",
    ["{data_classes: [suspicious_encoding]}", "{kinds: [suspicious_encoding]}", "{entities: [SUSPICIOUS_*]}"],
)
def test_policies_can_name_it(when: str) -> None:
    text = f"policy: p\nrules:\n  - id: r\n    when: {when}\n    action: block\n"
    parsed, _ = parse_policy(text.encode(), "p.yaml")
    assert parsed.rules[0].when.about_findings


def test_a_misspelt_class_is_refused() -> None:
    text = (
        "policy: p\nrules:\n  - id: r\n    when: {data_classes: [suspicious_encodings]}\n    action: block\n"
    )
    with pytest.raises(PolicyError, match="unknown data class 'suspicious_encodings'"):
        parse_policy(text.encode(), "p.yaml")


def test_the_default_policy_keeps_a_suspicious_blob_on_the_local_model() -> None:
    policy = load_policy([ROOT / "policies" / "default.yaml"])
    decision = decide(policy, _facts(BLOB))
    assert decision.action == "route_local"
    assert decision.local
    assert decision.rules == ("suspicious-encoding-stays-local",)
    # With personal data beside it the blob still wins: route_local is stricter than pseudonymize.
    both = decide(policy, _facts(BLOB, EMAIL))
    assert both.action == "route_local"
    assert "suspicious-encoding-stays-local" in both.rules
    # Media is the unscannable rule's, not this one's.
    assert decide(policy, _facts(IMAGE)).rules == ("unscannable-stays-local",)


def test_the_default_policy_rule_is_described() -> None:
    policy = load_policy([ROOT / "policies" / "default.yaml"])
    [rule] = [r for r in policy.files[0].rules if r.id == "suspicious-encoding-stays-local"]
    assert rule.description
    assert rule.when.data_classes == ("suspicious_encoding",)
    assert rule.action == "route_local"
