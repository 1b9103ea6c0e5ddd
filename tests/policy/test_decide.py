"""Table tests of the pure decision function, with literal findings and small policies."""

from __future__ import annotations

import itertools
import textwrap

import pytest

from gateway.exchange import Principal
from gateway.policy.compile import Policy, Target, compile_rule
from gateway.policy.decide import (
    SCAN_FAILED_MESSAGE,
    SCAN_FAILED_RULE,
    UNCHANGEABLE_MESSAGE,
    UNCHANGEABLE_RULE,
    Decision,
    Facts,
    Fired,
    decide,
)
from gateway.policy.load import parse_policy
from gateway.policy.schema import ACTIONS, RANK, Action
from gateway.scan.findings import Finding, Kind

ALICE = Principal(user="alice", team="eng", role="user", key_id="key-alice")
OPENAI = Target(name="openai", type="openai", jurisdiction="US")
DEEPSEEK = Target(name="deepseek", type="openai", jurisdiction="CN")
CLAUDE = Target(name="claude", type="anthropic", jurisdiction="EU")
LOCAL = Target(name="local", type="local", jurisdiction="LOCAL")
VERSION = "sha256:0123456789abcdef"


def make_policy(rules: str, *, mode: str = "enforce", source: str = "test.yaml") -> Policy:
    """A compiled one-file policy whose ``rules:`` list is the YAML in ``rules``."""
    body = textwrap.indent(textwrap.dedent(rules).strip("\n"), "  ")
    text = f"policy: test\nmode: {mode}\nrules:\n{body}\n"
    parsed, lines = parse_policy(text.encode(), source)
    compiled = tuple(
        compile_rule(rule, parsed.mode, f"{source}:{line}")
        for rule, line in zip(parsed.rules, lines, strict=True)
    )
    return Policy(VERSION, (parsed.policy,), compiled, (parsed,), (source,))


def finding(
    entity: str = "EMAIL_ADDRESS",
    kind: Kind = "pii",
    *,
    segment: int = 0,
    score: float = 0.9,
    view: str = "raw",
) -> Finding:
    return Finding(kind, entity, segment, 0, 5, score, "test-detector", view)


def facts(
    *findings: Finding,
    principal: Principal = ALICE,
    destination: Target = OPENAI,
    model: str = "gpt-4o-mini",
    endpoint: str = "chat.completions",
) -> Facts:
    return Facts(principal, destination, model, endpoint, findings)


EMAIL = finding("EMAIL_ADDRESS")
PHONE = finding("PHONE_NUMBER", segment=1)
AWS = finding("AWS_ACCESS_KEY_ID", "secret", segment=2)


def one_rule(action: Action, when: str = "{kinds: [pii]}", extra: str = "") -> Policy:
    return make_policy(f"- {{id: r, when: {when}, action: {action}{extra}}}")


def fires(policy: Policy, f: Facts) -> bool:
    """Whether the single rule ``r`` of ``policy`` fires (enforced) for ``f``."""
    return "r" in decide(policy, f).rules


# --- every action -------------------------------------------------------------------------------


def test_no_rules_allow_everything() -> None:
    decision = decide(make_policy("[]"), facts(EMAIL, AWS))
    assert decision == Decision(action="allow", policy_version=VERSION)
    assert decision.reason is None


def test_allow_fires_but_changes_nothing() -> None:
    decision = decide(one_rule("allow"), facts(EMAIL))
    assert decision.action == "allow"
    assert decision.values == {}
    assert decision.rules == ("r",)
    assert decision.fired == (Fired("r", "allow", False, 1, ("contact", "personal_data")),)
    assert decision.reason is None
    assert decision.message is None
    assert not decision.local


@pytest.mark.parametrize("action", ["pseudonymize", "hash", "redact"])
def test_value_actions_apply_to_matched_findings(action: Action) -> None:
    decision = decide(one_rule(action), facts(EMAIL, AWS, PHONE))
    assert decision.action == action
    assert decision.values == {0: action, 2: action}  # the secret is not pii
    assert decision.reason == "r"
    assert decision.message is None
    assert not decision.local
    assert decision.fired == (Fired("r", action, False, 2, ("contact", "personal_data")),)


def test_route_local() -> None:
    decision = decide(one_rule("route_local"), facts(EMAIL), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {}
    assert decision.reason == "r"
    assert decision.message is None


def test_block() -> None:
    decision = decide(one_rule("block"), facts(EMAIL))
    assert decision.action == "block"
    assert decision.values == {}
    assert not decision.local
    assert decision.reason == "r"
    assert decision.message == "This request was blocked by the gateway's data policy (rule r)."


def test_block_with_message() -> None:
    decision = decide(one_rule("block", extra=", message: 'No e-mail, please.'"), facts(EMAIL))
    assert decision.message == "No e-mail, please."


def test_rule_without_finding_condition_is_about_the_request() -> None:
    policy = make_policy("- {id: r, when: {principal: {teams: [legal]}}, action: block}")
    legal = Principal("bob", "legal", "user", "k")
    assert decide(policy, facts(principal=legal)).action == "block"  # no findings needed
    assert decide(policy, facts()).action == "allow"
    assert decide(policy, facts(principal=legal)).fired == (Fired("r", "block", False, 0, ()),)


# --- precedence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), list(itertools.permutations(ACTIONS, 2)))
def test_most_restrictive_action_wins_for_the_request(first: Action, second: Action) -> None:
    policy = make_policy(
        f"""
        - {{id: a, when: {{kinds: [pii]}}, action: {first}}}
        - {{id: b, when: {{entities: [EMAIL_ADDRESS]}}, action: {second}}}
        """
    )
    decision = decide(policy, facts(EMAIL), LOCAL)
    winner = max(first, second, key=RANK.__getitem__)
    assert decision.action == winner
    assert decision.reason == ("a" if winner == first else "b")


def test_precedence_order() -> None:
    assert ACTIONS == ("allow", "pseudonymize", "hash", "redact", "route_local", "block")


def test_each_value_gets_its_most_restrictive_action() -> None:
    policy = make_policy(
        """
        - {id: tokens, when: {kinds: [pii]}, action: pseudonymize}
        - {id: no-mail, when: {entities: [EMAIL_ADDRESS]}, action: redact}
        - {id: digest-phones, when: {entities: [PHONE_NUMBER]}, action: hash}
        - {id: also-mail, when: {data_classes: [contact]}, action: hash}
        """
    )
    person = finding("PERSON", segment=3)
    decision = decide(policy, facts(EMAIL, PHONE, person))
    assert decision.values == {0: "redact", 1: "hash", 2: "pseudonymize"}
    assert decision.action == "redact"
    assert decision.reason == "no-mail"
    assert decision.rules == ("tokens", "no-mail", "digest-phones", "also-mail")


def test_explicit_allow_cannot_loosen_another_rule() -> None:
    policy = make_policy(
        """
        - {id: ok, when: {kinds: [pii]}, action: allow}
        - {id: tokens, when: {kinds: [pii]}, action: pseudonymize}
        """
    )
    decision = decide(policy, facts(EMAIL))
    assert decision.action == "pseudonymize"
    assert decision.values == {0: "pseudonymize"}


# --- unless -------------------------------------------------------------------------------------


def test_unless_destination() -> None:
    policy = one_rule("redact", extra=", unless: {destination: {jurisdictions: [eu]}}")
    assert decide(policy, facts(EMAIL, destination=OPENAI)).action == "redact"
    decision = decide(policy, facts(EMAIL, destination=CLAUDE))
    assert decision.action == "allow"
    assert decision.rules == ()


def test_unless_principal_and_endpoint() -> None:
    policy = one_rule("block", extra=", unless: {principal: {roles: [admin]}, endpoints: [embeddings]}")
    admin = Principal("root", None, "admin", "k")
    assert decide(policy, facts(EMAIL, principal=admin)).action == "block"  # both must match
    assert decide(policy, facts(EMAIL, endpoint="embeddings")).action == "block"
    assert decide(policy, facts(EMAIL, principal=admin, endpoint="embeddings")).action == "allow"


# --- scope: principal, destination, endpoint ----------------------------------------------------


@pytest.mark.parametrize(
    ("match", "principal", "expected"),
    [
        ("{users: [alice]}", ALICE, True),
        ("{users: [bob, carol]}", ALICE, False),
        ("{teams: [eng, ops]}", ALICE, True),
        ("{teams: [legal]}", ALICE, False),
        ("{teams: [legal]}", Principal("x", None, "user", "k"), False),
        ("{roles: [user]}", ALICE, True),
        ("{roles: [admin, auditor]}", ALICE, False),
        ("{roles: [admin]}", Principal("x", None, "admin", "k"), True),
        ("{users: [alice], teams: [legal]}", ALICE, False),  # every given condition must hold
        ("{users: [alice], teams: [eng], roles: [user]}", ALICE, True),
        ("{}", ALICE, True),
    ],
)
def test_principal_matching(match: str, principal: Principal, expected: bool) -> None:
    policy = one_rule("redact", when=f"{{kinds: [pii], principal: {match}}}")
    assert fires(policy, facts(EMAIL, principal=principal)) is expected


@pytest.mark.parametrize(
    ("match", "destination", "model", "expected"),
    [
        ("{names: [openai]}", OPENAI, "gpt-4o", True),
        ("{names: [claude]}", OPENAI, "gpt-4o", False),
        ("{types: [anthropic]}", CLAUDE, "claude-3", True),
        ("{types: [anthropic, local]}", OPENAI, "gpt-4o", False),
        ("{jurisdictions: [cn]}", DEEPSEEK, "deepseek-chat", True),  # upper-cased when parsed
        ("{jurisdictions: [CN, RU]}", OPENAI, "gpt-4o", False),
        ("{models: ['gpt-4*']}", OPENAI, "gpt-4o-mini", True),
        ("{models: ['gpt-4*']}", OPENAI, "gpt-3.5-turbo", False),
        ("{models: ['gpt-4*']}", OPENAI, "my-gpt-4o", False),  # the whole name must match
        ("{models: ['o?-mini', 'claude-*']}", OPENAI, "o3-mini", True),
        ("{models: ['o?-mini', 'claude-*']}", OPENAI, "claude-3-haiku", True),
        ("{models: ['o?-mini', 'claude-*']}", OPENAI, "o3-mini-high", False),
        ("{types: [openai], jurisdictions: [US]}", DEEPSEEK, "x", False),
        ("{types: [openai], jurisdictions: [CN]}", DEEPSEEK, "x", True),
    ],
)
def test_destination_matching(match: str, destination: Target, model: str, expected: bool) -> None:
    policy = one_rule("redact", when=f"{{kinds: [pii], destination: {match}}}")
    assert fires(policy, facts(EMAIL, destination=destination, model=model)) is expected


def test_endpoint_matching() -> None:
    policy = one_rule("redact", when="{kinds: [pii], endpoints: [chat.completions, responses]}")
    assert fires(policy, facts(EMAIL, endpoint="chat.completions"))
    assert fires(policy, facts(EMAIL, endpoint="responses"))
    assert not fires(policy, facts(EMAIL, endpoint="embeddings"))


# --- what a rule selects ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "entity", "kind", "expected"),
    [
        ("['TERM:*']", "TERM:codenames", "term", True),
        ("['TERM:*']", "TERM:customers", "term", True),
        ("['TERM:*']", "PATTERN:employee_id", "term", False),
        ("['TERM:*']", "TERMS", "term", False),
        ("['AWS_*']", "AWS_ACCESS_KEY_ID", "secret", True),
        ("['AWS_*']", "GITHUB_TOKEN", "secret", False),
        ("[EMAIL_ADDRESS]", "EMAIL_ADDRESS", "pii", True),
        ("[EMAIL_ADDRESS]", "EMAIL_ADDRESS_X", "pii", False),
        ("['TERM:codenames', 'FINGERPRINT:*']", "FINGERPRINT:merger-plan", "fingerprint", True),
    ],
)
def test_entity_globs(patterns: str, entity: str, kind: Kind, expected: bool) -> None:
    policy = one_rule("redact", when=f"{{entities: {patterns}}}")
    assert fires(policy, facts(finding(entity, kind))) is expected


@pytest.mark.parametrize(
    ("data_class", "entity", "kind", "expected"),
    [
        ("personal_data", "EMAIL_ADDRESS", "pii", True),
        ("personal_data", "PERSON", "pii", True),
        ("personal_data", "US_SSN", "pii", True),
        ("personal_data", "SOME_NEW_PII_TYPE", "pii", True),  # unknown PII types are personal data
        ("personal_data", "LOCATION", "pii", False),
        ("personal_data", "ORGANIZATION", "pii", False),
        ("personal_data", "NRP", "pii", False),
        ("personal_data", "URL", "pii", False),
        ("personal_data", "AWS_ACCESS_KEY_ID", "secret", False),
        ("location", "LOCATION", "pii", True),
        ("organization", "ORGANIZATION", "pii", True),
        ("contact", "PHONE_NUMBER", "pii", True),
        ("contact", "PERSON", "pii", False),
        ("government_id", "US_PASSPORT", "pii", True),
        ("credentials", "AWS_ACCESS_KEY_ID", "secret", True),
        ("credentials", "EMAIL_ADDRESS", "pii", False),
        ("company_ip", "TERM:codenames", "term", True),
        ("company_ip", "SOURCE_CODE", "code", True),
        ("company_ip", "CONFIDENTIAL", "marker", True),
        ("company_ip", "FINGERPRINT:doc", "fingerprint", True),
        ("company_ip", "AWS_ACCESS_KEY_ID", "secret", False),
        ("unscannable", "IMAGE", "unscannable", True),
    ],
)
def test_data_classes(data_class: str, entity: str, kind: Kind, expected: bool) -> None:
    policy = one_rule("redact", when=f"{{data_classes: [{data_class}]}}")
    assert fires(policy, facts(finding(entity, kind))) is expected


def test_conditions_combine_with_and() -> None:
    policy = one_rule("redact", when="{kinds: [pii], entities: ['PHONE_*'], data_classes: [contact]}")
    decision = decide(policy, facts(EMAIL, PHONE))
    assert decision.values == {1: "redact"}


@pytest.mark.parametrize(("score", "expected"), [(0.49, False), (0.5, True), (0.99, True)])
def test_min_score(score: float, expected: bool) -> None:
    policy = one_rule("redact", when="{kinds: [pii], min_score: 0.5}")
    assert fires(policy, facts(finding(score=score))) is expected


def test_min_score_limits_the_values_changed() -> None:
    policy = one_rule("redact", when="{kinds: [pii], min_score: 0.5}")
    weak = finding("PERSON", segment=1, score=0.3)
    assert decide(policy, facts(EMAIL, weak)).values == {0: "redact"}


def test_min_count() -> None:
    policy = one_rule("block", when="{kinds: [pii], min_count: 3}")
    two = facts(finding(segment=0), finding("PHONE_NUMBER", segment=1))
    three = facts(finding(segment=0), finding("PHONE_NUMBER", segment=1), finding("PERSON", segment=2))
    assert decide(policy, two).action == "allow"
    assert decide(policy, three).action == "block"
    assert decide(policy, three).fired[0].count == 3


def test_min_count_counts_only_findings_above_min_score() -> None:
    policy = one_rule("block", when="{kinds: [pii], min_count: 2, min_score: 0.8}")
    assert decide(policy, facts(finding(score=0.9), finding(score=0.7, segment=1))).action == "allow"
    assert decide(policy, facts(finding(score=0.9), finding(score=0.8, segment=1))).action == "block"


def test_seam_continuations_are_not_counted() -> None:
    policy = one_rule("redact", when="{kinds: [pii], min_count: 2}")
    # A value split across two messages: one finding per side, the second marked seam+.
    split = facts(finding(segment=0, view="seam:raw"), finding(segment=1, view="seam+:raw"))
    assert decide(policy, split).action == "allow"
    both = facts(finding(segment=0, view="seam:raw"), finding(segment=1, view="seam+:raw"), PHONE)
    decision = decide(policy, both)
    assert decision.action == "redact"
    assert decision.values == {0: "redact", 1: "redact", 2: "redact"}  # seam+ pieces still changed


def test_a_split_value_fires_a_default_rule() -> None:
    policy = one_rule("redact")
    split = facts(finding(segment=0, view="seam:raw"), finding(segment=1, view="seam+:raw"))
    assert decide(policy, split).values == {0: "redact", 1: "redact"}


# --- shadow -------------------------------------------------------------------------------------


def test_shadow_rule_is_recorded_and_changes_nothing() -> None:
    policy = make_policy(
        """
        - {id: tokens, when: {kinds: [pii]}, action: pseudonymize}
        - {id: trial-block, when: {entities: [EMAIL_ADDRESS]}, action: block, mode: shadow}
        - {id: trial-redact, when: {entities: [PHONE_NUMBER]}, action: redact, mode: shadow}
        """
    )
    decision = decide(policy, facts(EMAIL, PHONE))
    assert decision.action == "pseudonymize"
    assert decision.values == {0: "pseudonymize", 1: "pseudonymize"}
    assert decision.rules == ("tokens",)
    assert decision.message is None
    assert decision.shadow == (
        Fired("trial-block", "block", True, 1, ("contact", "personal_data")),
        Fired("trial-redact", "redact", True, 1, ("contact", "personal_data")),
    )
    assert decision.shadow_action == "block"


def test_shadow_action_without_shadow_rules_is_the_enforced_action() -> None:
    decision = decide(one_rule("hash"), facts(EMAIL))
    assert decision.shadow == ()
    assert decision.shadow_action == "hash"


def test_shadow_route_local_does_not_route() -> None:
    policy = one_rule("route_local", when="{kinds: [secret]}", extra=", mode: shadow")
    decision = decide(policy, facts(AWS), LOCAL)
    assert decision.action == "allow"
    assert not decision.local
    assert decision.shadow_action == "route_local"
    assert decision.reason is None


def test_shadow_policy_shadows_every_rule() -> None:
    policy = make_policy(
        """
        - {id: a, when: {kinds: [pii]}, action: redact}
        - {id: b, when: {kinds: [secret]}, action: block, mode: enforce}
        """,
        mode="shadow",
    )
    assert all(rule.mode == "shadow" for rule in policy.rules)
    decision = decide(policy, facts(EMAIL, AWS))
    assert decision.action == "allow"
    assert decision.values == {}
    assert decision.fired == ()
    assert [f.rule for f in decision.shadow] == ["a", "b"]
    assert all(f.shadow for f in decision.shadow)
    assert decision.shadow_action == "block"


# --- route_local: re-decided at the local destination -------------------------------------------

ROUTE_AND_TOKENS = """
- {id: secrets-local, when: {kinds: [secret]}, action: route_local}
- {id: tokens, when: {kinds: [pii]}, unless: {destination: {types: [local]}}, action: pseudonymize}
"""


def test_value_rules_that_exclude_local_stop_applying() -> None:
    decision = decide(make_policy(ROUTE_AND_TOKENS), facts(EMAIL, AWS), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {}
    assert decision.rules == ("secrets-local",)
    assert decision.reason == "secrets-local"


def test_value_rules_for_every_destination_still_apply_locally() -> None:
    policy = make_policy(
        """
        - {id: secrets-local, when: {kinds: [secret]}, action: route_local}
        - {id: no-mail, when: {entities: [EMAIL_ADDRESS]}, action: redact}
        """
    )
    decision = decide(policy, facts(EMAIL, AWS), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {0: "redact"}
    assert decision.rules == ("secrets-local", "no-mail")


def test_a_block_that_applies_locally_wins() -> None:
    policy = make_policy(
        """
        - {id: secrets-local, when: {kinds: [secret]}, action: route_local}
        - {id: no-ssn-anywhere, when: {entities: [US_SSN], destination: {types: [local]}},
           action: block, message: Not even locally.}
        """
    )
    ssn = finding("US_SSN", segment=3)
    decision = decide(policy, facts(AWS, ssn), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.values == {}
    assert decision.message == "Not even locally."
    assert decision.reason == "no-ssn-anywhere"
    assert decision.rules == ("secrets-local", "no-ssn-anywhere")
    # Without the SSN the request just goes local.
    assert decide(policy, facts(AWS), LOCAL).action == "route_local"


def test_a_block_for_external_destinations_only_does_not_fire_locally() -> None:
    policy = make_policy(
        """
        - {id: secrets-local, when: {kinds: [secret]}, action: route_local}
        - {id: no-ssn-out, when: {entities: [US_SSN]}, unless: {destination: {types: [local]}},
           action: block}
        """
    )
    # At the original destination the block outranks route_local.
    assert decide(policy, facts(AWS, finding("US_SSN")), LOCAL).action == "block"


def test_route_local_fires_again_locally_and_is_satisfied() -> None:
    decision = decide(one_rule("route_local", when="{kinds: [secret]}"), facts(AWS), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.rules == ("r",)  # not listed twice


def test_route_local_without_a_local_destination_stays_route_local() -> None:
    policy = make_policy(
        """
        - {id: secrets-local, when: {kinds: [secret]}, action: route_local}
        - {id: no-mail, when: {entities: [EMAIL_ADDRESS]}, action: redact}
        """
    )
    decision = decide(policy, facts(EMAIL, AWS), None)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {}
    assert decision.rules == ("secrets-local",)
    assert decision.message is None


def test_request_already_going_local_is_not_rerouted() -> None:
    policy = make_policy(
        """
        - {id: secrets-local, when: {kinds: [secret]}, action: route_local}
        - {id: no-mail, when: {entities: [EMAIL_ADDRESS]}, action: redact}
        """
    )
    decision = decide(policy, facts(EMAIL, AWS, destination=LOCAL), LOCAL)
    assert decision.action == "redact"
    assert not decision.local
    assert decision.values == {0: "redact"}
    only_secret = decide(policy, facts(AWS, destination=LOCAL), LOCAL)
    assert only_secret.action == "allow"
    assert not only_secret.local
    assert only_secret.rules == ("secrets-local",)  # it fired; being local already satisfies it
    assert only_secret.reason is None


def test_default_policy_personal_data_to_cn_goes_local_untransformed() -> None:
    policy = make_policy(
        """
        - {id: cn-local, when: {data_classes: [personal_data], destination: {jurisdictions: [CN]}},
           action: route_local}
        - {id: tokens, when: {data_classes: [personal_data]}, unless: {destination: {types: [local]}},
           action: pseudonymize}
        """
    )
    to_cn = decide(policy, facts(EMAIL, destination=DEEPSEEK), LOCAL)
    assert (to_cn.action, to_cn.local, dict(to_cn.values)) == ("route_local", True, {})
    to_us = decide(policy, facts(EMAIL, destination=OPENAI), LOCAL)
    assert (to_us.action, to_us.local, dict(to_us.values)) == ("pseudonymize", False, {0: "pseudonymize"})


# --- fail-closed guards -------------------------------------------------------------------------

FAILED = Finding("scan_failed", "SCAN_FAILED", -1, 0, 0, 1.0, "engine")


def test_failed_scan_without_a_rule_is_blocked() -> None:
    decision = decide(make_policy("[]"), facts(EMAIL, FAILED))
    assert decision.action == "block"
    assert decision.fired == (Fired(SCAN_FAILED_RULE, "block", False, 0, ("scan_failed",)),)
    assert decision.reason == SCAN_FAILED_RULE
    assert decision.message == SCAN_FAILED_MESSAGE
    assert decision.values == {}


def test_failed_scan_overrides_value_actions() -> None:
    decision = decide(one_rule("pseudonymize"), facts(EMAIL, FAILED))
    assert decision.action == "block"
    assert decision.values == {}
    assert decision.reason == SCAN_FAILED_RULE


def test_failed_scan_with_a_blocking_rule_uses_the_rule() -> None:
    policy = one_rule("block", when="{kinds: [scan_failed]}", extra=", message: Try again.")
    decision = decide(policy, facts(FAILED))
    assert decision.action == "block"
    assert decision.rules == ("r",)
    assert decision.message == "Try again."


def test_failed_scan_kept_local_by_a_rule_stays_local() -> None:
    policy = one_rule("route_local", when="{kinds: [scan_failed]}")
    decision = decide(policy, facts(FAILED), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert SCAN_FAILED_RULE not in decision.rules


def test_failed_scan_going_local_already_is_blocked() -> None:
    decision = decide(make_policy("[]"), facts(FAILED, destination=LOCAL), LOCAL)
    assert decision.action == "block"
    assert decision.reason == SCAN_FAILED_RULE


@pytest.mark.parametrize("action", ["pseudonymize", "hash", "redact"])
def test_value_action_on_a_whole_request_finding_blocks(action: Action) -> None:
    image = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    policy = one_rule(action, when="{kinds: [pii, unscannable]}")
    decision = decide(policy, facts(EMAIL, image))
    assert decision.action == "block"
    assert decision.values == {}
    assert decision.rules == ("r", UNCHANGEABLE_RULE)
    assert decision.reason == UNCHANGEABLE_RULE
    assert decision.message == UNCHANGEABLE_MESSAGE


def test_whole_request_finding_with_a_blocking_rule_uses_the_rule() -> None:
    image = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    policy = make_policy(
        """
        - {id: redact-all, when: {kinds: [unscannable]}, action: redact}
        - {id: no-images, when: {kinds: [unscannable]}, action: block, message: No images.}
        """
    )
    decision = decide(policy, facts(image))
    assert decision.reason == "no-images"
    assert decision.message == "No images."
    assert UNCHANGEABLE_RULE not in decision.rules


def test_whole_request_finding_routed_local_is_not_blocked() -> None:
    image = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    policy = one_rule("route_local", when="{data_classes: [unscannable]}")
    decision = decide(policy, facts(image), LOCAL)
    assert decision.action == "route_local"
    assert decision.local


def test_whole_request_finding_changed_at_the_local_destination_blocks() -> None:
    image = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    policy = make_policy(
        """
        - {id: images-local, when: {kinds: [unscannable]}, action: route_local}
        - {id: redact-images, when: {kinds: [unscannable]}, action: redact}
        """
    )
    decision = decide(policy, facts(image), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.reason == UNCHANGEABLE_RULE


# --- reason and message -------------------------------------------------------------------------


def test_reason_lists_the_rules_of_the_winning_action() -> None:
    policy = make_policy(
        """
        - {id: a, when: {kinds: [pii]}, action: pseudonymize}
        - {id: b, when: {entities: [EMAIL_ADDRESS]}, action: redact}
        - {id: c, when: {data_classes: [contact]}, action: redact}
        """
    )
    decision = decide(policy, facts(EMAIL))
    assert decision.rules == ("a", "b", "c")
    assert decision.reason == "b,c"


def test_block_message_is_the_first_block_rule_with_a_message() -> None:
    policy = make_policy(
        """
        - {id: quiet, when: {kinds: [pii]}, action: block}
        - {id: loud, when: {kinds: [pii]}, action: block, message: First message.}
        - {id: louder, when: {kinds: [pii]}, action: block, message: Second message.}
        """
    )
    decision = decide(policy, facts(EMAIL))
    assert decision.message == "First message."
    assert decision.reason == "quiet,loud,louder"


def test_default_block_message_names_the_first_block_rule() -> None:
    policy = make_policy(
        """
        - {id: local, when: {kinds: [pii]}, action: route_local}
        - {id: first-block, when: {kinds: [pii]}, action: block}
        - {id: second-block, when: {kinds: [pii]}, action: block}
        """
    )
    decision = decide(policy, facts(EMAIL), LOCAL)
    assert decision.message == "This request was blocked by the gateway's data policy (rule first-block)."
    assert decision.reason == "first-block,second-block"


def test_non_block_decisions_have_no_message() -> None:
    for action in ("allow", "pseudonymize", "hash", "redact", "route_local"):
        assert decide(one_rule(action), facts(EMAIL), LOCAL).message is None


def test_decision_carries_the_policy_version() -> None:
    assert decide(make_policy("[]"), facts()).policy_version == VERSION


# --- sticky-local conversations -----------------------------------------------------------------

STICKY = "builtin:sticky-local"


def sticky(*findings: Finding, destination: Target = OPENAI) -> Facts:
    """Facts of a later turn of a conversation an earlier turn of which went local."""
    return Facts(ALICE, destination, "gpt-4o-mini", "chat.completions", findings, sticky_local=True)


def test_sticky_conversation_goes_local_even_when_clean() -> None:
    decision = decide(make_policy("[]"), sticky(), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {}
    assert decision.message is None
    assert decision.fired == (Fired(STICKY, "route_local", False, 0, ()),)
    assert decision.rules == (STICKY,)
    assert decision.reason == STICKY
    # The same turn of a conversation that never went local is allowed to the original destination.
    assert decide(make_policy("[]"), facts(), LOCAL) == Decision(action="allow", policy_version=VERSION)


def test_sticky_without_a_local_destination_stays_route_local() -> None:
    decision = decide(make_policy("[]"), sticky())
    assert (decision.action, decision.local, decision.reason) == ("route_local", True, STICKY)


def test_sticky_value_rules_for_external_destinations_are_moot_locally() -> None:
    policy = one_rule("pseudonymize", extra=", unless: {destination: {types: [local]}}")
    decision = decide(policy, sticky(EMAIL), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {}
    assert decision.rules == (STICKY,)


def test_sticky_value_rules_for_every_destination_still_apply_locally() -> None:
    decision = decide(one_rule("redact"), sticky(EMAIL, AWS), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.values == {0: "redact"}
    assert decision.rules == (STICKY, "r")
    assert decision.reason == STICKY


def test_sticky_does_not_lift_a_block() -> None:
    decision = decide(one_rule("block", extra=", message: 'No e-mail, please.'"), sticky(EMAIL), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.values == {}
    assert decision.message == "No e-mail, please."
    assert decision.rules == ("r",)
    assert decision.reason == "r"
    assert STICKY not in decision.rules


def test_sticky_meets_a_block_that_applies_locally() -> None:
    policy = make_policy(
        """
        - {id: no-ssn-anywhere, when: {entities: [US_SSN], destination: {types: [local]}},
           action: block, message: Not even locally.}
        """
    )
    ssn = finding("US_SSN", segment=3)
    decision = decide(policy, sticky(ssn), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.message == "Not even locally."
    assert decision.rules == (STICKY, "no-ssn-anywhere")
    assert decision.reason == "no-ssn-anywhere"
    assert decide(policy, sticky(), LOCAL).action == "route_local"


def test_sticky_with_a_failed_scan_is_blocked() -> None:
    decision = decide(make_policy("[]"), sticky(FAILED), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.values == {}
    assert decision.reason == SCAN_FAILED_RULE
    assert decision.message == SCAN_FAILED_MESSAGE
    assert decision.rules[-1] == SCAN_FAILED_RULE


def test_sticky_with_an_unchangeable_finding_redacted_locally_blocks() -> None:
    image = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    decision = decide(one_rule("redact", when="{kinds: [unscannable]}"), sticky(image), LOCAL)
    assert decision.action == "block"
    assert not decision.local
    assert decision.reason == UNCHANGEABLE_RULE


def test_a_route_local_rule_is_the_reason_and_sticky_is_not_added() -> None:
    decision = decide(one_rule("route_local", when="{kinds: [secret]}"), sticky(AWS), LOCAL)
    assert decision.action == "route_local"
    assert decision.local
    assert decision.rules == ("r",)
    assert decision.reason == "r"
    assert STICKY not in decision.rules


def test_sticky_never_changes_the_shadow_outcome_or_the_shadow_rules() -> None:
    policy = one_rule("redact", extra=", mode: shadow")
    decision = decide(policy, sticky(EMAIL), LOCAL)
    assert decision.action == "route_local"
    assert decision.shadow == (Fired("r", "redact", True, 1, ("contact", "personal_data")),)
    assert decision.shadow_action == "redact"


def test_sticky_when_the_destination_is_already_local_changes_nothing() -> None:
    clean = decide(make_policy("[]"), sticky(destination=LOCAL), LOCAL)
    assert clean == decide(make_policy("[]"), facts(destination=LOCAL), LOCAL)
    assert clean.action == "allow" and not clean.local
    # A redaction for every destination is kept, not dropped.
    redacted = decide(one_rule("redact"), sticky(EMAIL, destination=LOCAL), LOCAL)
    assert (redacted.action, dict(redacted.values)) == ("redact", {0: "redact"})
