"""What decides a request, loaded, versioned and replaced as one: the policy files and the
organisation's lists scanned with them (``scan.terms``, ``scan.fingerprints``).

A code name added to a term list is a change of decision as much as a new rule is: it reloads with
the policy (file watch and SIGHUP), it changes the policy version every audit record carries, and a
bad list is refused with the last good set kept.  One request reads one :class:`Rules` and scans and
decides with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.policy.compile import Policy
from gateway.policy.load import PolicyError, load_policy
from gateway.scan.lists import NO_LISTS, ListsError, OrgLists, parse_lists
from gateway.settings import ScanSettings


@dataclass(frozen=True, slots=True)
class Rules:
    policy: Policy
    lists: OrgLists = NO_LISTS

    @property
    def version(self) -> str:
        return self.policy.version


def rule_files(policies: Sequence[str], scan: ScanSettings) -> tuple[str, ...]:
    """Every file :func:`load_rules` reads: the ones to watch."""
    return (*policies, *(path for path in (scan.terms, scan.fingerprints) if path))


def load_rules(policies: Sequence[str], scan: ScanSettings) -> Rules:
    """The policy and the lists, or a :class:`PolicyError` listing every problem in any of them."""
    problems: list[str] = []
    read: dict[str, tuple[str, bytes]] = {}
    for setting, path in (("terms", scan.terms), ("fingerprints", scan.fingerprints)):
        if path:
            try:
                read[setting] = (path, Path(path).read_bytes())
            except OSError as exc:
                problems.append(f"{path}: cannot read scan.{setting}: {exc.strerror or exc}")
    lists = NO_LISTS
    try:
        lists = parse_lists(read.get("terms"), read.get("fingerprints"))
    except ListsError as exc:
        problems.extend(exc.problems)
    try:
        policy = load_policy(policies, covers=tuple(read.values()))
    except PolicyError as exc:
        problems[:0] = exc.problems
    if problems:
        raise PolicyError(problems)
    return Rules(policy, lists)
