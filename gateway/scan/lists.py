"""The organisation's own lists: term lists and regexes (``scan.terms``) and the fingerprint index of
protected documents (``scan.fingerprints``).

They decide requests as much as the policy files do, so they are read, versioned and replaced
together with them (:mod:`gateway.rules`): a reload that adds a code name takes effect at once, and
a bad file is refused with the last good set kept.  A scan uses one set from start to end; ``salt``
keys the scan cache, so that nothing found (or not found) under another set is ever reused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from gateway.scan.engine import Detector
from gateway.yaml_lines import line_of


class ListsError(ValueError):
    """Problems in the lists' files, each ``file:line: message`` (never a term or a scanned text)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class OrgLists:
    detectors: tuple[Detector, ...] = ()
    salt: bytes = b""  # a digest of the files' bytes; empty without lists


NO_LISTS = OrgLists()


def parse_lists(terms: tuple[str, bytes] | None, fingerprints: tuple[str, bytes] | None) -> OrgLists:
    """The lists from the files' bytes (``(source, data)``); :class:`ListsError` naming every problem."""
    problems: list[str] = []
    detectors: list[Detector] = []
    digest = hashlib.blake2b(digest_size=8)
    if terms is not None:
        digest.update(b"terms" + len(terms[1]).to_bytes(8, "big") + terms[1])
        try:
            detectors.append(parse_terms(*terms))
        except ListsError as exc:
            problems.extend(exc.problems)
    if fingerprints is not None:
        from gateway.scan.recognizers.fingerprints import (
            FingerprintDetector,
            FingerprintError,
            FingerprintIndex,
        )

        digest.update(b"fingerprints" + len(fingerprints[1]).to_bytes(8, "big") + fingerprints[1])
        try:
            detectors.append(FingerprintDetector(FingerprintIndex.from_bytes(*fingerprints)))
        except FingerprintError as exc:
            problems.append(f"{exc}")
    if problems:
        raise ListsError(problems)
    return OrgLists(tuple(detectors), digest.digest() if detectors else b"")


def parse_terms(source: str, data: bytes) -> Detector:
    """Term lists and regexes from YAML: ``{lists: {name: [term, ...]}, patterns: {name: regex}}``."""
    from gateway.scan.recognizers.terms import TermConfigError, TermListDetector

    try:
        text = data.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text) or {}
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ListsError([f"{source}:{line}: not UTF-8"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ListsError([f"{where}: {getattr(exc, 'problem', None) or 'invalid YAML'}"]) from None

    def at(*loc: object) -> str:
        line = line_of(node, loc)
        return f"{source}:{line}" if line else source

    if not isinstance(raw, dict) or set(raw) - {"lists", "patterns"}:
        raise ListsError([f"{at()}: expected a mapping with 'lists' and/or 'patterns' only"])
    lists, patterns = raw.get("lists") or {}, raw.get("patterns") or {}
    problems: list[str] = []
    if not isinstance(lists, dict):
        problems.append(f"{at('lists')}: lists: expected a mapping of list names to lists of terms")
        lists = {}
    if not isinstance(patterns, dict):
        problems.append(f"{at('patterns')}: patterns: expected a mapping of names to regular expressions")
        patterns = {}
    # Each list and pattern on its own first, so that a problem is reported at its line.
    for name, terms in lists.items():
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            problems.append(f"{at('lists', name)}: list {str(name)!r}: each list must be a list of strings")
            continue
        try:
            TermListDetector({str(name): terms}, {})
        except TermConfigError as exc:
            problems.append(f"{at('lists', name)}: {exc}")
    for name, pattern in patterns.items():
        if not isinstance(pattern, str):
            problems.append(
                f"{at('patterns', name)}: pattern {str(name)!r}: must be a string (a regular expression)"
            )
            continue
        try:
            TermListDetector({}, {str(name): pattern})
        except TermConfigError as exc:
            problems.append(f"{at('patterns', name)}: {exc}")
    if problems:
        raise ListsError(problems)
    try:
        return TermListDetector(
            {str(k): v for k, v in lists.items()}, {str(k): v for k, v in patterns.items()}
        )
    except TermConfigError as exc:
        raise ListsError([f"{source}: {exc}"]) from None
