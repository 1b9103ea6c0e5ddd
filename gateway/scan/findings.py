"""What detection produces.  Shared by every detector, the engine, policy and audit.

A :class:`Hit` is what a detector reports on one piece of text; a :class:`Finding`
places it in a request (which segment, where in the segment's original text).
Neither holds the matched value: offsets into text the caller already has are
enough, and keeping values out of these objects keeps them out of logs and
audit rows by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

Kind = Literal[
    "pii",
    "secret",
    "code",
    "marker",
    "term",
    "fingerprint",
    "suspicious_encoding",
    "unscannable",
    "scan_failed",
]
KINDS: tuple[Kind, ...] = get_args(Kind)  # the same names, in the same order, for iteration


@dataclass(frozen=True, slots=True)
class Hit:
    """A detector's match in one text: ``text[start:end]`` is the sensitive span."""

    kind: Kind
    entity: str  # e.g. "EMAIL_ADDRESS", "AWS_ACCESS_KEY_ID", "SOURCE_CODE", "TERM:codenames"
    start: int
    end: int
    score: float  # 0..1
    detector: str  # the recognizer that found it


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    entity: str
    segment: int  # index into the request's segment list; -1 for the request as a whole
    start: int  # offsets into the segment's original text
    end: int
    score: float
    detector: str
    view: str = "raw"  # the normalised view that revealed it ("raw", "nfkc", "skeleton", "base64", ...)


class ViewText(NamedTuple):
    """A normalised view as handed to a detector that reads all of a text's views at once, with
    where it differs from the view it was built from (spans of ``text``, see ``View.split_changes``).

    ``changed``: where any word may read differently, or None to read all of the view.
    ``accents``: where a Latin letter lost its accent (the same word, spelt plainly).
    ``shallow``: where no word reads differently (separators gone from inside a number, look-alikes
    that are no letters, or folded inside a word that keeps another script's letters): only a
    pattern can match anew there."""

    text: str
    changed: Sequence[tuple[int, int]] | None
    accents: Sequence[tuple[int, int]] = ()
    shallow: Sequence[tuple[int, int]] = ()
