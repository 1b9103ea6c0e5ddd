"""decide_answer: rules `applies_to: response` over values found in an answer; the default is to redact."""

from __future__ import annotations

import pytest

from gateway.policy.decide import OUTPUT_DEFAULT_RULE, AnswerDecision, Fired, decide, decide_answer
from gateway.policy.load import PolicyError, parse_policy
from gateway.policy.schema import Action
from tests.policy.test_decide import ALICE, finding, make_policy
from tests.policy.test_decide import facts as make_facts

EMAIL = finding("EMAIL_ADDRESS")
PHONE = finding("PHONE_NUMBER", segment=1)
AWS = finding("AWS_ACCESS_KEY_ID", "secret", segment=2)
CONTACT = ("contact", "personal_data")


def test_no_response_rules_redacts_every_finding() -> None:
    policy = make_policy("- {id: req, when: {kinds: [pii]}, action: pseudonymize}")
    decision = decide_answer(policy, make_facts(EMAIL, PHONE, AWS))
    assert decision == AnswerDecision(
        "redact",
        {0: "redact", 1: "redact", 2: "redact"},
        (Fired(OUTPUT_DEFAULT_RULE, "redact", False, 3, ()),),
    )
    assert OUTPUT_DEFAULT_RULE == "builtin:answer-redact"


def test_no_findings_allows() -> None:
    assert decide_answer(make_policy("[]"), make_facts()) == AnswerDecision("allow", {}, ())


def test_allow_rule_leaves_emails_alone() -> None:
    policy = make_policy(
        "- {id: emails-ok, applies_to: response, when: {entities: [EMAIL_ADDRESS]}, action: allow}"
    )
    decision = decide_answer(policy, make_facts(EMAIL, PHONE, EMAIL))
    assert decision.action == "redact"
    assert decision.values == {1: "redact"}
    assert decision.fired == (
        Fired("emails-ok", "allow", False, 2, CONTACT),
        Fired(OUTPUT_DEFAULT_RULE, "redact", False, 1, ()),
    )
    only_emails = decide_answer(policy, make_facts(EMAIL))
    assert only_emails == AnswerDecision("allow", {}, (Fired("emails-ok", "allow", False, 1, CONTACT),))


def test_hash_rule() -> None:
    policy = make_policy("- {id: h, applies_to: response, when: {entities: [PHONE_NUMBER]}, action: hash}")
    assert decide_answer(policy, make_facts(PHONE)) == AnswerDecision(
        "hash", {0: "hash"}, (Fired("h", "hash", False, 1, CONTACT),)
    )
    mixed = decide_answer(policy, make_facts(EMAIL, PHONE))
    assert mixed.action == "redact"
    assert mixed.values == {0: "redact", 1: "hash"}


def test_most_restrictive_response_rule_wins_per_value() -> None:
    policy = make_policy(
        """
        - {id: ok, applies_to: response, when: {kinds: [pii]}, action: allow}
        - {id: h, applies_to: response, when: {entities: [EMAIL_ADDRESS]}, action: hash}
        - {id: r, applies_to: response, when: {entities: [EMAIL_*]}, action: redact}
        """
    )
    decision = decide_answer(policy, make_facts(EMAIL, PHONE))
    assert decision.values == {0: "redact"}
    assert decision.action == "redact"
    assert [f.rule for f in decision.fired] == ["ok", "h", "r"]


def test_block_rule_with_message() -> None:
    policy = make_policy(
        """
        - {id: no-keys, applies_to: response, when: {kinds: [secret]}, action: block, message: No keys.}
        - {id: ok, applies_to: response, when: {kinds: [pii]}, action: allow}
        """
    )
    decision = decide_answer(policy, make_facts(EMAIL, AWS))
    assert decision == AnswerDecision(
        "block",
        {},
        (Fired("no-keys", "block", False, 1, ("credentials",)), Fired("ok", "allow", False, 1, CONTACT)),
        "No keys.",
    )
    assert decide_answer(policy, make_facts(EMAIL)).action == "allow"


def test_block_rule_without_message_names_the_rule() -> None:
    policy = make_policy("- {id: no-keys, applies_to: response, when: {kinds: [secret]}, action: block}")
    decision = decide_answer(policy, make_facts(AWS))
    assert decision.action == "block"
    assert decision.message == "The answer was stopped by the gateway's data policy (rule no-keys)."


def test_shadow_response_rule_changes_nothing() -> None:
    policy = make_policy(
        "- {id: s, applies_to: response, when: {entities: [EMAIL_ADDRESS]}, action: allow, mode: shadow}"
    )
    decision = decide_answer(policy, make_facts(EMAIL))
    assert decision == AnswerDecision(
        "redact", {0: "redact"}, (Fired(OUTPUT_DEFAULT_RULE, "redact", False, 1, ()),)
    )


def test_response_rule_scope_is_respected() -> None:
    policy = make_policy(
        "- {id: bob-ok, applies_to: response, action: allow,"
        " when: {entities: [EMAIL_ADDRESS], principal: {users: [bob]}}}"
    )
    assert decide_answer(policy, make_facts(EMAIL, principal=ALICE)).values == {0: "redact"}


def test_response_rules_are_ignored_by_the_request_decision() -> None:
    policy = make_policy("- {id: r, applies_to: response, when: {kinds: [pii]}, action: block}")
    decision = decide(policy, make_facts(EMAIL))
    assert decision.action == "allow"
    assert decision.fired == ()


def test_request_rules_are_ignored_by_decide_answer() -> None:
    policy = make_policy(
        """
        - {id: req-block, when: {kinds: [secret]}, action: block}
        - {id: req-allow, when: {kinds: [pii]}, action: allow}
        """
    )
    decision = decide_answer(policy, make_facts(EMAIL, AWS))
    assert decision == AnswerDecision(
        "redact", {0: "redact", 1: "redact"}, (Fired(OUTPUT_DEFAULT_RULE, "redact", False, 2, ()),)
    )


@pytest.mark.parametrize("action", ["pseudonymize", "route_local"])
def test_schema_rejects_response_rules_that_cannot_apply(action: Action) -> None:
    text = (
        "policy: p\nrules:\n  - id: a\n    applies_to: response\n    when: {kinds: [pii]}\n"
        f"    action: {action}\n"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text.encode(), "inline.yaml")
    (problem,) = info.value.problems
    assert problem.startswith(
        "inline.yaml:3: rules.0: a rule on the response can allow, block, hash, redact, not "
    )
    assert problem.endswith(action)


@pytest.mark.parametrize("action", ["allow", "hash", "redact", "block"])
def test_schema_accepts_response_actions(action: Action) -> None:
    text = (
        "policy: p\nrules:\n  - id: a\n    applies_to: response\n    when: {kinds: [pii]}\n"
        f"    action: {action}\n"
    )
    parsed, lines = parse_policy(text.encode(), "inline.yaml")
    assert parsed.rules[0].applies_to == "response"
    assert lines == [3]


def test_schema_rejects_unknown_direction() -> None:
    text = "policy: p\nrules:\n  - id: a\n    applies_to: both\n    action: block\n"
    with pytest.raises(PolicyError) as info:
        parse_policy(text.encode(), "inline.yaml")
    assert info.value.problems[0].startswith(
        "inline.yaml:4: rules.0.applies_to: Input should be 'request' or 'response'"
    )


@pytest.mark.parametrize("action", ["redact", "hash", "allow"])
def test_schema_rejects_surrogate_without_pseudonymize(action: Action) -> None:
    text = (
        f"policy: p\nrules:\n  - id: a\n    when: {{kinds: [pii]}}\n    action: {action}\n"
        "    pseudonym: surrogate\n"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(text.encode(), "inline.yaml")
    (problem,) = info.value.problems
    assert problem == (
        "inline.yaml:3: rules.0: pseudonym chooses how values are pseudonymized; "
        "the action is not pseudonymize"
    )


def test_decide_marks_surrogate_findings() -> None:
    policy = make_policy(
        """
        - {id: names, when: {entities: [PERSON]}, action: pseudonymize, pseudonym: surrogate}
        - {id: pii, when: {kinds: [pii]}, action: pseudonymize}
        - {id: phones, when: {entities: [PHONE_NUMBER]}, action: redact}
        """
    )
    person = finding("PERSON", segment=3)
    decision = decide(policy, make_facts(EMAIL, person, PHONE))
    assert decision.values == {0: "pseudonymize", 1: "pseudonymize", 2: "redact"}
    assert decision.surrogates == frozenset({1})


def test_surrogate_not_kept_when_a_stricter_rule_wins() -> None:
    policy = make_policy(
        """
        - {id: names, when: {entities: [PERSON]}, action: pseudonymize, pseudonym: surrogate}
        - {id: hide, when: {entities: [PERSON]}, action: redact}
        """
    )
    decision = decide(policy, make_facts(finding("PERSON")))
    assert decision.values == {0: "redact"}
    assert decision.surrogates == frozenset()


def test_placeholder_pseudonym_is_not_a_surrogate() -> None:
    policy = make_policy(
        "- {id: names, when: {entities: [PERSON]}, action: pseudonymize, pseudonym: placeholder}"
    )
    decision = decide(policy, make_facts(finding("PERSON")))
    assert decision.values == {0: "pseudonymize"}
    assert decision.surrogates == frozenset()


def test_a_bare_on_key_is_rejected_not_read_as_a_request_rule() -> None:
    # YAML 1.1 reads `on` as the boolean true; the old spelling must fail loudly, never load silently.
    text = b"policy: p\nrules:\n  - id: a\n    on: response\n    when: {kinds: [pii]}\n    action: allow\n"
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "inline.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("inline.yaml:3: rules.0.")


def test_a_response_rule_needs_a_finding_condition() -> None:
    text = (
        b"policy: p\nrules:\n  - id: a\n    applies_to: response\n"
        b"    when: {principal: {users: [x]}}\n    action: block\n"
    )
    with pytest.raises(PolicyError, match="rule on the response is about values found in it"):
        parse_policy(text, "inline.yaml")
