"""Property tests of decide(): monotone in the findings, and shadow rules never enforce anything."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.exchange import Principal
from gateway.policy.compile import CompiledRule, Policy, Target, compile_rule
from gateway.policy.decide import SCAN_FAILED_RULE, Decision, Facts, decide
from gateway.policy.schema import ACTIONS, RANK, VALUE_ACTIONS, Action, Rule
from gateway.scan.findings import Finding, Kind

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

ALICE = Principal(user="alice", team="eng", role="user", key_id="key-alice")
OPENAI = Target(name="openai", type="openai", jurisdiction="US")
DEEPSEEK = Target(name="deepseek", type="openai", jurisdiction="CN")
LOCAL = Target(name="local", type="local", jurisdiction="LOCAL")

# --- findings -----------------------------------------------------------------------------------

ENTITIES: list[tuple[Kind, str]] = [
    ("pii", "EMAIL_ADDRESS"),
    ("pii", "PERSON"),
    ("pii", "LOCATION"),
    ("secret", "AWS_ACCESS_KEY_ID"),
    ("term", "TERM:codenames"),
    ("unscannable", "IMAGE"),
    ("scan_failed", "SCAN_FAILED"),
]


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    # Whole-request findings and failed scans trip the guards; keep them rare enough that most
    # examples exercise the rules.
    kind, entity = draw(st.sampled_from(ENTITIES[:-1] * 3 + ENTITIES[-1:]))
    return Finding(
        kind,
        entity,
        draw(st.sampled_from([0, 1, 2] * 3 + [-1])),
        0,
        4,
        draw(st.sampled_from([0.3, 0.6, 0.9])),
        "test",
        draw(st.sampled_from(["raw", "raw", "nfkc", "seam+:raw"])),
    )


finding_lists = st.lists(findings(), max_size=5)
some_findings = st.lists(findings(), min_size=1, max_size=5)

# --- rules --------------------------------------------------------------------------------------

CONDITIONS: list[dict[str, Any]] = [
    {"kinds": ["pii"]},
    {"kinds": ["secret", "term"]},
    {"entities": ["TERM:*"]},
    {"entities": ["EMAIL_ADDRESS", "PERSON"]},
    {"data_classes": ["personal_data"]},
    {"data_classes": ["company_ip", "unscannable"]},
    {"kinds": ["scan_failed"]},
]
SCOPES: list[dict[str, Any]] = [
    {},
    {},
    {},
    {"destination": {"types": ["local"]}},
    {"destination": {"jurisdictions": ["US"]}},
    {"destination": {"jurisdictions": ["CN"]}},
    {"principal": {"teams": ["eng"]}},
]
UNLESS: list[dict[str, Any] | None] = [
    None,
    None,
    {"destination": {"types": ["local"]}},
    {"destination": {"jurisdictions": ["CN"]}},
]


@st.composite
def rule_specs(draw: st.DrawFn) -> dict[str, Any]:
    action: Action = draw(st.sampled_from(ACTIONS))
    about_findings = action in VALUE_ACTIONS or draw(st.sampled_from([True, True, True, False]))
    when: dict[str, Any] = dict(draw(st.sampled_from(SCOPES)))
    if about_findings:
        when.update(draw(st.sampled_from(CONDITIONS)))
        when["min_score"] = draw(st.sampled_from([0.0, 0.0, 0.5]))
        when["min_count"] = draw(st.sampled_from([1, 1, 2]))
    spec: dict[str, Any] = {"action": action, "when": when}
    unless = draw(st.sampled_from(UNLESS))
    if unless is not None:
        spec["unless"] = unless
    return spec


def compile_specs(specs: list[dict[str, Any]]) -> tuple[CompiledRule, ...]:
    return tuple(
        compile_rule(Rule.model_validate({"id": f"r{i}", **spec}), "enforce", f"gen.yaml:{i + 1}")
        for i, spec in enumerate(specs)
    )


def policy_of(rules: tuple[CompiledRule, ...]) -> Policy:
    return Policy("sha256:0000000000000000", ("gen",), rules, (), ())


rule_lists = st.lists(rule_specs(), min_size=1, max_size=6).map(compile_specs)
destinations = st.sampled_from([OPENAI, DEEPSEEK, LOCAL])
locals_ = st.sampled_from([LOCAL, None])


def facts(found: list[Finding], destination: Target) -> Facts:
    return Facts(ALICE, destination, "gpt-4o-mini", "chat.completions", tuple(found))


def enforced(decision: Decision) -> tuple[Any, ...]:
    return (decision.action, dict(decision.values), decision.local, decision.message, decision.fired)


# --- (a) more findings never loosen the decision ------------------------------------------------


SCAN_FAILED = Finding("scan_failed", "SCAN_FAILED", -1, 0, 4, 1.0, "test")
IMAGE = Finding("unscannable", "IMAGE", -1, 0, 4, 1.0, "test")
AWS = Finding("secret", "AWS_ACCESS_KEY_ID", 0, 0, 4, 0.9, "test")
SECRETS_LOCAL = {"action": "route_local", "when": {"kinds": ["secret", "term"]}}
REDACT_IMAGES_OUTSIDE = {
    "action": "redact",
    "when": {"kinds": ["unscannable"]},
    "unless": {"destination": {"types": ["local"]}},
}


@PROPERTY
@given(rule_lists, finding_lists, findings(), destinations, locals_)
# A key next to a failed scan or an image a value rule would change: it must not lift the block.
@example(compile_specs([SECRETS_LOCAL]), [SCAN_FAILED], AWS, OPENAI, LOCAL)
@example(compile_specs([SECRETS_LOCAL]), [SCAN_FAILED], AWS, OPENAI, None)
@example(compile_specs([SECRETS_LOCAL, REDACT_IMAGES_OUTSIDE]), [IMAGE], AWS, OPENAI, LOCAL)
@example(compile_specs([SECRETS_LOCAL, REDACT_IMAGES_OUTSIDE]), [IMAGE], AWS, OPENAI, None)
def test_adding_a_finding_never_loosens_the_decision(
    rules: tuple[CompiledRule, ...],
    found: list[Finding],
    extra: Finding,
    destination: Target,
    local: Target | None,
) -> None:
    policy = policy_of(rules)
    before = decide(policy, facts(found, destination), local)
    after = decide(policy, facts([*found, extra], destination), local)
    assert RANK[after.action] >= RANK[before.action]
    if after.action == "block":
        return
    if before.local:
        assert after.local
    # Values changed before are changed at least as strictly now (same destination decided for).
    if before.local == after.local:
        for index, action in before.values.items():
            assert index in after.values
            assert RANK[after.values[index]] >= RANK[action]


# --- (b) shadow rules never change the enforced outcome -----------------------------------------


@PROPERTY
@given(st.data(), rule_lists, some_findings, destinations, locals_)
def test_shadowing_rules_is_removing_them(
    data: st.DataObject,
    rules: tuple[CompiledRule, ...],
    found: list[Finding],
    destination: Target,
    local: Target | None,
) -> None:
    chosen = data.draw(st.sets(st.sampled_from(range(len(rules)))) if rules else st.just(set[int]()))
    shadowed = tuple(replace(r, mode="shadow") if i in chosen else r for i, r in enumerate(rules))
    removed = tuple(r for i, r in enumerate(rules) if i not in chosen)
    f = facts(found, destination)
    with_shadow = decide(policy_of(shadowed), f, local)
    without = decide(policy_of(removed), f, local)
    assert enforced(with_shadow) == enforced(without)
    assert {s.rule for s in with_shadow.shadow} <= {rules[i].id for i in chosen}
    assert all(s.shadow for s in with_shadow.shadow)
    assert not {s.rule for s in with_shadow.shadow} & set(with_shadow.rules)


@PROPERTY
@given(rule_lists, some_findings, destinations, locals_)
def test_shadow_only_policy_enforces_nothing(
    rules: tuple[CompiledRule, ...],
    found: list[Finding],
    destination: Target,
    local: Target | None,
) -> None:
    shadow_only = tuple(replace(r, mode="shadow") for r in rules)
    f = facts(found, destination)
    decision = decide(policy_of(shadow_only), f, local)
    assert not decision.local
    assert decision.values == {}
    if any(x.kind == "scan_failed" for x in found):
        # The fail-closed guard is not a rule; no policy, shadow or not, switches it off.
        assert decision.action == "block"
        assert decision.rules == (SCAN_FAILED_RULE,)
        return
    assert decision.action == "allow"
    assert decision.fired == ()
    assert decision.message is None
    # shadow_action is what enforcing these rules would do at the original destination.
    if all(x.segment >= 0 for x in found):
        as_enforced = decide(policy_of(rules), f, None)
        assert decision.shadow_action == as_enforced.action
        would_fire = {s.rule for s in decision.shadow}
        assert {x.rule for x in as_enforced.fired} <= would_fire
        if as_enforced.action != "route_local":  # route_local lists only what sent it local
            assert {x.rule for x in as_enforced.fired} == would_fire
