"""The decision: a pure function of (policy, who, where to, what was found).

Precedence: the most restrictive action of the enforced rules that fire wins,

    block > route_local > redact > hash > pseudonymize > allow

``block`` and ``route_local`` decide for the whole request.  ``redact``, ``hash`` and
``pseudonymize`` apply to the values their rule matched; a value matched by several rules gets the
most restrictive of their actions.  ``allow`` changes nothing (an explicit allow cannot loosen
another rule; exceptions are written with ``unless``).

``route_local`` re-decides for the local destination: rules about external destinations stop
applying, rules that still apply there (a block, a redaction for every destination) do, and a
``route_local`` that fires again is already satisfied.

Fail-closed guards that no policy can switch off:

* a failed scan is blocked unless a rule that matched the failure keeps it local;
* a value action on something that cannot be changed (an image, a whole-request finding) blocks,
  for the requested destination or the local one;
* ``route_local`` with no local destination is still ``route_local``: the caller refuses the
  request (503), it never falls back to the original destination;
* a conversation an earlier turn of which went local (``Facts.sticky_local``) goes local again, as
  if a ``route_local`` rule had fired (``builtin:sticky-local``): its history carries the data.

Shadow rules are evaluated like the others; they never change the outcome, and ``shadow_action``
says what the outcome would have been with them enforced (on the original destination).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from gateway.exchange import Principal
from gateway.policy.classes import classes_of
from gateway.policy.compile import CompiledRule, Policy, Target
from gateway.policy.schema import RANK, REQUEST_ACTIONS, VALUE_ACTIONS, Action
from gateway.scan.findings import Finding

SCAN_FAILED_RULE = "builtin:scan-failed"
UNCHANGEABLE_RULE = "builtin:unchangeable"
# An earlier turn of this conversation went local; its history carries what sent it there.
STICKY_RULE = "builtin:sticky-local"

SCAN_FAILED_MESSAGE = "The gateway could not inspect this request, so it was not sent anywhere."
UNCHANGEABLE_MESSAGE = (
    "This request contains content the policy would alter but the gateway cannot alter (an image, audio "
    "or a file), so it was not sent."
)


@dataclass(frozen=True, slots=True)
class Facts:
    principal: Principal
    destination: Target
    model: str
    endpoint: str
    findings: Sequence[Finding]
    sticky_local: bool = False  # an earlier turn of this conversation went to the local destination


@dataclass(frozen=True, slots=True)
class Fired:
    rule: str
    action: Action
    shadow: bool
    count: int  # matched values (0 for request rules)
    classes: tuple[str, ...]  # data classes of the matched findings, sorted


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    policy_version: str
    fired: tuple[Fired, ...] = ()  # enforced rules that fired, in policy order
    shadow: tuple[Fired, ...] = ()  # shadow rules that fired
    shadow_action: Action = "allow"
    # Finding index -> the value action to apply to it.  Empty unless ``action`` is a value action.
    values: Mapping[int, Action] = field(default_factory=dict)
    message: str | None = None  # for block
    local: bool = False  # the request goes to the local destination instead
    # Pseudonymized findings a rule asked to replace with realistic surrogates instead of placeholders.
    surrogates: frozenset[int] = frozenset()

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(f.rule for f in self.fired)

    @property
    def reason(self) -> str | None:
        """The rules that produced the action, for the audit record and the route header."""
        if self.action == "allow":
            return None
        return ",".join(f.rule for f in self.fired if f.action == self.action) or None


@dataclass(frozen=True, slots=True)
class _Match:
    rule: CompiledRule
    findings: tuple[int, ...]
    classes: frozenset[str]

    def fired(self) -> Fired:
        return Fired(
            self.rule.id,
            self.rule.action,
            self.rule.mode == "shadow",
            len(self.findings),
            tuple(sorted(self.classes)),
        )


def decide(policy: Policy, facts: Facts, local: Target | None = None) -> Decision:
    """The decision for ``facts``.  ``local``: the destination ``route_local`` sends to, if any."""
    classes = [classes_of(f.kind, f.entity) for f in facts.findings]
    matches = _matches(policy.request_rules, facts, classes)
    enforced = [m for m in matches if m.rule.mode == "enforce"]
    shadow_action = _combine(matches, facts)[0]
    action, values, message = _combine(enforced, facts)
    is_local = False
    fired = [m.fired() for m in enforced]
    settled = action in ("block", "route_local") or facts.destination.type == "local"
    sticky = facts.sticky_local and not settled
    if sticky:
        action = "route_local"
    if action == "route_local" and facts.destination.type != "local":
        is_local = True
        # What sent it local, then what applies there; value rules for the original destination are moot.
        fired = [m.fired() for m in enforced if m.rule.action in REQUEST_ACTIONS]
        if sticky:
            fired.append(Fired(STICKY_RULE, "route_local", False, 0, ()))
        if local is not None:
            there = replace(facts, destination=local)
            again = [m for m in _matches(policy.request_rules, there, classes) if m.rule.mode == "enforce"]
            action2, values, message = _combine(again, there)
            if action2 == "block":
                action = "block"
            known = {f.rule for f in fired}
            fired.extend(m.fired() for m in again if m.rule.id not in known)
        else:
            values = {}
    # The guards look at the requested destination as well, so that a finding that sends the request
    # local (a key next to an image) can never lift a block: more findings, never a looser decision.
    failed = {i for i, f in enumerate(facts.findings) if f.kind == "scan_failed"}
    kept_local = any(m.rule.action == "route_local" and failed.intersection(m.findings) for m in enforced)
    if action != "block" and failed and not (action == "route_local" and kept_local):
        action, message = "block", SCAN_FAILED_MESSAGE
        fired.append(Fired(SCAN_FAILED_RULE, "block", False, 0, ("scan_failed",)))
    wanted = {**_value_outcome(enforced, facts)[1], **values}
    if action != "block" and any(facts.findings[i].segment < 0 for i in wanted):
        action, message = "block", UNCHANGEABLE_MESSAGE
        fired.append(Fired(UNCHANGEABLE_RULE, "block", False, 0, ()))
    if action == "block":
        values, is_local = {}, False
    kept = values if action in VALUE_ACTIONS or (is_local and action == "route_local") else {}
    return Decision(
        action=action,
        policy_version=policy.version,
        fired=tuple(fired),
        shadow=tuple(m.fired() for m in matches if m.rule.mode == "shadow"),
        shadow_action=shadow_action,
        values=kept,
        message=message if action == "block" else None,
        local=is_local,
        surrogates=_surrogates(enforced, kept),
    )


def _surrogates(matches: Sequence[_Match], values: Mapping[int, Action]) -> frozenset[int]:
    """A pseudonymized value gets a surrogate when a rule that pseudonymizes it asks for one."""
    return frozenset(
        i
        for m in matches
        if m.rule.action == "pseudonymize" and m.rule.pseudonym == "surrogate"
        for i in m.findings
        if values.get(i) == "pseudonymize"
    )


OUTPUT_DEFAULT_RULE = "builtin:answer-redact"


@dataclass(frozen=True, slots=True)
class AnswerDecision:
    """What to do with values found in an answer that the user did not send."""

    action: Action  # allow | redact | hash | block
    values: Mapping[int, Action]
    fired: tuple[Fired, ...]
    message: str | None = None


def decide_answer(policy: Policy, facts: Facts) -> AnswerDecision:
    """Rules ``applies_to: response`` over the findings of an answer.  A finding no rule speaks for is
    redacted: the safe default for data the model produced and the user never gave it."""
    classes = [classes_of(f.kind, f.entity) for f in facts.findings]
    matches = [m for m in _matches(policy.response_rules, facts, classes) if m.rule.mode == "enforce"]
    blocks = [m for m in matches if m.rule.action == "block" and m.findings]
    fired = [m.fired() for m in matches if m.findings]
    if blocks:
        message = next((m.rule.message for m in blocks if m.rule.message), None)
        return AnswerDecision(
            "block",
            {},
            tuple(fired),
            message or f"The answer was stopped by the gateway's data policy (rule {blocks[0].rule.id}).",
        )
    values = _value_outcome(matches, facts)[1]
    spoken = {i for m in matches for i in m.findings}
    default = [i for i in range(len(facts.findings)) if i not in spoken]
    for i in default:
        values[i] = "redact"
    if default:
        fired.append(Fired(OUTPUT_DEFAULT_RULE, "redact", False, len(default), ()))
    action: Action = max(values.values(), key=RANK.__getitem__) if values else "allow"
    return AnswerDecision(action, values, tuple(fired))


def _matches(rules: Sequence[CompiledRule], facts: Facts, classes: Sequence[frozenset[str]]) -> list[_Match]:
    out = []
    counted = [not f.view.startswith("seam+") for f in facts.findings]
    for rule in rules:
        if not rule.scope.matches(facts.principal, facts.destination, facts.model, facts.endpoint):
            continue
        if rule.unless is not None and rule.unless.matches(
            facts.principal, facts.destination, facts.model, facts.endpoint
        ):
            continue
        if not rule.about_findings:
            out.append(_Match(rule, (), frozenset()))
            continue
        selected = tuple(
            i for i, f in enumerate(facts.findings) if rule.selects(f.kind, f.entity, classes[i], f.score)
        )
        if sum(counted[i] for i in selected) >= rule.min_count:
            matched: frozenset[str] = frozenset().union(*(classes[i] for i in selected))
            out.append(_Match(rule, selected, matched))
    return out


def _combine(matches: Sequence[_Match], facts: Facts) -> tuple[Action, dict[int, Action], str | None]:
    """(overall action, finding index -> value action, block message) for one destination."""
    request = [m for m in matches if m.rule.action in REQUEST_ACTIONS]
    if facts.destination.type == "local":
        request = [m for m in request if m.rule.action == "block"]  # route_local: already there
    if request:
        top = max(request, key=lambda m: RANK[m.rule.action])
        message = None
        if top.rule.action == "block":
            message = next(
                (m.rule.message for m in request if m.rule.action == "block" and m.rule.message), None
            )
            message = (
                message or f"This request was blocked by the gateway's data policy (rule {top.rule.id})."
            )
            return "block", {}, message
        _, values = _value_outcome(matches, facts)
        return "route_local", values, None
    action, values = _value_outcome(matches, facts)
    return action, values, None


def _value_outcome(matches: Sequence[_Match], facts: Facts) -> tuple[Action, dict[int, Action]]:
    values: dict[int, Action] = {}
    for m in matches:
        if m.rule.action not in VALUE_ACTIONS:
            continue
        for i in m.findings:
            current = values.get(i)
            if current is None or RANK[m.rule.action] > RANK[current]:
                values[i] = m.rule.action
    if not values:
        return "allow", {}
    return max(values.values(), key=RANK.__getitem__), values
