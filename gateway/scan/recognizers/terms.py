"""Organisation term lists (code names, customers, products) and organisation regexes (IDs).

Terms match whole words, ignoring case, accents, spacing and punctuation between words:
"Project Nightingale" matches "project-nightingale", "PROJECT  NIGHTINGALE",
"Project_Nightingale", "project.nightingale" and "ProjectNightingale".  Both the text and the
terms are cut into tokens (runs of letters, digits and combining marks; each Han, kana or Thai
character is a token of its own, since those scripts do not separate words with spaces),
folded (casefold, then accents removed), and the terms go into a trie over tokens, so one
pass over the text matches any number of terms: 5,000 terms cost what 5 do.

Decisions where the brief left room:

* Possessives match ("Bluebird's": the apostrophe ends the token); plurals do not
  ("Bluebirds" is another word) unless ``plurals=True`` adds "s"/"es" forms of the last word.
* Between the words of a term: any whitespace, or up to three punctuation characters
  ("project.nightingale", "project - nightingale").  Sentence punctuation next to whitespace
  ("the project. Nightingale said", "Project, Nightingale") ends the phrase instead.
* Where terms overlap, the longest match starting leftmost wins ("Acme Corp" over "Acme").
* User regexes run with the ``regex`` package's timeout.  A timeout raises
  :class:`PatternTimeoutError`, which the engine turns into a ``scan_failed`` finding; an
  invalid regex, or one that matches the empty string, is refused at construction with
  :class:`TermConfigError` naming it.  By default a pattern must also start and end at word
  boundaries (``EMP-\\d{6}`` does not match inside "EMP-1234567"); ``whole_word_patterns=False``
  runs patterns exactly as written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import regex  # type: ignore[import-untyped,unused-ignore]  # stubs: types-regex

from gateway.scan.findings import Hit

__all__ = ["PatternTimeoutError", "TermConfigError", "TermListDetector", "WordTokenizer"]

_WORD_RUN = r"[\p{L}\p{N}\p{M}]+"
_UNSPACED = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
# A pattern's match must begin and end at a boundary between a letter/digit and anything else.
_EDGE = r"(?:(?<![\p{L}\p{N}])|(?![\p{L}\p{N}]))"
_LEADING_FLAGS = r"\(\?[aiLmsuxV01]+\)"  # "(?i)" must stay at the start when the pattern is wrapped
_SENTENCE_PUNCT = frozenset(".,;:!?")
_MAX_GAP_PUNCT = 3


class TermConfigError(ValueError):
    """A term list or pattern that cannot be used; the message names it (never the scanned text)."""


class PatternTimeoutError(TimeoutError):
    """A user pattern ran past its time budget: the text was not fully scanned."""


class WordTokenizer:
    """Text -> ``(start, end, key)`` per word: letters, digits and combining marks, casefolded and
    accent-free ("Müller" -> "muller"); each Han, kana or Thai character is a word of its own.
    Shared with the fingerprint detector, so both agree on what a word is."""

    def __init__(self) -> None:
        self._run = regex.compile(_WORD_RUN)
        self._unspaced = regex.compile(_UNSPACED)
        self._piece = regex.compile(_UNSPACED + r"|(?:(?!" + _UNSPACED + r")[\p{L}\p{N}\p{M}])+")

    def __call__(self, text: str) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        for m in self._run.finditer(text):
            token = m.group()
            if token.isascii():
                out.append((m.start(), m.end(), token.lower()))
            elif self._unspaced.search(token) is None:
                out.append((m.start(), m.end(), _fold(token)))
            else:
                base = m.start()
                out.extend(
                    (base + p.start(), base + p.end(), _fold(p.group())) for p in self._piece.finditer(token)
                )
        return out

    def is_unspaced(self, key: str) -> bool:
        return self._unspaced.match(key) is not None


class _Node:
    __slots__ = ("children", "lists")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.lists: tuple[str, ...] = ()  # names of the lists that hold the term ending here


class TermListDetector:
    """Finds listed terms (``TERM:<list>``) and pattern matches (``PATTERN:<name>``); kind ``term``."""

    def __init__(
        self,
        lists: Mapping[str, Sequence[str]] | None = None,
        patterns: Mapping[str, str] | None = None,
        *,
        name: str = "terms",
        plurals: bool = False,
        whole_word_patterns: bool = True,
        timeout_s: float = 0.25,
        term_score: float = 0.9,
        pattern_score: float = 0.9,
    ) -> None:
        self.name = name
        self._term_score = term_score
        self._pattern_score = pattern_score
        self._timeout_s = timeout_s
        self._tokens = WordTokenizer()
        self._root = _Node()
        for list_name, terms in (lists or {}).items():
            _check_name("list", list_name)
            if isinstance(terms, str):
                raise TermConfigError(f"list {list_name!r}: expected a sequence of terms, got a string")
            for term in terms:
                self._add(list_name, term, plurals=plurals)
        self._patterns = tuple(
            (f"PATTERN:{key}", key, _compile_pattern(key, value, whole_word=whole_word_patterns))
            for key, value in (patterns or {}).items()
        )

    def detect(self, text: str) -> list[Hit]:
        hits = self._match_terms(text)
        for entity, key, compiled in self._patterns:
            try:
                for m in compiled.finditer(text, timeout=self._timeout_s):
                    if m.end() > m.start():
                        hits.append(Hit("term", entity, m.start(), m.end(), self._pattern_score, self.name))
            except TimeoutError as exc:
                raise PatternTimeoutError(
                    f"pattern {key!r} ran past {self._timeout_s}s on a text of {len(text)} characters"
                ) from exc
        return hits

    # -- terms ----------------------------------------------------------------------------------------
    def _add(self, list_name: str, term: Any, *, plurals: bool) -> None:
        if not isinstance(term, str):
            raise TermConfigError(f"list {list_name!r}: term {term!r} is not a string")
        keys = [key for _, _, key in self._tokens(term)]
        if not keys:
            raise TermConfigError(f"list {list_name!r}: term {term!r} has no letters or digits")
        forms = [keys]
        if len(keys) > 1 and not any(self._tokens.is_unspaced(key) for key in keys):
            forms.append(["".join(keys)])  # "ProjectNightingale", "projectnightingale"
        if plurals:
            forms += [[*form[:-1], form[-1] + suffix] for form in list(forms) for suffix in ("s", "es")]
        for form in forms:
            node = self._root
            for key in form:
                node = node.children.setdefault(key, _Node())
            if list_name not in node.lists:
                node.lists += (list_name,)

    def _match_terms(self, text: str) -> list[Hit]:
        if not self._root.children:
            return []
        tokens = self._tokens(text)
        children = self._root.children
        hits: list[Hit] = []
        i, n = 0, len(tokens)
        while i < n:
            node = children.get(tokens[i][2])
            if node is None:
                i += 1
                continue
            best, best_lists, j = i, node.lists, i
            while node.children and j + 1 < n and _joinable(text, tokens[j][1], tokens[j + 1][0]):
                nxt = node.children.get(tokens[j + 1][2])
                if nxt is None:
                    break
                node, j = nxt, j + 1
                if node.lists:
                    best, best_lists = j, node.lists
            if not best_lists:
                i += 1
                continue
            start, end = tokens[i][0], tokens[best][1]
            hits.extend(
                Hit("term", f"TERM:{name}", start, end, self._term_score, self.name) for name in best_lists
            )
            i = best + 1
        return hits


def _fold(token: str) -> str:
    """Casefold and drop accents: "Müller" -> "muller", "Straße" -> "strasse"."""
    decomposed = unicodedata.normalize("NFKD", token.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _joinable(text: str, gap_start: int, gap_end: int) -> bool:
    """Whether two tokens are one phrase: spaces only, or a little punctuation without spaces."""
    if gap_start == gap_end:
        return True  # two scripts side by side, or characters of an unspaced script
    gap = text[gap_start:gap_end]
    if gap.isspace():
        return True
    stripped = "".join(gap.split())
    if len(stripped) > _MAX_GAP_PUNCT:
        return False
    return len(stripped) == len(gap) or _SENTENCE_PUNCT.isdisjoint(stripped)


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise TermConfigError(f"{kind} name {name!r} must be a non-empty string")


def _compile_pattern(name: Any, pattern: Any, *, whole_word: bool) -> regex.Pattern[str]:
    _check_name("pattern", name)
    if not isinstance(pattern, str) or not pattern:
        raise TermConfigError(f"pattern {name!r}: expected a non-empty regular expression")
    try:
        compiled = regex.compile(pattern)
        if whole_word:
            flags = regex.match(_LEADING_FLAGS, pattern)
            lead = flags.group() if flags else ""
            compiled = regex.compile(f"{lead}{_EDGE}(?:{pattern[len(lead) :]}){_EDGE}")
    except regex.error as exc:
        raise TermConfigError(f"pattern {name!r}: invalid regular expression: {exc}") from exc
    if compiled.fullmatch("") is not None:
        raise TermConfigError(f"pattern {name!r}: matches the empty string")
    return compiled
