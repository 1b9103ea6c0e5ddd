"""Policy files, parsed and compiled once into immutable matchers.

A :class:`Policy` is every configured file's rules in file order, with one version: a SHA-256 over
the files' names and bytes (and those of the term lists and fingerprints read with it), so an audit
record names exactly the text that decided it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.exchange import Principal
from gateway.policy.schema import Action, Context, Direction, Mode, PolicyFile, Pseudonym, Rule


@dataclass(frozen=True, slots=True)
class Target:
    """A destination as policy sees it."""

    name: str
    type: str
    jurisdiction: str


def _globs(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


@dataclass(frozen=True, slots=True)
class Scope:
    """A compiled :class:`~gateway.policy.schema.Context`: who, where to, which endpoint."""

    users: frozenset[str]
    teams: frozenset[str]
    roles: frozenset[str]
    names: frozenset[str]
    types: frozenset[str]
    jurisdictions: frozenset[str]
    models: re.Pattern[str] | None
    endpoints: frozenset[str]

    @classmethod
    def of(cls, context: Context) -> Scope:
        p, d = context.principal, context.destination
        return cls(
            users=frozenset(p.users if p else ()),
            teams=frozenset(p.teams if p else ()),
            roles=frozenset(p.roles if p else ()),
            names=frozenset(d.names if d else ()),
            types=frozenset(d.types if d else ()),
            jurisdictions=frozenset(d.jurisdictions if d else ()),
            models=_globs(d.models) if d else None,
            endpoints=frozenset(context.endpoints),
        )

    def matches(self, principal: Principal, target: Target, model: str, endpoint: str) -> bool:
        return (
            (not self.users or principal.user in self.users)
            and (not self.teams or principal.team in self.teams)
            and (not self.roles or principal.role in self.roles)
            and (not self.names or target.name in self.names)
            and (not self.types or target.type in self.types)
            and (not self.jurisdictions or target.jurisdiction in self.jurisdictions)
            and (self.models is None or self.models.fullmatch(model) is not None)
            and (not self.endpoints or endpoint in self.endpoints)
        )


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    action: Action
    mode: Mode
    message: str | None
    where: str  # "file:line", for people reading decisions
    about_findings: bool
    classes: frozenset[str]
    kinds: frozenset[str]
    entities: re.Pattern[str] | None
    min_score: float
    min_count: int
    scope: Scope
    unless: Scope | None
    applies_to: Direction = "request"
    pseudonym: Pseudonym = "placeholder"

    def selects(self, kind: str, entity: str, classes: frozenset[str], score: float) -> bool:
        """Whether one finding counts towards this rule."""
        return (
            score >= self.min_score
            and (not self.kinds or kind in self.kinds)
            and (not self.classes or not self.classes.isdisjoint(classes))
            and (self.entities is None or self.entities.fullmatch(entity) is not None)
        )


@dataclass(frozen=True, slots=True)
class Policy:
    version: str  # "sha256:<16 hex>" of every file's name and bytes, in order, ``covers`` included
    names: tuple[str, ...]
    rules: tuple[CompiledRule, ...]
    files: tuple[PolicyFile, ...]
    sources: tuple[str, ...]
    covers: tuple[str, ...] = ()  # other files in the version: term lists, fingerprints

    @property
    def request_rules(self) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.applies_to == "request")

    @property
    def response_rules(self) -> tuple[CompiledRule, ...]:
        return tuple(r for r in self.rules if r.applies_to == "response")

    @property
    def label(self) -> str:
        return "+".join(self.names) or "(no policy)"


def compile_rule(rule: Rule, policy_mode: Mode, where: str) -> CompiledRule:
    when = rule.when
    return CompiledRule(
        id=rule.id,
        action=rule.action,
        # A shadow policy shadows all its rules; in an enforcing policy a rule may opt into shadow.
        mode="shadow" if policy_mode == "shadow" else (rule.mode or "enforce"),
        message=rule.message,
        where=where,
        about_findings=when.about_findings,
        classes=frozenset(when.data_classes),
        kinds=frozenset(when.kinds),
        entities=_globs(when.entities),
        min_score=when.min_score,
        min_count=when.min_count,
        scope=Scope.of(when),
        unless=Scope.of(rule.unless) if rule.unless is not None else None,
        applies_to=rule.applies_to,
        pseudonym=rule.pseudonym or "placeholder",
    )
