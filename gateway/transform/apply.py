"""Stage 6: apply the decision's value actions to the request body.

Each finding points at a segment (a string somewhere in the body, by JSON path) and a span of that
segment's original text.  Spans in one segment are merged where they overlap (the most restrictive
action wins) and replaced right to left, then the new string is written back at its path.  A dict
key that holds a sensitive value is renamed; a JSON number becomes a string.

Replacements never contain the value:

* ``redact``: ``[EMAIL_ADDRESS]``
* ``hash``: ``[EMAIL_ADDRESS:3f2a9c1b04de]``, an HMAC of the value under the server secret, so the
  same value always gives the same digest and short values (phone numbers) cannot be brute-forced
  without the secret;
* ``pseudonymize``: ``<EMAIL_ADDRESS_7f3a2c1b>`` or a realistic surrogate, from
  :class:`~gateway.transform.tokens.Pseudonymizer`: stable across the turns of one conversation,
  different in another, and remembered in its ``mapping`` for stage 9 to restore.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.policy.schema import RANK, Action
from gateway.scan.findings import Finding
from gateway.scan.segments import Extracted, Path
from gateway.transform.tokens import Pseudonymizer


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    end: int
    action: Action
    entity: str
    surrogate: bool = False


def label(entity: str) -> str:
    """The class name shown in place of a value: ``TERM:codenames`` -> ``TERM``."""
    return entity.split(":", 1)[0]


class Replacer:
    def __init__(self, secret: bytes, pseudonyms: Pseudonymizer | None = None) -> None:
        self._secret = secret
        self._pseudonyms = pseudonyms

    def __call__(self, action: Action, entity: str, value: str, *, surrogate: bool = False) -> str:
        name = label(entity)
        if action == "redact":
            return f"[{name}]"
        if action == "hash":
            return f"[{name}:{self._digest(b'hash', value)[:12]}]"
        if action == "pseudonymize":
            if self._pseudonyms is None:
                raise ValueError("pseudonymize needs a conversation's pseudonymizer")
            return self._pseudonyms.token(name, value, surrogate=surrogate)
        raise ValueError(f"{action} is not a value action")

    def _digest(self, purpose: bytes, value: str) -> str:
        message = len(purpose).to_bytes(4, "big") + purpose + value.encode("utf-8", "surrogatepass")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def apply_values(
    body: dict[str, Any],
    extracted: Extracted,
    findings: Sequence[Finding],
    values: Mapping[int, Action],
    replace: Replacer,
    surrogates: frozenset[int] = frozenset(),
) -> int:
    """Rewrite ``body`` in place; returns the number of spans replaced."""
    by_segment: dict[int, list[_Span]] = {}
    for index, action in values.items():
        f = findings[index]
        if f.segment < 0 or f.end <= f.start:
            raise ValueError("a whole-request finding cannot be changed")  # decide() blocks these first
        by_segment.setdefault(f.segment, []).append(
            _Span(f.start, f.end, action, f.entity, index in surrogates)
        )
    replaced = 0
    # Keys last, deepest first: renaming a key changes the path of everything under it.
    order = sorted(by_segment, key=lambda i: (extracted.segments[i].is_key, -len(extracted.segments[i].path)))
    for index in order:
        segment = extracted.segments[index]
        spans = _merge(by_segment[index])
        text = segment.text
        for span in reversed(spans):
            text = (
                text[: span.start]
                + replace(
                    span.action, span.entity, segment.text[span.start : span.end], surrogate=span.surrogate
                )
                + text[span.end :]
            )
        replaced += len(spans)
        _write(body, segment.path, text, is_key=segment.is_key)
    return replaced


def _merge(spans: list[_Span]) -> list[_Span]:
    spans.sort(key=lambda s: (s.start, -s.end))
    out: list[_Span] = []
    for span in spans:
        if out and span.start < out[-1].end:
            last = out[-1]
            stronger = span if RANK[span.action] > RANK[last.action] else last
            wider = span if (span.end - span.start) > (last.end - last.start) else last
            out[-1] = _Span(
                last.start, max(last.end, span.end), stronger.action, wider.entity, wider.surrogate
            )
        else:
            out.append(span)
    return out


def _write(body: dict[str, Any], path: Path, text: str, *, is_key: bool) -> None:
    parent: Any = body
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if not is_key:
        parent[last] = text
        return
    if not isinstance(parent, dict) or not isinstance(last, str):
        raise ValueError("a key segment must name a key of an object")
    new = text
    n = 2
    while new in parent and new != last:
        new = f"{text}#{n}"  # two keys that redact alike must not overwrite each other
        n += 1
    items = [(new if k == last else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
