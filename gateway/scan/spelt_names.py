"""Names written so that no name detector reads them: spelt out, in leetspeak, as HTML entities,
backwards, base64 or ROT13.

The views of ``normalize`` undo each spelling, but what they give back is a name standing alone
("<p>Gerda Söderlind</p>", "ROT13: ...", "Read this backwards: ..."), with none of the context
the NER and the name lists lean on.  Writing a name so that it cannot be read is the context: in a
view that undid a spelling, a run of one to four words that the spelling produced is a name when
it reads as one (capitalised words that are not all everyday English, or one word from the name
lists).  ROT13 of letters alone is no view (it would turn every word), so the raw text's capitalised
runs are turned here and count when the turn makes names out of words that were none.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from gateway.scan.findings import Hit
from gateway.scan.only_views import OnlyViews
from gateway.scan.pii_names import NameLists

ENTITY = "PERSON"
_SCORE = 0.85
_MAX_WORDS = 4
# A word with its inner apostrophes (either kind) and hyphens ("d'Arco", "Jean-Luc").
_WORD = re.compile("[^\\W\\d_]+(?:['\u2019\\-][^\\W\\d_]+)*")
_CAPITALISED_RUN = re.compile(r"[A-Z][a-z]+(?: [A-Z][^\W\d_]+){1,3}(?![^\W\d_])")
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


class SpeltNameDetector:
    """PERSON findings for names that a view unspelt, and for names in ROT13."""

    name = "spelt_names"
    skip_views = OnlyViews("raw", "entities", "leet", "spaced", "backwards", "base64", "hex", "percent")

    def __init__(self, names: NameLists) -> None:
        self._names = names

    def detect(self, text: str) -> list[Hit]:
        """The raw text (read whole): capitalised runs that ROT13 turns into names."""
        found: list[Hit] = []
        for m in _CAPITALISED_RUN.finditer(text):
            words = m.group().split(" ")
            if any(self._known(w.casefold()) for w in words):
                continue  # real words or names as written: nothing was hidden
            turned = [w.translate(_ROT13).casefold() for w in words]
            if any(self._name(w) for w in turned) and not any(self._ordinary(w) for w in turned):
                found.append(Hit("pii", ENTITY, m.start(), m.end(), _SCORE, self.name))
        return found

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]:
        """A view that undid a spelling: the runs of words it changed that read as a name."""
        found: list[Hit] = []
        for run in _changed_runs(text, changed):
            words = [text[a:b] for a, b in run]
            if self._reads_as_name(words):
                found.append(Hit("pii", ENTITY, run[0][0], run[-1][1], _SCORE, self.name))
        return found

    def _reads_as_name(self, words: list[str]) -> bool:
        if len(words) > _MAX_WORDS:
            return False
        folded = [w.casefold() for w in words]
        if len(words) == 1:
            return words[0][:1].isupper() and self._name(folded[0])
        # Every word a name's: capitalised, or a short particle ("de", "van", "bal"); one of them
        # neither an everyday nor a dictionary word ("Hello World" is no name).
        shaped = all(w[:1].isupper() or len(w) <= 3 for w in words)
        telling = [f for w, f in zip(words, folded, strict=True) if w[:1].isupper() and len(w) >= 3]
        return shaped and any(not self._ordinary(f) for f in telling)

    def _name(self, word: str) -> bool:
        names = self._names
        return (word in names.first or word in names.last) and word not in names.common

    def _known(self, word: str) -> bool:
        names = self._names
        return word in names.first or word in names.last or names.is_ordinary_word(word)

    def _ordinary(self, word: str) -> bool:
        return self._names.is_ordinary_word(word) or word in self._names.places


def _changed_runs(text: str, changed: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Runs of words, one space apart, each of which a change falls inside (a deletion between two
    of its letters, as in a spelt-out word, counts; a changed space next to it does not)."""
    if not changed:
        return []
    lo = max(0, min(a for a, _ in changed) - 64)
    hi = min(len(text), max(b for _, b in changed) + 64)
    spans = sorted(changed)
    starts = [lo for lo, _ in spans]
    runs: list[list[tuple[int, int]]] = []
    run: list[tuple[int, int]] = []
    for m in _WORD.finditer(text, lo, hi):
        a, b = m.span()
        if _touched(spans, starts, a, b):
            if run and text[run[-1][1] : a] == " ":
                run.append((a, b))
                continue
            if run:
                runs.append(run)
            run = [(a, b)]
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _touched(spans: list[tuple[int, int]], starts: list[int], a: int, b: int) -> bool:
    """Changes do not overlap, so only the last one that starts before ``b`` can fall inside."""
    i = bisect_left(starts, b)
    if not i:
        return False
    lo, hi = spans[i - 1]
    return hi > a if lo < hi else a < lo
