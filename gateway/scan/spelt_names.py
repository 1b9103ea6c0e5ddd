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

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

from gateway.scan.findings import Hit
from gateway.scan.only_views import OnlyViews
from gateway.scan.pii_names import NameLists
from gateway.scan.spellings import ROT13

ENTITY = "PERSON"
_SCORE = 0.85
_MAX_WORDS = 4
# A word with its inner apostrophes (either kind) and hyphens ("d'Arco", "Jean-Luc").
_WORD = re.compile("[^\\W\\d_]+(?:['\u2019\\-][^\\W\\d_]+)*")
_WORD_BEFORE = re.compile(r"(?<![^\W\d_])([^\W\d_]{3,64}) \Z")
_WORD_AFTER = re.compile(r" ([^\W\d_]{3,64})(?![^\W\d_])")
_CAPITALISED_RUN = re.compile(r"(?<![^\W\d_])[A-Z][^\W\d_]+(?: [A-Z][^\W\d_]+){1,3}(?![^\W\d_])")
# How much likelier, per letter pair, a run's words read as names once turned: ROT13 of a name gains
# 1.1 nats at the median and 0.4 or more for 96% of two-word names (1,100 names in 19 locales from
# mimesis, Latin script); turning an English word pair gained at most 0.24, a name as written 0.16.
_ROT13_GAIN = 0.4


class SpeltNameDetector:
    """PERSON findings for names that a view unspelt, and for names in ROT13."""

    name = "spelt_names"
    skip_views = OnlyViews("raw", "entities", "leet", "spaced", "backwards", "base64", "hex", "percent")

    def __init__(self, names: NameLists) -> None:
        self._names = names
        self._letters = _LetterPairs(names.first | names.last)

    def detect(self, text: str) -> list[Hit]:
        """The raw text (read whole): capitalised runs that ROT13 turns into names."""
        found: list[Hit] = []
        for m in _CAPITALISED_RUN.finditer(text):
            words = m.group().split(" ")
            if any(self._known(w.casefold()) for w in words):
                continue  # real words or names as written: nothing was hidden
            turned = [w.translate(ROT13).casefold() for w in words]
            if any(self._ordinary(w) for w in turned):
                continue
            gain = self._letters.mean(turned) - self._letters.mean([w.casefold() for w in words])
            if gain >= _ROT13_GAIN or any(self._name(w) for w in turned):
                found.append(Hit("pii", ENTITY, m.start(), m.end(), _SCORE, self.name))
        return found

    def detect_focused(self, text: str, changed: Sequence[tuple[int, int]]) -> list[Hit]:
        """A view that undid a spelling: the runs of words it changed that read as a name."""
        found: list[Hit] = []
        for run in _changed_runs(text, changed):
            if len(run) > _MAX_WORDS:
                continue
            start, end = self._companions(text, run[0][0], run[-1][1], _MAX_WORDS - len(run))
            words = [text[a:b] for a, b in run]
            if self._reads_as_name(words, alone=(start, end) == (run[0][0], run[-1][1])):
                found.append(Hit("pii", ENTITY, start, end, _SCORE, self.name))
        return found

    def _companions(self, text: str, start: int, end: int, room: int) -> tuple[int, int]:
        """The run widened by words beside it that the spelling left alone and that are no everyday
        word: "gunnur" in "gunnur 7h1573d", a given name with no digit to turn."""
        while room > 0:
            before = _WORD_BEFORE.search(text, max(0, start - 65), start)
            after = _WORD_AFTER.match(text, end)
            if before is not None and self._companion(before.group(1)):
                start, room = before.start(1), room - 1
            elif after is not None and self._companion(after.group(1)):
                end, room = after.end(1), room - 1
            else:
                break
        return start, end

    def _companion(self, word: str) -> bool:
        return len(word) >= 3 and word.isalpha() and word.islower() and not self._ordinary(word)

    def _reads_as_name(self, words: list[str], alone: bool) -> bool:
        """``alone``: no companion beside the words (see :meth:`_companions`)."""
        folded = [w.casefold() for w in words]
        if len(words) == 1 and alone:
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


class _LetterPairs:
    """How names run letter to letter: a model of letter pairs (with a word's start and end) counted
    over the name lists, which tells "Johannes" from its ROT13 "Wbunaarf"."""

    def __init__(self, words: frozenset[str]) -> None:
        pairs: Counter[str] = Counter()
        after: Counter[str] = Counter()
        for word in words:
            marked = f"^{word}$"
            pairs.update(marked[i : i + 2] for i in range(len(marked) - 1))
            after.update(marked[:-1])
        alphabet = len(after) + 1
        self._log = {
            pair: math.log((n + 0.5) / (after[pair[0]] + 0.5 * alphabet)) for pair, n in pairs.items()
        }
        self._unseen = {ch: math.log(0.5 / (n + 0.5 * alphabet)) for ch, n in after.items()}
        self._floor = math.log(0.5 / (0.5 * alphabet))

    def mean(self, words: list[str]) -> float:
        """Mean log-likelihood per letter pair of the (casefolded) words, each word's mean weighed
        alike."""
        return sum(self._word(w) for w in words) / len(words)

    def _word(self, word: str) -> float:
        marked = f"^{word}$"
        total = 0.0
        for i in range(len(marked) - 1):
            pair = marked[i : i + 2]
            found = self._log.get(pair)
            total += found if found is not None else self._unseen.get(pair[0], self._floor)
        return total / (len(marked) - 1)


def _changed_runs(text: str, changed: Sequence[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Runs of words, one space apart, each of which a change falls inside (a deletion between two
    of its letters, as in a spelt-out word, counts; a changed space next to it does not)."""
    if not changed:
        return []
    lo = max(0, min(a for a, _ in changed) - 64)
    hi = min(len(text), max(b for _, b in changed) + 64)
    spans = sorted(changed)
    starts = [a for a, _ in spans]
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
