"""Where to read a normalised view, and how, given where and how it differs from its base.

A view (``gateway.scan.normalize``) reads exactly as the view it was built from except near its
changes, so the PII detector reads only near them, as much as each kind of change needs
(``ViewText``, ``View.split_changes``): a look-alike word can turn anything around it into a name,
an accent folded off a capitalised word only that word, and separators gone from inside a number
only what patterns match.  :func:`reads` turns a view's changes into regions to analyse.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from gateway.scan.findings import ViewText
from gateway.scan.normalize import word_span

# On a normalised view, how far (in characters) from a changed character findings can differ from
# the raw text's: the NER reads 4 tokens either side, the rules a cue or title a few words before,
# presidio's context 100 characters back, the postcode rule 3 lines up.  A view is analysed within
# ``FOCUS_CONTEXT`` of its changes, the NER runs on candidates within ``FOCUS_CANDIDATES`` of them,
# and findings within ``FOCUS_KEEP`` are kept; beyond, the view reads as raw and raw's scan stands.
FOCUS_KEEP = 100
FOCUS_CANDIDATES = 160
FOCUS_CONTEXT = 400
# An accent folded off a capitalised word (a name, a place: "Poděbrad" to "Podebrad") is read like
# that, narrowed to the word's neighbours: the small NER sometimes knows the plain spelling only.
ACCENT_KEEP = 60
ACCENT_CANDIDATES = 40
ACCENT_CONTEXT = 120
# Where no word reads differently (a number's separators went, a word kept its own script) or an
# accent went from a word that is no name, only the pattern recognizers can find anything new: they
# read the value holding the change, presidio's context 100 characters before it, and what follows
# a house number whose separators went: a street address runs a few lines on.
PATTERN_BEFORE = 140
PATTERN_AFTER = 120
PATTERN_KEEP = 30


def reads(view: ViewText) -> Iterable[tuple[int, int, bool, Near, Near]]:
    """How to read a view near its changes, by what each change can do to the words around it:
    ``(start, end, patterns only, where the NER may look, which findings to keep)`` per region.

    * ``changed`` (a look-alike, a decoded blob): any word may differ; every recognizer and the NER,
      ``FOCUS_CONTEXT`` around.
    * ``accents`` in a capitalised word: the same, narrowed to ``ACCENT_CONTEXT``.
    * ``shallow``, and other ``accents`` ("rúa" in an address): patterns only, which read some
      words (a street's) but no names."""
    names: list[tuple[int, int]] = []
    patterns: list[tuple[int, int]] = list(view.shallow)
    for start, end in view.accents:
        (names if _in_capitalised_word(view.text, start) else patterns).append((start, end))
    for spans, before, after, candidates, keep, patterns_only in (
        (view.changed or (), FOCUS_CONTEXT, FOCUS_CONTEXT, FOCUS_CANDIDATES, FOCUS_KEEP, False),
        (names, ACCENT_CONTEXT, ACCENT_CONTEXT, ACCENT_CANDIDATES, ACCENT_KEEP, False),
        (sorted(patterns), PATTERN_BEFORE, PATTERN_AFTER, 0, PATTERN_KEEP, True),
    ):
        if not spans:
            continue
        kept = Near(spans, keep)
        for start, end in _regions(view.text, spans, before, after):
            local = [(s - start, e - start) for s, e in spans if start <= s and e <= end]
            yield start, end, patterns_only, Near(local, candidates), kept


def _in_capitalised_word(text: str, start: int) -> bool:
    """Whether ``text[start]`` is in a word that starts with a capital letter."""
    return text[word_span(text, start, start)[0]].isupper()


def _regions(text: str, changed: Sequence[tuple[int, int]], before: int, after: int) -> list[tuple[int, int]]:
    """The stretches of ``text`` from ``before`` characters before a change to ``after`` after it, merged."""
    regions: list[tuple[int, int]] = []
    for start, end in sorted(changed):
        start, end = max(0, start - before), min(len(text), end + after)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(end, regions[-1][1]))
        else:
            regions.append((start, end))
    if sum(end - start for start, end in regions) > len(text) * 3 // 4:
        regions = [(0, len(text))]  # one pass over the whole is cheaper than most of it in pieces
    return regions


class Near:
    """Whether a span of text lies within ``margin`` characters of one of ``spans``."""

    def __init__(self, spans: Sequence[tuple[int, int]], margin: int) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            start, end = start - margin, end + margin
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def __call__(self, start: int, end: int) -> bool:
        # The last region starting at or before ``end`` is the only one that can reach ``start``.
        index = bisect.bisect_right(self._starts, end) - 1
        return index >= 0 and self._ends[index] >= start
