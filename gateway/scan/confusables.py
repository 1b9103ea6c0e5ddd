"""A compact homoglyph table for the ``skeleton`` view (see :mod:`gateway.scan.normalize`).

In the spirit of Unicode TR39 confusables, but aimed at detection rather than at identifier
security: every entry maps ONE non-ASCII character, as it stands after NFKC, to ONE ASCII
character.  One-to-one keeps the skeleton the same length as its input, so the view can be
built with :meth:`str.translate` and needs no offset map of its own.  ASCII is never remapped
(TR39 folds ``0``/``O`` and ``1``/``l``/``I`` together; we keep what the user wrote).

Why a hand-made table instead of the ``confusable-homoglyphs`` package: it would be a new
dependency whose API answers "is this string mixed-script or confusable?", not "what is its
skeleton?"; we would still have to derive a one-to-one, ASCII-only map from its bundled
``confusables.json`` (thousands of entries, most of them never seen in evasion attempts), and our
union-of-views design only needs the look-alikes people actually use.  What NFKC already folds
(full-width forms, mathematical alphanumerics, ligatures, letter-like symbols such as the Kelvin
sign or script l, circled and parenthesised letters) is left out on purpose.  Names are spelled
with ``\\N{...}`` so Python itself checks every code point at compile time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

# (look-alike, ASCII) pairs.  Grouped by the ASCII character they imitate.
_PAIRS: tuple[tuple[str, str], ...] = (
    # lower case
    ("\N{CYRILLIC SMALL LETTER A}", "a"),
    ("\N{GREEK SMALL LETTER ALPHA}", "a"),
    ("\N{LATIN SMALL LETTER ALPHA}", "a"),
    ("\N{LATIN LETTER SMALL CAPITAL A}", "a"),
    ("\N{COPTIC SMALL LETTER ALFA}", "a"),
    ("\N{CYRILLIC SMALL LETTER SOFT SIGN}", "b"),
    ("\N{LATIN SMALL LETTER TONE SIX}", "b"),
    ("\N{LATIN LETTER SMALL CAPITAL B}", "b"),
    ("\N{CYRILLIC SMALL LETTER ES}", "c"),
    ("\N{LATIN LETTER SMALL CAPITAL C}", "c"),
    ("\N{COPTIC SMALL LETTER SIMA}", "c"),
    ("\N{CYRILLIC SMALL LETTER KOMI DE}", "d"),
    ("\N{LATIN LETTER SMALL CAPITAL D}", "d"),
    ("\N{CYRILLIC SMALL LETTER IE}", "e"),
    ("\N{CYRILLIC SMALL LETTER ABKHASIAN CHE}", "e"),
    ("\N{ESTIMATED SYMBOL}", "e"),
    ("\N{LATIN LETTER SMALL CAPITAL E}", "e"),
    ("\N{LATIN SMALL LETTER SCRIPT G}", "g"),
    ("\N{ARMENIAN SMALL LETTER CO}", "g"),
    ("\N{LATIN LETTER SMALL CAPITAL G}", "g"),
    ("\N{CYRILLIC SMALL LETTER SHHA}", "h"),
    ("\N{ARMENIAN SMALL LETTER HO}", "h"),
    ("\N{LATIN LETTER SMALL CAPITAL H}", "h"),
    ("\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}", "i"),
    ("\N{GREEK SMALL LETTER IOTA}", "i"),
    ("\N{LATIN SMALL LETTER DOTLESS I}", "i"),
    ("\N{LATIN SMALL LETTER IOTA}", "i"),
    ("\N{LATIN LETTER SMALL CAPITAL I}", "i"),
    ("\N{CYRILLIC SMALL LETTER IOTA}", "i"),
    ("\N{CHEROKEE LETTER V}", "i"),
    ("\N{CYRILLIC SMALL LETTER JE}", "j"),
    ("\N{GREEK LETTER YOT}", "j"),
    ("\N{LATIN SMALL LETTER DOTLESS J}", "j"),
    ("\N{LATIN LETTER SMALL CAPITAL J}", "j"),
    ("\N{CYRILLIC SMALL LETTER KA}", "k"),
    ("\N{GREEK SMALL LETTER KAPPA}", "k"),
    ("\N{LATIN SMALL LETTER KRA}", "k"),
    ("\N{LATIN LETTER SMALL CAPITAL K}", "k"),
    ("\N{CYRILLIC SMALL LETTER PALOCHKA}", "l"),
    ("\N{LATIN LETTER DENTAL CLICK}", "l"),
    ("\N{HEBREW LETTER VAV}", "l"),
    ("\N{LATIN LETTER SMALL CAPITAL L}", "l"),
    ("\N{CYRILLIC SMALL LETTER EM}", "m"),
    ("\N{LATIN LETTER SMALL CAPITAL M}", "m"),
    ("\N{ARMENIAN SMALL LETTER VO}", "n"),
    ("\N{CYRILLIC SMALL LETTER PE}", "n"),
    ("\N{GREEK SMALL LETTER ETA}", "n"),
    ("\N{LATIN LETTER SMALL CAPITAL N}", "n"),
    ("\N{CYRILLIC SMALL LETTER O}", "o"),
    ("\N{GREEK SMALL LETTER OMICRON}", "o"),
    ("\N{GREEK SMALL LETTER SIGMA}", "o"),
    ("\N{ARMENIAN SMALL LETTER OH}", "o"),
    ("\N{COPTIC SMALL LETTER O}", "o"),
    ("\N{LATIN LETTER SMALL CAPITAL O}", "o"),
    ("\N{CYRILLIC SMALL LETTER ER}", "p"),
    ("\N{GREEK SMALL LETTER RHO}", "p"),
    ("\N{COPTIC SMALL LETTER RO}", "p"),
    ("\N{LATIN LETTER SMALL CAPITAL P}", "p"),
    ("\N{CYRILLIC SMALL LETTER QA}", "q"),
    ("\N{ARMENIAN SMALL LETTER ZA}", "q"),
    ("\N{CYRILLIC SMALL LETTER GHE}", "r"),
    ("\N{LATIN LETTER SMALL CAPITAL R}", "r"),
    ("\N{CYRILLIC SMALL LETTER DZE}", "s"),
    ("\N{LATIN LETTER SMALL CAPITAL S}", "s"),
    ("\N{CYRILLIC SMALL LETTER TE}", "t"),
    ("\N{GREEK SMALL LETTER TAU}", "t"),
    ("\N{LATIN LETTER SMALL CAPITAL T}", "t"),
    ("\N{ARMENIAN SMALL LETTER SEH}", "u"),
    ("\N{GREEK SMALL LETTER UPSILON}", "u"),
    ("\N{LATIN SMALL LETTER UPSILON}", "u"),
    ("\N{LATIN LETTER SMALL CAPITAL U}", "u"),
    ("\N{GREEK SMALL LETTER NU}", "v"),
    ("\N{CYRILLIC SMALL LETTER IZHITSA}", "v"),
    ("\N{LATIN LETTER SMALL CAPITAL V}", "v"),
    ("\N{CYRILLIC SMALL LETTER WE}", "w"),
    ("\N{ARMENIAN SMALL LETTER AYB}", "w"),
    ("\N{GREEK SMALL LETTER OMEGA}", "w"),
    ("\N{LATIN LETTER SMALL CAPITAL W}", "w"),
    ("\N{CYRILLIC SMALL LETTER HA}", "x"),
    ("\N{GREEK SMALL LETTER CHI}", "x"),
    ("\N{MULTIPLICATION SIGN}", "x"),
    ("\N{CYRILLIC SMALL LETTER U}", "y"),
    ("\N{CYRILLIC SMALL LETTER STRAIGHT U}", "y"),
    ("\N{GREEK SMALL LETTER GAMMA}", "y"),
    ("\N{LATIN LETTER SMALL CAPITAL Y}", "y"),
    ("\N{LATIN LETTER SMALL CAPITAL Z}", "z"),
    # upper case
    ("\N{CYRILLIC CAPITAL LETTER A}", "A"),
    ("\N{GREEK CAPITAL LETTER ALPHA}", "A"),
    ("\N{CHEROKEE LETTER GO}", "A"),
    ("\N{LISU LETTER A}", "A"),
    ("\N{CYRILLIC CAPITAL LETTER VE}", "B"),
    ("\N{GREEK CAPITAL LETTER BETA}", "B"),
    ("\N{CHEROKEE LETTER YV}", "B"),
    ("\N{LISU LETTER BA}", "B"),
    ("\N{CYRILLIC CAPITAL LETTER ES}", "C"),
    ("\N{COPTIC CAPITAL LETTER SIMA}", "C"),
    ("\N{CHEROKEE LETTER TLI}", "C"),
    ("\N{LISU LETTER CA}", "C"),
    ("\N{CHEROKEE LETTER A}", "D"),
    ("\N{LISU LETTER DA}", "D"),
    ("\N{CYRILLIC CAPITAL LETTER IE}", "E"),
    ("\N{GREEK CAPITAL LETTER EPSILON}", "E"),
    ("\N{CHEROKEE LETTER GV}", "E"),
    ("\N{LISU LETTER E}", "E"),
    ("\N{GREEK LETTER DIGAMMA}", "F"),
    ("\N{LISU LETTER TSA}", "F"),
    ("\N{CYRILLIC CAPITAL LETTER KOMI SJE}", "G"),
    ("\N{CHEROKEE LETTER NAH}", "G"),
    ("\N{LISU LETTER GA}", "G"),
    ("\N{CYRILLIC CAPITAL LETTER EN}", "H"),
    ("\N{GREEK CAPITAL LETTER ETA}", "H"),
    ("\N{CHEROKEE LETTER MI}", "H"),
    ("\N{LISU LETTER XA}", "H"),
    ("\N{CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I}", "I"),
    ("\N{GREEK CAPITAL LETTER IOTA}", "I"),
    ("\N{CYRILLIC LETTER PALOCHKA}", "I"),
    ("\N{LISU LETTER I}", "I"),
    ("\N{CYRILLIC CAPITAL LETTER JE}", "J"),
    ("\N{GREEK CAPITAL LETTER YOT}", "J"),
    ("\N{CHEROKEE LETTER GU}", "J"),
    ("\N{LISU LETTER JA}", "J"),
    ("\N{CYRILLIC CAPITAL LETTER KA}", "K"),
    ("\N{GREEK CAPITAL LETTER KAPPA}", "K"),
    ("\N{CHEROKEE LETTER TSO}", "K"),
    ("\N{LISU LETTER KA}", "K"),
    ("\N{CHEROKEE LETTER TLE}", "L"),
    ("\N{LISU LETTER LA}", "L"),
    ("\N{CYRILLIC CAPITAL LETTER EM}", "M"),
    ("\N{GREEK CAPITAL LETTER MU}", "M"),
    ("\N{CHEROKEE LETTER LU}", "M"),
    ("\N{LISU LETTER MA}", "M"),
    ("\N{GREEK CAPITAL LETTER NU}", "N"),
    ("\N{LISU LETTER NA}", "N"),
    ("\N{CYRILLIC CAPITAL LETTER O}", "O"),
    ("\N{GREEK CAPITAL LETTER OMICRON}", "O"),
    ("\N{ARMENIAN CAPITAL LETTER OH}", "O"),
    ("\N{COPTIC CAPITAL LETTER O}", "O"),
    ("\N{LISU LETTER O}", "O"),
    ("\N{CYRILLIC CAPITAL LETTER ER}", "P"),
    ("\N{GREEK CAPITAL LETTER RHO}", "P"),
    ("\N{COPTIC CAPITAL LETTER RO}", "P"),
    ("\N{CHEROKEE LETTER TLV}", "P"),
    ("\N{LISU LETTER PA}", "P"),
    ("\N{CYRILLIC CAPITAL LETTER QA}", "Q"),
    ("\N{CHEROKEE LETTER E}", "R"),
    ("\N{CHEROKEE LETTER SV}", "R"),
    ("\N{LISU LETTER ZHA}", "R"),
    ("\N{CYRILLIC CAPITAL LETTER DZE}", "S"),
    ("\N{CHEROKEE LETTER DU}", "S"),
    ("\N{LISU LETTER SA}", "S"),
    ("\N{CYRILLIC CAPITAL LETTER TE}", "T"),
    ("\N{GREEK CAPITAL LETTER TAU}", "T"),
    ("\N{CHEROKEE LETTER I}", "T"),
    ("\N{LISU LETTER TA}", "T"),
    ("\N{ARMENIAN CAPITAL LETTER SEH}", "U"),
    ("\N{LISU LETTER U}", "U"),
    ("\N{CYRILLIC CAPITAL LETTER IZHITSA}", "V"),
    ("\N{CHEROKEE LETTER DO}", "V"),
    ("\N{LISU LETTER HA}", "V"),
    ("\N{CYRILLIC CAPITAL LETTER WE}", "W"),
    ("\N{CHEROKEE LETTER LA}", "W"),
    ("\N{LISU LETTER WA}", "W"),
    ("\N{CYRILLIC CAPITAL LETTER HA}", "X"),
    ("\N{GREEK CAPITAL LETTER CHI}", "X"),
    ("\N{LISU LETTER SHA}", "X"),
    ("\N{CYRILLIC CAPITAL LETTER STRAIGHT U}", "Y"),
    ("\N{CYRILLIC CAPITAL LETTER U}", "Y"),
    ("\N{GREEK CAPITAL LETTER UPSILON}", "Y"),
    ("\N{LISU LETTER YA}", "Y"),
    ("\N{GREEK CAPITAL LETTER ZETA}", "Z"),
    ("\N{CHEROKEE LETTER NO}", "Z"),
    ("\N{LISU LETTER DZA}", "Z"),
    # digits that are letters elsewhere (real decimal digits are folded by value below)
    ("\N{CYRILLIC CAPITAL LETTER ZE}", "3"),
    ("\N{CYRILLIC SMALL LETTER ZE}", "3"),
    ("\N{CYRILLIC SMALL LETTER BE}", "6"),
    # punctuation that separates the parts of emails, numbers and paths
    ("\N{HYPHEN}", "-"),
    ("\N{FIGURE DASH}", "-"),
    ("\N{EN DASH}", "-"),
    ("\N{EM DASH}", "-"),
    ("\N{HORIZONTAL BAR}", "-"),
    ("\N{MINUS SIGN}", "-"),
    ("\N{HYPHEN BULLET}", "-"),
    ("\N{MODIFIER LETTER MINUS SIGN}", "-"),
    ("\N{ARMENIAN HYPHEN}", "-"),
    ("\N{IDEOGRAPHIC FULL STOP}", "."),
    ("\N{ARMENIAN FULL STOP}", ":"),
    ("\N{RATIO}", ":"),
    ("\N{SINGLE LOW-9 QUOTATION MARK}", ","),
    ("\N{FRACTION SLASH}", "/"),
    ("\N{DIVISION SLASH}", "/"),
)

# Zero of every non-ASCII decimal-digit block (Unicode 14, general category Nd) that NFKC leaves
# alone: Arabic-Indic, Devanagari, Thai, ... .  Digits of any script read as numbers to a model and
# to Python's int(), so a card number written in them is still a card number.
_DIGIT_ZEROS: tuple[int, ...] = (
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0x104A0,
    0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730,
    0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1E140, 0x1E2F0, 0x1E950,
)  # fmt: skip

# Letter-shaped emoji with no NFKC decomposition: negative circled / negative squared capitals and
# regional indicators (A..Z each).
_LETTER_BLOCKS: tuple[int, ...] = (0x1F150, 0x1F170, 0x1F1E6)

# Blocks of precomposed letters whose accents we strip (base letter kept, then folded through
# _PAIRS): Latin-1, Latin Extended-A/B, Greek, Cyrillic, Latin Extended Additional, Greek Extended.
# A diacritic is the cheapest disguise for a name or a code word, and detectors match bare letters.
_ACCENTED_RANGES: tuple[tuple[int, int], ...] = (
    (0x00C0, 0x024F),
    (0x0370, 0x04FF),
    (0x1E00, 0x1FFF),
)


def _build() -> Mapping[int, str]:
    table = {ord(src): dst for src, dst in _PAIRS}
    for zero in _DIGIT_ZEROS:
        for value in range(10):
            table[zero + value] = str(value)
    for first in _LETTER_BLOCKS:
        for offset in range(26):
            table[first + offset] = chr(ord("A") + offset)
    for low, high in _ACCENTED_RANGES:
        for cp in range(low, high + 1):
            decomposed = unicodedata.normalize("NFD", chr(cp))
            if len(decomposed) < 2 or cp in table:
                continue
            if not all(unicodedata.combining(mark) for mark in decomposed[1:]):
                continue
            base = decomposed[0]
            folded = base if base.isascii() else table.get(ord(base))
            if folded is not None:
                table[cp] = folded
    return MappingProxyType(table)


# ``str.translate`` table: code point -> one ASCII character.  Built once at import (about a
# millisecond, no I/O) and read-only afterwards.
SKELETON: Mapping[int, str] = _build()
