"""Normalised views of a text, each with a map back to the original (pipeline stage 4).

Evasion hides a value from a detector but not from a model: a zero-width space inside an email,
full-width digits, Cyrillic look-alikes, ``4111 1111-1111.1111``, base64, ``\\u0040``.  The engine
runs its detectors on every view from :func:`views` and takes the union; a hit at
``view.text[a:b]`` lies in the original at ``view.to_original(a, b)``.  Views (names are stable,
findings carry them):

* ``raw``       the text itself.
* ``clean``     without Default_Ignorable and format (Cf) characters and C0/C1 controls but ``\\t\\n\\r``,
                and without the combining marks past the 32nd in a row (zalgo).
* ``nfkc``      NFKC of clean, one cluster (a character and its combining marks) at a time.
* ``skeleton``  nfkc with homoglyphs, accents and other scripts' digits folded to ASCII, marks dropped.
* ``digits``    skeleton without the separators inside digit-bearing tokens (cards, IBANs, phones).
* ``base64``, ``hex``, ``percent``  clean with each encoded run replaced by its decoding.
* ``json``      the string values of JSON found in clean, unescaped, one per line.
* evasive spellings, each rewritten plainly (:mod:`gateway.scan.spellings`): ``entities`` (HTML
  character references, on clean), ``atdot`` (``john (at) example (dot) com``), ``numwords``
  (``four one one one ...``), ``glued`` (``acct_4111111111111111_end``), ``leet`` (``m41lb0x``),
  ``spaced`` (``j o h n``), ``backwards`` (a name written backwards), on skeleton; ``rot13`` and
  ``reversed`` (single tokens), on digits.

The offset maps are in :mod:`gateway.scan.offsets`, the decoding views in :mod:`gateway.scan.decode`.
Every step is linear in the text: runs of
combining marks are capped (``clean`` keeps the first 32 after each base character), NFKC only
ever sees bounded pieces, and decoding stops at a budget of runs and bytes per text, past which
:class:`NormalizationLimit` is raised (the engine reports ``scan_failed``, never a partial scan).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

from gateway.scan import spellings
from gateway.scan.confusables import SKELETON
from gateway.scan.decode import (
    MAX_DECODED_BYTES,
    MAX_DECODED_RUNS,
    Budget,
    NormalizationLimit,
    candidates,
    decoded,
    json_values,
)
from gateway.scan.offsets import MapBuilder, OffsetMap, apply_edits

__all__ = ["NormalizationLimit", "View", "views", "word_span"]

_MAX_MARKS = 32  # combining marks kept after a base character: NFKC sorts a run in quadratic time
_NFKC_PIECE = 4096  # the longest stretch handed to unicodedata at once


_Built = tuple[str, OffsetMap | None]  # a view's text and its map to the original (None: identity)


def _on(source: _Built, local: tuple[str, OffsetMap | None] | None) -> _Built:
    """Place a view built from ``source`` (``local`` maps into source's text) onto the original."""
    if local is None:
        return source
    text, mapping = local
    return text, source[1] if mapping is None else mapping.compose(source[1])


# --- clean: Default_Ignorable_Code_Point (DerivedCoreProperties.txt), all of Cf, C0/C1 but \t\n\r.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]+"
)
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # the same on ASCII, 4x faster


def _mark_class() -> str:
    """A regex class of the combining marks (Mn, Mc, Me) and the half-width kana voicing marks,
    the only other characters whose NFKC starts with a mark.  Marks all lie in [U+0300, U+20000)
    or in plane 14; scanning just those takes ~20 ms at import, against ~150 ms for all of Unicode."""
    ranges: list[tuple[int, int]] = []
    for cp in (*range(0x300, 0x20000), *range(0xE0000, 0xE1000)):
        if unicodedata.category(chr(cp))[0] == "M" or cp in (0xFF9E, 0xFF9F):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"


_MARK = _mark_class()
_MARK_RUN = re.compile(f"(?<!{_MARK}){_MARK}{{{_MAX_MARKS + 1},}}")  # from a run's start only
_LONG_NON_ASCII = re.compile(f"[^\x00-\x7f]{{{_MAX_MARKS + 1}}}")  # ~40x faster to rule out


def _clean(text: str) -> tuple[str, OffsetMap] | None:
    if text.isascii():
        return None if _ASCII_CONTROL.search(text) is None else _delete_invisible(text)
    cleaned, mapping = _on((text, None), _delete_invisible(text))
    cleaned, mapping = _on((cleaned, mapping), _cap_marks(cleaned))
    return None if mapping is None else (cleaned, mapping)


def _delete_invisible(text: str) -> tuple[str, OffsetMap] | None:
    if _INVISIBLE.search(text) is None:
        return None
    return apply_edits(text, ((*m.span(), "") for m in _INVISIBLE.finditer(text)), absorb=True)


def _cap_marks(text: str) -> tuple[str, OffsetMap] | None:
    """``text`` without the marks past the first ``_MAX_MARKS`` of each run: the last one kept
    swallows them, so a redaction removes them too.  After invisibles go: they can split a run."""
    if _LONG_NON_ASCII.search(text) is None:  # marks are non-ASCII: no long run of those, no long run
        return None
    cuts = [(m.start() + _MAX_MARKS, m.end(), "") for m in _MARK_RUN.finditer(text)]
    return apply_edits(text, cuts, absorb=True) if cuts else None


# --- nfkc: per cluster, so that each output character knows which characters it came from.
_NON_ASCII = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")  # with the ASCII letter a mark may sit on
_NFKC = functools.partial(unicodedata.normalize, "NFKC")


def _continues(ch: str) -> bool:
    """True when ``ch`` belongs to the cluster before it: a combining mark, a Hangul vowel or final,
    a half-width kana voicing mark (NFKC composes all of these with what precedes them)."""
    return unicodedata.category(ch)[0] == "M" or "\u1160" <= ch <= "\u11ff" or ch in "\uff9e\uff9f"


def _nfkc(text: str) -> tuple[str, OffsetMap] | None:
    if text.isascii():
        return None
    builder = MapBuilder(text)
    for m in _NON_ASCII.finditer(text):
        _nfkc_run(builder, text, *m.span())
    normal, mapping = builder.finish()
    return None if normal == text else (normal, mapping)


def _nfkc_run(builder: MapBuilder, text: str, lo: int, hi: int) -> None:
    # Halve until a stretch is normalised already (one C call on at most _NFKC_PIECE characters)
    # or short: CJK text with one full-width digit costs a few calls, not a Python step per
    # character.  A cut moves past at most _MAX_MARKS continuing characters (a cluster, unless
    # it is a run of Hangul jamo), so both halves of 65+ characters are non-empty.
    if hi - lo <= _NFKC_PIECE and unicodedata.is_normalized("NFKC", text[lo:hi]):
        return
    if hi - lo > 64:
        mid = (lo + hi) // 2
        stop = mid + _MAX_MARKS
        while mid < stop and _continues(text[mid]):
            mid += 1
        _nfkc_run(builder, text, lo, mid)
        _nfkc_run(builder, text, mid, hi)
        return
    stretch = text[lo:hi]
    # NFKC never deletes: one character for each and the same whole is a one-to-one map (full-width
    # letters and digits), done in one go.  Anything else goes cluster by cluster.
    if len(folded := "".join(map(_NFKC, stretch))) == hi - lo and folded == _NFKC(stretch):
        builder.overwrite(lo, folded)
        return
    while lo < hi:
        end = lo + 1
        while end < hi and _continues(text[end]):
            end += 1
        if (normal := _NFKC(text[lo:end])) != text[lo:end]:
            builder.replace(lo, end, normal)
        lo = end


# --- skeleton: a one-to-one translation (no map of its own), then stray combining marks (zalgo)
# deleted.  str.translate costs ~120 ns a character on any non-ASCII string, so text with a few
# non-ASCII characters (curly quotes, a name) has just its non-ASCII runs translated.
_NON_ASCII_ONLY = re.compile(r"[^\x00-\x7f]+")
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _skeleton(text: str) -> tuple[str, OffsetMap | None] | None:
    if text.isascii():
        return None
    if len(text.encode("utf-8", "surrogatepass")) - len(text) > len(text) // 8:  # dense non-ASCII
        folded = text.translate(SKELETON)
        marks = [(*m.span(), "") for m in _MARKS.finditer(text)]
    else:
        parts: list[str] = []
        marks, pos = [], 0
        for run in _NON_ASCII_ONLY.finditer(text):  # marks are non-ASCII too: looked for in runs only
            parts += (text[pos : run.start()], run.group().translate(SKELETON))
            marks += ((*m.span(), "") for m in _MARKS.finditer(text, *run.span()))
            pos = run.end()
        folded = "".join(parts) + text[pos:]  # the same length: positions in text are positions here
    if not marks:
        return None if folded == text else (folded, None)
    return apply_edits(folded, marks, absorb=True)


# --- digits: separators between the groups of a digit-bearing token.  Two groups join when both
# hold a digit, or through one short all-capital group between two that do (the bank code in
# "GB82 WEST 1234"); so "hello world", "2 apples" and the label in "SSN 123-45-6789" stay apart.
_SEP = "[ .\\-/_\u00a0\u2007\u2009\u202f]{1,3}"
_DIGIT_GROUP = re.compile(r"[0-9][0-9A-Za-z]*")  # from a group's first digit: only its end matters
_NEXT_GROUP = re.compile(_SEP + r"([0-9A-Za-z]+)")


def _digits(text: str) -> tuple[str, OffsetMap] | None:
    if not any(digit in text for digit in "0123456789"):  # ten memchr calls beat one regex scan
        return None
    cuts: list[tuple[int, int, str]] = []
    for m in _DIGIT_GROUP.finditer(text):
        if (after := _NEXT_GROUP.match(text, m.end())) is None:
            continue
        if not after.group(1).isalpha():  # ASCII alphanumerics: not all letters means a digit
            cuts.append((m.end(), after.start(1), ""))
        elif len(after.group(1)) <= 4 and after.group(1).isupper():
            beyond = _NEXT_GROUP.match(text, after.end())
            if beyond is not None and not beyond.group(1).isalpha():
                cuts += ((m.end(), after.start(1), ""), (after.end(), beyond.start(1), ""))
    return apply_edits(text, cuts) if cuts else None


_SPELLINGS = (
    ("atdot", spellings.at_dot),
    ("numwords", spellings.number_words),
    ("glued", spellings.glued),
    ("leet", spellings.leet),
    ("spaced", spellings.spaced),
    ("backwards", spellings.backwards_names),
)
# Views whose every change leaves the words around it as they were, or makes a structured value (an
# address, a number, a key) out of them: the pattern recognizers alone read them.
_SHALLOW = frozenset({"digits", "atdot", "numwords", "glued", "rot13", "reversed"})
# Views whose changes may spell words (a decoded or leetspeak or letter-spaced name): a change there
# is deep where it lies among letters alone (``spellings.wordy``), shallow elsewhere.
_WORDY = frozenset({"entities", "leet", "spaced", "backwards"})


@dataclass(frozen=True, slots=True)
class View:
    """One normalised text; ``to_original`` maps a span of it back to the original text."""

    # "raw", "clean", "nfkc", "skeleton", "digits", "base64", "hex", "percent", "json", and the
    # spellings: "entities", "atdot", "numwords", "glued", "leet", "spaced", "backwards", "rot13",
    # "reversed"
    name: str
    text: str
    _map: OffsetMap | None = field(default=None, repr=False, compare=False)  # None: the identity
    # The text this view was built from (raw for ``clean``, skeleton for ``digits``...) and the map
    # into it: see :meth:`changed_from_base`.  None for ``raw``.
    base: str | None = field(default=None, repr=False, compare=False)
    _local: OffsetMap | None = field(default=None, repr=False, compare=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original that produced ``text[start:end]``: covering, never narrower."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span {start}:{end} outside view {self.name!r} of length {len(self.text)}")
        return (start, end) if self._map is None else self._map.span(start, end)

    def changed(self, original: str) -> list[tuple[int, int]]:
        """Where this view's text is not ``original`` (the text it was built from), as ascending spans
        of the view: characters replaced or inserted, and an empty span where characters were
        removed.  Elsewhere the view reads exactly as the original, so a detector whose findings
        depend only on nearby text finds nothing there that the raw view's run has not."""
        return _changes(self.text, self._map, original)

    def changed_from_base(self) -> list[tuple[int, int]]:
        """:meth:`changed` against :attr:`base`, the view this one was built from, rather than the
        original: ``digits`` differs from ``skeleton`` only where digit separators went, while it
        differs from raw also at every folded accent, which ``skeleton``'s own scan already covers.

        Every base is itself a view (or raw, or the same text as one: ``views`` drops duplicates),
        so each stretch of a view is read by some scan: near its changes from its base by its own,
        elsewhere by its base's, and so on down to raw."""
        return [(0, len(self.text))] if self.base is None else _changes(self.text, self._local, self.base)

    def split_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]:
        """:meth:`changed_from_base` by what each change can do to the words around it:
        ``(deep, accents, shallow)``.

        * ``accents``: ``skeleton``'s changes that only took the marks off a Latin letter (``é`` to
          ``e``): the word is the same word to a reader, spelt plainly.  A letter with a mark that
          did not compose with it ("j̶o̶h̶n̶") is ``deep``.
        * ``shallow``: changes after which no word reads differently: all of ``digits``'s
          (separators gone from inside digit-bearing tokens), and ``nfkc``'s and ``skeleton``'s
          that are not letters (full-width digits, "½" and the fraction slash it becomes)
          or are folded inside a word that keeps letters of another script (Greek "ΑΓΛΑΝΤΖΙΑ"
          becomes "AΓΛANTZIA", which reads as nothing new; "paypal" spelt with a Cyrillic "a", or
          in full-width letters, reads anew).
        * ``deep``: the rest (a look-alike word, a decoded blob, an invisible character gone),
          where any word may read differently."""
        changed = self.changed_from_base()
        if self.name in _SHALLOW:
            return [], [], changed
        if self.name in _WORDY:
            words = [spellings.wordy(self.text, s, e) for s, e in changed]
            return (
                [span for span, w in zip(changed, words, strict=True) if w],
                [],
                [span for span, w in zip(changed, words, strict=True) if not w],
            )
        if self.name not in ("nfkc", "skeleton") or self.base is None:
            return changed, [], []
        deep: list[tuple[int, int]] = []
        accents: list[tuple[int, int]] = []
        shallow: list[tuple[int, int]] = []
        for start, end in changed:
            a, b = (start, end) if self._local is None else self._local.span(start, end)
            folded = self.text[start:end]
            if _accent_fold(self.base[a:b], folded):
                accents.append((start, end))
            elif not folded.isalpha() or _foreign(self.text[slice(*word_span(self.text, start, end))]):
                shallow.append((start, end))
            else:
                deep.append((start, end))
        return deep, accents, shallow


_LONGEST_WORD = 64  # how far to look for the ends of a word: a longer run is read as one anyway


def word_span(text: str, start: int, end: int) -> tuple[int, int]:
    """The run of letters around ``text[start:end]`` (up to ``_LONGEST_WORD`` either side)."""
    left, right = start, end
    while left > 0 and start - left < _LONGEST_WORD and text[left - 1].isalpha():
        left -= 1
    while right < len(text) and right - end < _LONGEST_WORD and text[right].isalpha():
        right += 1
    return left, right


def _foreign(word: str) -> bool:
    """Whether ``word`` keeps a letter of a script other than Latin ("AΓΛANTZIA")."""
    return not word.isascii() and any(
        not c.isascii() and c.isalpha() and not unicodedata.name(c, "").startswith("LATIN") for c in word
    )


def _accent_fold(base: str, folded: str) -> bool:
    """Whether ``folded`` is the Latin letter ``base`` without its accent.  ``base`` is one
    precomposed letter (NFKC composes every accent that spelling uses): a letter with a mark of its
    own beside it (a strikethrough, zalgo) is no spelling but an evasion."""
    if len(base) != 1 or not (folded.isascii() and folded.isalpha()):
        return False
    stripped = "".join(c for c in unicodedata.normalize("NFD", base) if unicodedata.category(c)[0] != "M")
    return stripped == folded


def _changes(text: str, mapping: OffsetMap | None, original: str) -> list[tuple[int, int]]:
    pieces = [(len(text), 0, len(text), True)] if mapping is None else mapping.pieces()
    spans: list[tuple[int, int]] = []
    v = consumed = 0  # view offset; end of the original consumed so far
    for n, o, e, one_to_one in pieces:
        if o != consumed:
            spans.append((v, v))  # original text skipped (deleted) or taken out of order
        if one_to_one:
            spans.extend(_differing(text, v, original, o, n))
            consumed = o + n
        else:
            spans.append((v, v + n))
            consumed = e
        v += n
    if consumed != len(original):
        spans.append((v, v))
    return spans


def _differing(view: str, v: int, original: str, o: int, n: int) -> list[tuple[int, int]]:
    """The characters of ``view[v:v+n]`` unlike those of ``original[o:o+n]``, one span each."""
    if view[v : v + n] == original[o : o + n]:
        return []
    out: list[tuple[int, int]] = []
    for k in range(0, n, 64):  # compare in C a block at a time; walk only the blocks that differ
        a, b = view[v + k : v + min(n, k + 64)], original[o + k : o + min(n, k + 64)]
        if a != b:
            out.extend(
                (v + k + i, v + k + i + 1) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y
            )
    return out


def views(
    text: str, *, max_decoded: int = MAX_DECODED_RUNS, max_decoded_bytes: int = MAX_DECODED_BYTES
) -> list[View]:
    """``raw`` first, then each other view whose text differs from every view before it.

    ``max_decoded`` runs and ``max_decoded_bytes`` bytes of output bound the decoding of the whole
    text, all decoding views and nested runs together; past them it raises
    :class:`NormalizationLimit` rather than scan a text only partly decoded.
    """
    budget = Budget(max_decoded, max_decoded_bytes)
    # (name, base, the view built on base's text with its map into base, the same placed on the
    # original); local is None where the step changed nothing.
    stages: list[tuple[str, _Built, tuple[str, OffsetMap | None] | None, _Built]] = []

    def stage(name: str, base: _Built, local: tuple[str, OffsetMap | None] | None) -> _Built:
        built = _on(base, local)
        stages.append((name, base, local, built))
        return built

    clean = stage("clean", (text, None), _clean(text))
    nfkc = stage("nfkc", clean, _nfkc(clean[0]))
    skeleton = stage("skeleton", nfkc, _skeleton(nfkc[0]))
    joined = _digits(skeleton[0])
    stage("digits", skeleton, joined)
    # Evasive spellings (gateway.scan.spellings): HTML entities decoded from clean, like the other
    # decodings; the rest read the skeleton (a look-alike letter in a spelt address is still read),
    # ROT13 and reversal also the tokens of the digits view, where a spaced IBAN is one token.
    stage("entities", clean, spellings.entities(clean[0]))
    for name, spell in _SPELLINGS:
        stage(name, skeleton, spell(skeleton[0]))
    tokens = spellings.tokens(skeleton[0])
    if joined is not None:  # the digits view's own tokens, placed on the skeleton
        tokens += [joined[1].span(a, b) for a, b in spellings.tokens(joined[0])]
    stage("rot13", skeleton, spellings.rot13(skeleton[0], tokens))
    stage("reversed", skeleton, spellings.reversed_tokens(skeleton[0], tokens))
    runs = candidates(clean[0])
    for kind in ("base64", "hex", "percent"):
        stage(kind, clean, decoded(clean[0], kind, budget, runs))
    stage("json", clean, json_values(clean[0]))
    out, seen = [View("raw", text)], {text}
    for name, base, local, (view_text, mapping) in stages:
        if local is None or view_text in seen:
            continue
        seen.add(view_text)
        out.append(View(name, view_text, mapping, base=base[0], _local=local[1]))
    return out
