"""Secret detector: provider keys, private keys, JWTs, passwords and high-entropy tokens.

Built once; :meth:`SecretDetector.detect` is a pure function of the text.  Speed comes from a
prefilter rather than one giant alternation: each rule names cheap lower-case trigger
substrings, looked up once per text, and its regex runs only when one of them occurs.
Rules without a literal prefix (case-insensitive key names) are tried only where an anchor
word occurs (``str.find``), not at every character.

Our own rule table rather than detect-secrets (Yelp, 1.5.0): its plugins are line-oriented,
yield matched strings rather than offsets, read a process-global settings singleton, and
their base class imports ``requests`` and calls ``verify()`` over the network when a
verification filter is configured.  What would remain usable, about 25 regexes, misses many
of the formats we need (Anthropic, Hugging Face, GCP service accounts, Shopify,
DigitalOcean, Datadog...), so a dependency would buy little and bring a network path in.

Offline by construction: nothing here imports a network client.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from gateway.scan.findings import Hit
from gateway.scan.recognizers import secrets_entropy
from gateway.scan.recognizers.secrets_checks import span_of
from gateway.scan.recognizers.secrets_entropy import EntropyScanner
from gateway.scan.recognizers.secrets_pem import PrivateKeyScanner
from gateway.scan.recognizers.secrets_rules import VENDOR_RULES, SecretRule
from gateway.scan.recognizers.secrets_rules_generic import GENERIC_RULES

__all__ = ["DEFAULT_RULES", "SecretDetector"]

DEFAULT_RULES: tuple[SecretRule, ...] = VENDOR_RULES + GENERIC_RULES

# Below the GCP service-account rule, which reports the same block with its provenance.
_PRIVATE_KEY_SCORE = 0.95
_ENTROPY_SCORE = 0.6
_ENTROPY_TIER = 3


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: SecretRule
    regex: re.Pattern[str]
    triggers: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Candidate:
    tier: int
    score: float
    start: int
    end: int
    entity: str


class SecretDetector:
    """Finds credentials in text; ``kind="secret"``, one :class:`Hit` per secret value."""

    name = "secrets"

    def __init__(self, rules: Iterable[SecretRule] = DEFAULT_RULES) -> None:
        self._rules = tuple(
            _Compiled(rule, re.compile(rule.pattern), frozenset(rule.triggers)) for rule in rules
        )
        # Every trigger is looked up once per text; each rule then asks a set.
        self._triggers = tuple(
            sorted({t for c in self._rules for t in c.triggers} | set(secrets_entropy.TRIGGERS))
        )
        self._private_keys = PrivateKeyScanner()
        self._entropy = EntropyScanner()

    def detect(self, text: str) -> list[Hit]:
        if not text:
            return []
        lowered = _ascii_lower(text)
        present = {t for t in self._triggers if t in lowered}
        found: list[_Candidate] = []
        for compiled in self._rules:
            if compiled.triggers and compiled.triggers.isdisjoint(present):
                continue
            rule = compiled.rule
            matches = (
                _anchored(compiled.regex, text, lowered, rule.anchors)
                if rule.anchors
                else compiled.regex.finditer(text)
            )
            for m in matches:
                start, end = span_of(m)
                if rule.trim:
                    end = start + len(text[start:end].rstrip(rule.trim))
                if start == end:
                    continue
                if rule.context and not _near(lowered, start, end, rule.context, rule.window):
                    continue
                if rule.validate is not None and not rule.validate(m):
                    continue
                found.append(_Candidate(rule.tier, rule.score, start, end, rule.entity))
        if "-----begin" in lowered:
            for start, end in self._private_keys.spans(text):
                found.append(_Candidate(0, _PRIVATE_KEY_SCORE, start, end, "PRIVATE_KEY"))
        if not present.isdisjoint(secrets_entropy.TRIGGERS):
            for start, end in self._entropy.spans(text, lowered):
                found.append(
                    _Candidate(_ENTROPY_TIER, _ENTROPY_SCORE, start, end, "GENERIC_HIGH_ENTROPY_SECRET")
                )
        return [
            Hit(kind="secret", entity=c.entity, start=c.start, end=c.end, score=c.score, detector=self.name)
            for c in _resolve(found)
        ]


def _ascii_lower(text: str) -> str:
    """Lower-cased text with the same offsets as ``text``.

    ``str.lower`` may lengthen a string (``"İ".lower()`` is two code points), which would
    shift every context window after it; fall back to ASCII-only lowering then.
    """
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def _anchored(
    regex: re.Pattern[str], text: str, lowered: str, anchors: tuple[str, ...]
) -> Iterator[re.Match[str]]:
    """Matches of ``regex`` starting at an anchor, left to right, not overlapping.

    ``str.find`` runs at C speed; scanning with a case-insensitive alternation costs a full
    match attempt at every character, which made the assignment rules half the total cost.
    """
    positions: set[int] = set()
    for anchor in anchors:
        i = lowered.find(anchor)
        while i != -1:
            positions.add(i)
            i = lowered.find(anchor, i + 1)
    last_end = 0
    for pos in sorted(positions):
        if pos < last_end:
            continue
        m = regex.match(text, pos)
        if m is not None:
            last_end = m.end()
            yield m


def _near(lowered: str, start: int, end: int, words: tuple[str, ...], window: int) -> bool:
    around = lowered[max(0, start - window) : end + window]
    return any(w in around for w in words)


def _resolve(found: list[_Candidate]) -> list[_Candidate]:
    """Keep one hit per stretch of text: the most specific rule, then the highest score.

    Accepted spans are disjoint and kept sorted, so each candidate is checked against its two
    neighbours only: O(n log n) even for adversarial inputs with thousands of candidates.
    """
    found.sort(key=lambda c: (c.tier, -c.score, c.start - c.end, c.start))
    starts: list[int] = []
    kept: list[_Candidate] = []
    for c in found:
        i = bisect_right(starts, c.start)
        if i > 0 and kept[i - 1].end > c.start:
            continue
        if i < len(kept) and kept[i].start < c.end:
            continue
        starts.insert(i, c.start)
        kept.insert(i, c)
    return kept
