"""Read policy files into a compiled :class:`Policy`, or fail loudly with ``file:line: message``.

Nothing here falls back: a file that cannot be read, parsed or validated is a :class:`PolicyError`
listing every problem found, and the caller keeps whatever policy it had (or refuses to start).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway.policy.compile import CompiledRule, Policy, compile_rule
from gateway.policy.schema import PolicyFile
from gateway.yaml_lines import line_of


class PolicyError(Exception):
    """One or more problems in policy files, each ``file:line: message``."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


def load_policy(paths: Sequence[str | Path], covers: Sequence[tuple[str, bytes]] = ()) -> Policy:
    """The policy of ``paths``.  ``covers``: other files that decide with it (the organisation's term
    lists and fingerprints, as ``(path, bytes)``), folded into its version so that a change to any of
    them is a new version on every audit record."""
    problems: list[str] = []
    digest = hashlib.sha256()
    files: list[PolicyFile] = []
    rules: list[CompiledRule] = []
    first_seen: dict[str, str] = {}
    for path in paths:
        source = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            problems.append(f"{source}: cannot read policy file: {exc.strerror or exc}")
            continue
        # Name and length framed, so two files can never hash like their concatenation.
        name = Path(path).name.encode()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
        try:
            parsed, where = parse_policy(data, source)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        files.append(parsed)
        for rule, line in zip(parsed.rules, where, strict=True):
            location = f"{source}:{line}"
            if rule.id in first_seen:
                problems.append(f"{location}: rule id {rule.id!r} is already used at {first_seen[rule.id]}")
                continue
            first_seen[rule.id] = location
            rules.append(compile_rule(rule, parsed.mode, location))
    for path, data in covers:
        name = b"covers:" + Path(path).name.encode()
        digest.update(len(name).to_bytes(4, "big") + name + len(data).to_bytes(8, "big") + data)
    if problems:
        raise PolicyError(problems)
    return Policy(
        version=f"sha256:{digest.hexdigest()[:16]}",
        names=tuple(f.policy for f in files),
        rules=tuple(rules),
        files=tuple(files),
        sources=tuple(str(p) for p in paths),
        covers=tuple(path for path, _ in covers),
    )


def parse_policy(data: bytes, source: str) -> tuple[PolicyFile, list[int]]:
    """The validated file and the line of each rule."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PolicyError([f"{source}:{line}: not UTF-8 (byte {exc.start})"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise PolicyError([f"{where}: {getattr(exc, 'problem', None) or 'invalid YAML'}"]) from None
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise PolicyError([f"{source}:1: a policy file is a mapping with `policy:` and `rules:`, not {kind}"])
    try:
        parsed = PolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(part for part in error["loc"] if not _is_type_tag(part))
            line = line_of(node, loc) or 1
            key = ".".join(str(part) for part in loc) or "<top level>"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{source}:{line}: {key}: {message}")
        raise PolicyError(problems) from None
    lines = [line_of(node, ("rules", i)) or 1 for i in range(len(parsed.rules))]
    seen: set[str] = set()
    duplicates = []
    for i, (rule, line) in enumerate(zip(parsed.rules, lines, strict=True)):
        if rule.id in seen:
            duplicates.append(f"{source}:{line}: rules.{i}.id: rule id {rule.id!r} is used twice")
        seen.add(rule.id)
    if duplicates:
        raise PolicyError(duplicates)
    return parsed, lines


# pydantic names the union member it tried ("str", "ExampleDestination") in an error's location;
# those are not YAML keys.  Only these: a mistyped key such as "Action" must keep its name.
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "ExampleDestination", "ExamplePrincipal"})


def _is_type_tag(part: object) -> bool:
    return isinstance(part, str) and (part in _TYPE_TAGS or "[" in part)
