"""The policy file format: strict pydantic models, unknown keys rejected.

::

    policy: acme-baseline          # a name for people; the version is the content hash
    mode: enforce                  # enforce | shadow: shadow records what would happen, changes nothing
    rules:
      - id: secrets-stay-local
        description: Credentials never leave the company.
        when:                      # every condition given must hold; a list matches any of its items
          data_classes: [credentials]
          kinds: [secret]
          entities: ["AWS_*"]      # globs over entity types
          min_score: 0.5           # findings scored below do not count
          min_count: 1             # values that must match
          principal: {users: [], teams: [], roles: []}
          destination: {names: [], types: [], jurisdictions: [], models: []}
          endpoints: [chat.completions]
        unless:                    # the rule does not fire when this matches (principal/destination/endpoint)
          destination: {jurisdictions: [LOCAL]}
        action: route_local        # allow | redact | pseudonymize | hash | block | route_local
        message: ...               # shown to the user when the action is block
        mode: enforce
    examples: [...]                # see Example; run by `gateway policy test`

A rule with no finding condition (``data_classes``, ``kinds``, ``entities``) is about the request
itself ("team legal may only use LOCAL").  ``redact``, ``pseudonymize`` and ``hash`` change matched
values, so they need a finding condition.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.exchange import Role
from gateway.policy.classes import DATA_CLASSES
from gateway.scan.findings import Kind

Action = Literal["allow", "pseudonymize", "hash", "redact", "route_local", "block"]
Mode = Literal["enforce", "shadow"]
Direction = Literal["request", "response"]
Pseudonym = Literal["placeholder", "surrogate"]

# Most restrictive last.  For one value, redact (nothing left) beats hash (a stable keyed digest)
# beats pseudonymize (reversible).
ACTIONS: tuple[Action, ...] = ("allow", "pseudonymize", "hash", "redact", "route_local", "block")
RANK: dict[Action, int] = {action: rank for rank, action in enumerate(ACTIONS)}
VALUE_ACTIONS: frozenset[Action] = frozenset({"pseudonymize", "hash", "redact"})
REQUEST_ACTIONS: frozenset[Action] = frozenset({"route_local", "block"})
# What a rule about the answer can do: the answer is already written, so it cannot be pseudonymized
# (nobody would restore it) or sent elsewhere; ``block`` ends the answer with an error.
RESPONSE_ACTIONS: frozenset[Action] = frozenset({"allow", "hash", "redact", "block"})

_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PrincipalMatch(_Strict):
    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    roles: tuple[Role, ...] = ()


class DestinationMatch(_Strict):
    names: tuple[str, ...] = ()
    types: tuple[Literal["openai", "anthropic", "local"], ...] = ()
    jurisdictions: tuple[str, ...] = ()
    models: tuple[str, ...] = ()  # globs over the requested model name

    @field_validator("jurisdictions")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.upper() for v in value)


class Context(_Strict):
    """Who sends, where to, through which endpoint: what ``unless`` may name."""

    principal: PrincipalMatch | None = None
    destination: DestinationMatch | None = None
    endpoints: tuple[str, ...] = ()


class When(Context):
    data_classes: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ()
    entities: tuple[str, ...] = ()  # globs, e.g. "TERM:*"
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    min_count: int = Field(default=1, ge=1)

    @field_validator("data_classes")
    @classmethod
    def _known_classes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in DATA_CLASSES]
        if unknown:
            raise ValueError(f"unknown data class {unknown[0]!r}; known: {', '.join(DATA_CLASSES)}")
        return value

    @property
    def about_findings(self) -> bool:
        return bool(self.data_classes or self.kinds or self.entities)

    @model_validator(mode="after")
    def _counts_need_findings(self) -> When:
        if not self.about_findings and (
            "min_score" in self.model_fields_set or "min_count" in self.model_fields_set
        ):
            raise ValueError("min_score and min_count need data_classes, kinds or entities")
        return self


class Rule(_Strict):
    id: str
    description: str = ""
    when: When = When()
    unless: Context | None = None
    action: Action
    message: str | None = Field(default=None, max_length=500)
    mode: Mode | None = None  # default: the policy's mode
    # response: about values in the answer that the user did not send.  (Not ``on:``, which YAML 1.1
    # reads as the boolean true.)
    applies_to: Direction = "request"
    pseudonym: Pseudonym | None = None  # for pseudonymize: typed placeholder (default) or surrogate

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError("rule ids are 1-80 letters, digits and _ . : - (they appear in audit records)")
        return value

    @model_validator(mode="after")
    def _value_actions_need_findings(self) -> Rule:
        if self.action in VALUE_ACTIONS and not self.when.about_findings:
            raise ValueError(
                f"action {self.action} changes matched values, so `when` needs data_classes, "
                "kinds or entities"
            )
        if self.message is not None and self.action != "block":
            raise ValueError("message is shown only when the action is block")
        if self.pseudonym is not None and self.action != "pseudonymize":
            raise ValueError("pseudonym chooses how values are pseudonymized; the action is not pseudonymize")
        if self.applies_to == "response" and not self.when.about_findings:
            raise ValueError(
                "a rule on the response is about values found in it: `when` needs data_classes, "
                "kinds or entities"
            )
        if self.applies_to == "response" and self.action not in RESPONSE_ACTIONS:
            raise ValueError(
                f"a rule on the response can {', '.join(sorted(RESPONSE_ACTIONS))}, not {self.action}"
            )
        return self


class ExampleDestination(_Strict):
    name: str
    type: Literal["openai", "anthropic", "local"] = "openai"
    jurisdiction: str

    @field_validator("jurisdiction")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class ExamplePrincipal(_Strict):
    user: str = "example-user"
    team: str | None = None
    role: Role = "user"


class Expect(_Strict):
    action: Action
    rules: tuple[str, ...] | None = None  # the enforced rules that fire (any order); None: not checked
    shadow: tuple[str, ...] | None = None  # the shadow rules that fire


class Example(_Strict):
    """A test case: this text or request, from this principal, to this destination -> this decision."""

    name: str
    text: str | None = None
    request: dict[str, Any] | None = None
    endpoint: str | None = None  # how to read ``request``; default: guessed from its shape
    principal: ExamplePrincipal = ExamplePrincipal()
    # A destination name from the gateway config, or one described inline.
    destination: str | ExampleDestination
    model: str | None = None  # default: the request's model, else "example-model"
    expect: Expect

    @model_validator(mode="after")
    def _one_input(self) -> Example:
        if (self.text is None) == (self.request is None):
            raise ValueError("give exactly one of text or request")
        return self


class PolicyFile(_Strict):
    policy: str = Field(min_length=1, max_length=100)
    description: str = ""
    mode: Mode = "enforce"
    rules: tuple[Rule, ...] = ()
    examples: tuple[Example, ...] = ()
    # Rule ids are unique across all loaded files: checked by the loader, which knows their lines.
