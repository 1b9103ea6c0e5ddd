"""Evasive spellings of a value, read back as the value (views of :mod:`gateway.scan.normalize`).

A model reads ``john (at) example (dot) com``, ``&#106;&#111;&#104;&#110;``, ``four one one one``,
``j o h n``, ``h4mz4@m41lb0x.0rg``, ``gro.elpmaxe@nhoj`` or ``ROT13: wbua@rknzcyr.pbz`` as the value
it spells; a pattern does not.  Each function here is one such reading: the text with every
spelling it recognises rewritten plainly, and a map back onto the text it was given (a rewritten
value's span covers its whole evasive spelling, so redacting the value removes all of it), or None
when nothing is spelt that way, which is the rule: each starts with one cheap test (a substring,
one regex search) and is linear in the text past it.

What each reveals decides how it is read (``View.split_changes``): a decoded HTML entity or a
letter-spaced or leetspeak word may read as a name, and gets every detector near it (:func:`wordy`);
the rest are structured values (an address, a number, a key) for the pattern recognizers alone.
Reversed and ROT13 text is read for such values only: a name written backwards stays unread.
"""

from __future__ import annotations

import re

from gateway.scan.offsets import MapBuilder, OffsetMap

__all__ = [
    "at_dot",
    "backwards_names",
    "entities",
    "glued",
    "leet",
    "number_words",
    "reversed_tokens",
    "rot13",
    "spaced",
    "tokens",
    "wordy",
]

Spelled = tuple[str, OffsetMap]
_INWORD = "'\u2019-"  # what a name holds besides letters: apostrophes, a hyphen

# --- entities: numeric HTML character references (``&#106;``, ``&#x6a;``) and the two named ones that
# spell an address.  Other named references (``&amp;``) are markup, not evasion, and stay as written.
_ENTITY = re.compile(r"&#(?:([0-9]{1,7})|[xX]([0-9A-Fa-f]{1,6}));?|&(commat|period);")
_NAMED = {"commat": "@", "period": "."}


def entities(text: str) -> Spelled | None:
    if "&#" not in text and "&commat;" not in text and "&period;" not in text:
        return None
    builder, changed = MapBuilder(text), False
    for m in _ENTITY.finditer(text):
        dec, hexa, name = m.groups()
        code = int(dec) if dec else int(hexa, 16) if hexa else -1
        char = (
            _NAMED[name]
            if name
            else chr(code)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code < 0xE000
            else ""
        )
        if char and char not in "\x00\r":
            builder.replace(m.start(), m.end(), char)
            changed = True
    return builder.finish() if changed else None


# --- at-dot: ``john (at) example (dot) com``, ``[at]``, ``{at}``, `` at `` ... `` dot ``.  Only a whole
# address shape is rewritten (a local part, an "at", labels joined by dots, a final label of letters),
# and only where a joint is bracketed, or spelt out as words ending in a known top-level domain: "log
# in at example.com" and "look at the dot product" are English, "jo at example dot com" is not.
_BR_AT = r"\s*[(\[{<]\s*at\s*[)\]}>]\s*"
_BR_DOT = r"\s*[(\[{<]\s*dot\s*[)\]}>]\s*"
_AT = rf"(?:{_BR_AT}|[ \t]+at[ \t]+|@)"  # bare words on one line: "at" opens every Java stack frame
_DOT = rf"(?:{_BR_DOT}|[ \t]+dot[ \t]+|\.)"
_LABEL = r"[A-Za-z0-9][A-Za-z0-9_+%-]{0,63}"
_ADDRESS = re.compile(
    rf"(?<![\w.@-]){_LABEL}(?:{_DOT}{_LABEL})*{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[A-Za-z]{{2,24}}(?![\w@-])",
    re.IGNORECASE,
)
_JOINT = re.compile(rf"{_BR_AT}|{_BR_DOT}|[ \t]+at[ \t]+|[ \t]+dot[ \t]+|@|\.", re.IGNORECASE)
# The cheap tests: a bracket closing an "at", or a spelt-out "dot"
# (each pattern starts with one character or a literal, which the search skips to in C).
_CLOSED_JOINT = re.compile(r"[)\]}>](?:(?<=[Aa][Tt].)|(?<=[Aa][Tt] .))")


def at_dot(text: str) -> Spelled | None:
    if " dot " not in text and " DOT " not in text and _CLOSED_JOINT.search(text) is None:
        return None
    builder, changed = MapBuilder(text), False
    for m in _ADDRESS.finditer(text):
        joints = [
            (j.start(), j.end(), "@" if "a" in j.group().lower() else ".") for j in _JOINT.finditer(m.group())
        ]
        if all(text[m.start() + a : m.start() + b] == new for a, b, new in joints):
            continue  # a plain address: raw's scan reads it
        bare = not any(text[m.start() + a : m.start() + b].strip()[:1] in "([{<" for a, b, _ in joints)
        if bare and (" dot " not in m.group().lower() or _tld(m.group().replace(" ", ".")) not in _TLDS):
            continue
        for a, b, new in joints:
            builder.replace(m.start() + a, m.start() + b, new)
        changed = True
    return builder.finish() if changed else None


# --- number words: a number read out digit by digit ("four one one one ...").  Seven digits at least:
# nobody spells an ordinary number that way, and shorter runs ("one two three") are counting.
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_WORD = "(?:zero|one|two|three|four|five|six|seven|eight|nine)"
_NUMBER_WORDS = re.compile(rf"\b(?:plus[\s,-]+)?{_WORD}(?:[\s,-]+{_WORD}){{6,}}\b", re.IGNORECASE)
_ONE_WORD = re.compile(rf"(?i)plus|{_WORD}")
# The cheap test: two small number words in a row after a space (a literal first character makes the
# search skip ahead in C; the full pattern costs 7 times as much on prose).
_TWO_WORDS = re.compile(rf" {_WORD}[ ,-]+{_WORD}\b", re.IGNORECASE)


def number_words(text: str) -> Spelled | None:
    if _TWO_WORDS.search(text) is None:
        return None
    builder, changed = MapBuilder(text), False
    for m in _NUMBER_WORDS.finditer(text):
        words = [
            (m.start() + w.start(), m.start() + w.end(), w.group().lower())
            for w in _ONE_WORD.finditer(m.group())
        ]
        digits = "".join(str(_DIGIT_WORDS.index(w)) for _, _, w in words if w != "plus")
        # Read out, a number loses its "+": 10-15 digits that no card checksum accepts are read as a
        # phone number dialled from abroad, as a listener would (a leading 0 is a national prefix).
        plus = words[0][2] != "plus" and 10 <= len(digits) <= 15 and digits[0] != "0" and not luhn(digits)
        last = words[0][0]
        for a, b, word in words:
            builder.replace(last, a, "")  # the separators between the words go
            digit = "+" if word == "plus" else str(_DIGIT_WORDS.index(word))
            builder.replace(a, b, "+" + digit if plus else digit)
            plus, last = False, b
        changed = True
    return builder.finish() if changed else None


def luhn(digits: str) -> bool:
    """Whether ``digits`` (13-19 of them) pass the card number checksum."""
    if not 13 <= len(digits) <= 19 or not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


# --- glued: a long number written into a word (``acct_4111111111111111_end``, ``ID4111...abc``), which
# no pattern reads past a word boundary: the number set apart by a space on each glued side.  Glued
# in, a phone number has lost its "+" as surely as one read out: up to 15 digits get it back.  From 8
# digits: a local number without its area code is 8 ("acct_38173112Z").
_LONG_NUMBER = re.compile(r"[0-9][0-9]{7,}")  # a leading single class: the search skips ahead in C
_GLUE = re.compile(r"[^\W\d]|_")
_HEX_WORD = re.compile(r"[0-9a-fA-F]{24,}")  # a digest is 32 hex digits or more; a glued value less


def glued(text: str) -> Spelled | None:
    if not _has_digit(text):
        return None
    builder, changed = MapBuilder(text), False
    for m in _LONG_NUMBER.finditer(text):
        a, b = m.span()
        if b - a > 19:
            continue
        left = a > 0 and _GLUE.match(text, a - 1) is not None
        right = b < len(text) and _GLUE.match(text, b) is not None
        if not (left or right) or _in_hex_word(text, a, b) or _machine_number(text, a, b):
            continue
        if left:  # the glue character keeps its place, followed by the space: one-to-one but for it
            builder.replace(a - 1, a, " " if text[a - 1] == "_" else text[a - 1] + " ")
        digits = m.group()
        if 9 <= len(digits) <= 15 and digits[0] != "0" and not luhn(digits):
            builder.replace(a, a + 1, "+" + digits[0])  # read as dialled from abroad, as number words are
        if right:
            builder.replace(b, b + 1, " " if text[b] == "_" else " " + text[b])
        changed = True
    return builder.finish() if changed else None


# YYYYMMDD, with hhmm or hhmmss after it; a day of this century or the last.
_DATE = re.compile(
    r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?:(?:[01][0-9]|2[0-3])[0-5][0-9](?:[0-5][0-9])?)?"
)


_PLACEHOLDER_HEAD = re.compile(r"<[A-Z][A-Z0-9_]*_\Z")  # gateway.transform.tokens: "<LABEL_1a2b3c4d>"


def _machine_number(text: str, a: int, b: int) -> bool:
    """What machines glue to words: a hex literal (``0x12345678``), a date or a date and time
    (``backup_20231205``), a Unix time in seconds or milliseconds (``log_1701234567``), and the
    gateway's own placeholder, whose 8 hex digits may all be digits (``<EMAIL_ADDRESS_20622010>``,
    sent back by the user to be restored)."""
    if text.endswith(("0x", "0X"), 0, a) or _DATE.fullmatch(text, a, b) is not None:
        return True
    if b - a == 8 and text.startswith(">", b) and _PLACEHOLDER_HEAD.search(text, max(0, a - 64), a):
        return True
    return b - a in (10, 13) and text[a] == "1"


def _in_hex_word(text: str, a: int, b: int) -> bool:
    """Whether the number sits in a long run of hex digits (a digest), where it is no value."""
    lo, hi = a, b
    while lo > 0 and text[lo - 1] in "0123456789abcdefABCDEF":
        lo -= 1
    while hi < len(text) and text[hi] in "0123456789abcdefABCDEF":
        hi += 1
    return (lo, hi) != (a, b) and _HEX_WORD.fullmatch(text, lo, hi) is not None


# --- leet: letters written as digits (4 a, 3 e, 1 i, 0 o, 5 s, 7 t) inside a word.  A word qualifies
# when its digits are from that set only, in runs of four at most, and one lies between letters
# ("r0n") or digits end it on both sides ("4ll1"); every word of an address qualifies ("0rg", "10").
# "v1", "md5", "s3", "ROT13", "10am" do not; "l10n" reads "lion", which is harmless.  Leetspeak has
# no capitals: a word read out of it gets one, as a name would have, for the NER to read it so.
_LEET = str.maketrans("431057", "aeiost")
_LEET_HINT = re.compile(r"[013457](?:(?<=[^\W\d_][013457])|(?=[^\W\d_]))")  # a digit beside a letter
_WORD_TAIL = re.compile(r"[^\W_]*")
_ALNUM = re.compile(r"[^\W_]+")
_ESCAPED = re.compile(r"(?:&#|0|\\|%)\Z")  # "&#x4e;", "0x1f", "\\u00e9", "%4e" are codes, not words


def leet(text: str) -> Spelled | None:
    if not _has_digit(text):
        return None
    builder, done = MapBuilder(text), 0
    read: list[tuple[int, int, bool]] = []  # (start, end, a word outside an address)
    for m in _LEET_HINT.finditer(text):
        if m.start() < done:
            continue  # in a word (or an address) already read
        a = m.start()
        while a > 0 and m.start() - a < 64 and text[a - 1].isalnum():
            a -= 1
        done = b = _end(_WORD_TAIL, text, m.start())
        if _ESCAPED.search(text, max(0, a - 2), a) or text.startswith((":", "="), b):
            continue  # a code ("&#x4e;", "0x1f"), or a key in a config ("x5t: ...")
        chunk = _address_chunk(text, a, b)
        if chunk is not None:
            words = [w.span() for w in _ALNUM.finditer(text, a, chunk[1])]
            done = chunk[1]
            # "costa0@example.org" is a name and a number, as many addresses are: an address is leet
            # only with a digit inside a word of it or in its ending ("m41lb0x.0rg").
            if not any(_is_leet(text[lo:hi], False) for lo, hi in words) and not _has_digit(
                text[chunk[0] : chunk[1]].rsplit(".", 1)[-1]
            ):
                continue
        for lo, hi in [(a, b)] if chunk is None else words:
            if _is_leet(text[lo:hi], chunk is not None):
                read.append((lo, hi, chunk is None))
    if not read:
        return None
    for lo, hi, title in sorted({*read, *_leet_neighbours(text, read)}):
        builder.overwrite(lo, _unleet(text[lo:hi], title))
    return builder.finish()


def _unleet(word: str, title: bool) -> str:
    plain = word.translate(_LEET)
    # "Xst" reads as a name to the NER; "Ron" needs no capital.  One character for one: "ß".upper()
    # is "SS", which would shift the map.
    if title and len(plain) > 3 and len(plain[0].upper()) == 1:
        plain = plain[0].upper() + plain[1:]
    return plain


def _leet_neighbours(text: str, read: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Words one space from a leet word (not an address) that are leet by their digits alone, with
    digits at one end only ("54m ul4nd", "m4c471 p4571"): alone, that shape is a model or a part
    number ("A100", "m315"); beside a leet word, it is the rest of the name."""
    out = []
    for lo, hi, word_not_address in read:
        if not word_not_address:
            continue
        for m in (_PREVIOUS_WORD.search(text, max(0, lo - 65), lo), _NEXT_WORD.match(text, hi)):
            if m is None:
                continue
            word = m.group(1)
            if _has_digit(word) and word.translate(_LEET).isalpha() and not any(c in "2689" for c in word):
                out.append((m.start(1), m.end(1), True))
    return out


_PREVIOUS_WORD = re.compile(r"(?<![^\W_])([^\W_]{2,64}) \Z")
_NEXT_WORD = re.compile(r" ([^\W_]{2,64})(?![^\W_])")


def _end(run: re.Pattern[str], text: str, pos: int) -> int:
    """Where ``run`` (a pattern that matches the empty string too) stops matching from ``pos``."""
    found = run.match(text, pos)
    return pos if found is None else found.end()


def _has_digit(text: str) -> bool:
    return any(digit in text for digit in "0123456789")  # ten memchr calls beat one regex scan


def _is_leet(word: str, address: bool) -> bool:
    if any(c in "2689" for c in word) or re.search(r"[0-9]{5}", word) or not word.translate(_LEET).isalpha():
        return False
    if _HEX_PIECE.fullmatch(word):  # a piece of a digest or a colour: no word
        return False
    if address:  # any word of an address ("0rg")
        return True
    # A digit between letters ("r0n"), or digits at both ends ("4ll1"); not a number before or after
    # a word alone ("ROT13", "10am", "3d").
    return _LEET_INSIDE.search(word) is not None or (word[0].isdigit() and word[-1].isdigit())


_HEX_PIECE = re.compile(r"[0-9a-fA-F]{6,}")
_LEET_INSIDE = re.compile(r"[^\W\d_][013457]+[^\W\d_]")


def _address_chunk(text: str, a: int, b: int) -> tuple[int, int] | None:
    """The address-like chunk (no spaces, an "@" in it) holding ``text[a:b]``, if there is one."""
    lo, hi = a, b
    while lo > 0 and a - lo < 128 and (text[lo - 1].isalnum() or text[lo - 1] in "@._+-"):
        lo -= 1
    while hi < len(text) and hi - b < 128 and (text[hi].isalnum() or text[hi] in "@._+-"):
        hi += 1
    return (lo, hi) if "@" in text[lo:hi] else None


# --- spaced: a value spelt out a character at a time (``j o h n @ e x a m p l e . c o m``).  The
# single spaces go; two or more are a word break; in a run of letters alone (a name), a capital after
# a small letter starts a new word ("C h a s e D e S m e t": "Chase De Smet").
_SPACED = re.compile("(?<!\\S)[^\\W_@.'\u2019+-](?: {1,3}[\\w@.'\u2019+-]){4,}(?=[.,;:!?)\"']*(?:\\s|\\Z))")


# --- backwards: a name written backwards ("aveabaQ ehzneK" is "Kenzhe Qabaeva"): two to four words in a
# row that each end in a capital after small letters, read back as one run.  One such word alone is
# an identifier as often ("getX"); words that end in a capital are rare in prose, so the cheap test
# is one regex search.
_BACKWARDS_HINT = re.compile(r"[a-z][A-Z](?![^\W\d_])")
_LETTERS = re.compile(r"[^\W\d_]+")


def backwards_names(text: str) -> Spelled | None:
    if _BACKWARDS_HINT.search(text) is None:
        return None
    builder, changed = MapBuilder(text), False
    run: list[tuple[int, int]] = []
    for m in [*_LETTERS.finditer(text), None]:
        word = "" if m is None else m.group()
        # A particle ("eD", "naV") only inside a run: alone, two letters are an abbreviation.
        backwards = (
            (len(word) >= 3 or (len(word) == 2 and bool(run))) and word[-1].isupper() and word[:-1].islower()
        )
        joined = m is not None and run and text[run[-1][1] : m.start()] == " "
        if backwards and (joined or not run) and len(run) < 4:
            run.append(m.span())  # type: ignore[union-attr]  # backwards implies a match
            continue
        if len(run) >= 2 and not _beside_word(text, run[0][0], run[-1][1]):
            builder.replace(run[0][0], run[-1][1], text[run[0][0] : run[-1][1]][::-1])
            changed = True
        run = [m.span()] if backwards and m is not None else []
    return builder.finish() if changed else None


def _beside_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is glued to more of a token (an identifier, a path)."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or before in "_'.@/\\-" or after.isalnum() or after in "_'@/\\-"


_SPACED_HINT = re.compile(r" \S \S \S ")  # inside any run of five: a literal first, searched in C


def spaced(text: str) -> Spelled | None:
    if _SPACED_HINT.search(text) is None:
        return None
    builder, changed = MapBuilder(text), False
    for m in _SPACED.finditer(text):
        chars = m.group().split()
        if sum(c.isalnum() for c in chars) < 4 or sum(not c.isalnum() for c in chars) * 2 > len(chars):
            continue
        name = all(c.isalpha() or c in _INWORD for c in chars)
        pos = m.start()
        for i, ch in enumerate(chars):
            at = text.index(ch, pos)
            if i:
                gap = at - pos
                prev = chars[i - 1]
                keep = gap > 1 or (name and prev.islower() and ch.isupper())
                builder.replace(pos, at, " " if keep else "")
            pos = at + 1
        changed = True
    return builder.finish() if changed else None


# --- rot13 and reversed: a token that the transform turns into an address, a card number, an IBAN or
# a prefixed key, rewritten in place; nothing else is touched.  Both read the skeleton; the engine
# also hands them the tokens of the ``digits`` view (mapped back), where a grouped IBAN or card number
# ("VR26 KFQP 5988 ...") is one token.
_MARK = re.compile(r"[0-9@][0-9@]*")
_TOKEN_TAIL = re.compile(r"[\w@.+/=-]*")
_TOKEN_CHARS = frozenset("_@.+/=-")


def tokens(text: str) -> list[tuple[int, int]]:
    """The tokens of 8 characters or more (letters, digits, ``_@.+/=-``) holding a digit or an "@",
    found from those (rare in prose) rather than from every word."""
    if not _has_digit(text) and "@" not in text:
        return []
    out: list[tuple[int, int]] = []
    done = 0
    for m in _MARK.finditer(text):
        if m.start() < done:
            continue
        a = m.start()
        while a > 0 and m.start() - a < 256 and (text[a - 1].isalnum() or text[a - 1] in _TOKEN_CHARS):
            a -= 1
        done = _end(_TOKEN_TAIL, text, m.end())
        if 8 <= done - a <= _LONGEST_TOKEN:
            out.append((a, done))
    return out


_TLDS = frozenset({
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "io", "co", "me", "fm",
    "tv", "ai", "app", "dev", "cloud", "online", "site", "xyz", "eu", "de", "uk", "fr", "it", "es", "nl",
    "be", "ch", "at", "se", "no", "dk", "fi", "pl", "cz", "sk", "hu", "ro", "bg", "gr", "pt", "ie", "lu",
    "li", "is", "ee", "lv", "lt", "si", "hr", "rs", "ba", "mk", "al", "ua", "ru", "by", "tr", "cy", "mt",
    "us", "ca", "mx", "br", "ar", "cl", "au", "nz", "jp", "cn", "kr", "in", "sg", "hk", "za",
})  # fmt: skip
_IBAN_COUNTRIES = frozenset({
    "AD", "AE", "AL", "AT", "AZ", "BA", "BE", "BG", "BH", "BR", "BY", "CH", "CR", "CY", "CZ", "DE", "DK",
    "DO", "EE", "EG", "ES", "FI", "FO", "FR", "GB", "GE", "GI", "GL", "GR", "GT", "HR", "HU", "IE", "IL",
    "IQ", "IS", "IT", "JO", "KW", "KZ", "LB", "LC", "LI", "LT", "LU", "LV", "MC", "MD", "ME", "MK", "MR",
    "MT", "MU", "NL", "NO", "PK", "PL", "PS", "PT", "QA", "RO", "RS", "SA", "SC", "SE", "SI", "SK", "SM",
    "ST", "SV", "TL", "TN", "TR", "UA", "VA", "VG", "XK",
})  # fmt: skip
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# A key's random body: 20 characters or more, digits, and capitals beside small letters or a dozen of
# them (an AWS key id); "acct_4111111111111111_end" is none.
_KEY_CHARS = re.compile(r"[\w.+/=-]{20,256}")
_LONGEST_TOKEN = 256  # longer than any key; a longer run is no token these views read


def _key_shape(token: str) -> bool:
    """20-256 key characters, with a digit and a capital, and a small letter or a dozen capitals.
    Counted, not matched with look-aheads: those backtracked exponentially over capitals."""
    if _KEY_CHARS.fullmatch(token) is None:
        return False
    capitals = sum(c.isupper() for c in token)
    has_digit = any(c.isdigit() for c in token)
    return has_digit and capitals > 0 and (any(c.islower() for c in token) or capitals >= 12)


ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


def rot13(text: str, spans: list[tuple[int, int]]) -> Spelled | None:
    """``text`` with each of the candidate ``spans`` (:func:`tokens`) that ROT13 turns into a value
    turned, in place."""
    builder, done = MapBuilder(text), 0
    for a, b in _ascending(spans):
        token = text[a:b]
        turned = token.translate(ROT13)
        if a >= done and (_rot13_reveals(token, turned) or _rot13_reveals(_compact(token), _compact(turned))):
            builder.overwrite(a, turned)
            done = b
    return builder.finish() if done else None


def reversed_tokens(text: str, spans: list[tuple[int, int]]) -> Spelled | None:
    """``text`` with each of the candidate ``spans`` (:func:`tokens`) that reads as a value backwards
    reversed; every character of it maps to all of it (a map runs forwards only)."""
    builder, done = MapBuilder(text), 0
    for a, b in _ascending(spans):
        token = text[a:b].rstrip(".")  # a sentence's full stop is no part of it
        back = token[::-1]
        if a >= done and (
            _reversal_reveals(token, back) or _reversal_reveals(_compact(token), _compact(back))
        ):
            builder.replace(a, a + len(token), back)
            done = a + len(token)
    return builder.finish() if done else None


def _ascending(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` by start, the wider first: the skeleton's token and the digits view's (which may run
    on into a sentence's last number) are both tried, the first that reveals a value taken."""
    return sorted(set(spans), key=lambda span: (span[0], -span[1]))


def _compact(token: str) -> str:
    """A grouped number or IBAN ("VR26 KFQP 5988", "1101-9150-0047") without its separators."""
    return token.replace(" ", "").replace("-", "") if _GROUPED.fullmatch(token) else token


_GROUPED = re.compile(r"[0-9A-Z]{1,6}(?:[ -][0-9A-Z]{1,6})+")


# Vendor prefixes of keys (``recognizers/secrets_rules.py`` knows the whole formats): a token that
# turns into one of these is a key spelt to hide it.
_KEY_PREFIXES = (
    "AKIA", "ASIA", "AIza", "SG.", "ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_", "sk-", "sk_live_",
    "sk_test_", "rk_live_", "xoxb-", "xoxp-", "xoxa-", "xapp-", "glpat-", "hf_", "npm_", "pypi-", "SK",
)  # fmt: skip


def _prefixed_key(value: str) -> bool:
    return value.startswith(_KEY_PREFIXES) and _key_shape(value)


def _rot13_reveals(token: str, turned: str) -> bool:
    if "@" in token:
        return _tld(turned) in _TLDS and _tld(token) not in _TLDS
    if _IBAN_SHAPE.fullmatch(turned):
        return turned[:2] in _IBAN_COUNTRIES  # "CY07..." is "PL07...": the checksum tells which
    # A key under a vendor prefix: a separator in its first 12 characters ("fx_yvir_", "tuc_"), or a
    # prefix that needs none ("NXVN..." is "AKIA...").
    return (_key_shape(token) and re.search(r"[_-]", token[:12]) is not None) or (
        _prefixed_key(turned) and not _prefixed_key(token)
    )


def _reversal_reveals(token: str, back: str) -> bool:
    if "@" in token:  # "gro.xobliam@nhoj", "mf.liamtsaf@oknehc.akinom"
        return _tld(back) in _TLDS and _tld(token) not in _TLDS
    if token.isdigit():
        return luhn(back)
    if _IBAN_SHAPE.fullmatch(back):
        return back[:2] in _IBAN_COUNTRIES
    # A key under a vendor prefix, now at its end ("..._evil_ks", "...AIKA", "...afKS"); no path or URL.
    return (
        _key_shape(token) and "/" not in token and re.search(r"[_-]|[A-Z]{2}$", token[-12:]) is not None
    ) or (_prefixed_key(back) and not _prefixed_key(token))


def _tld(address: str) -> str:
    return address.rpartition(".")[2].lower() if "." in address.rpartition("@")[2] else ""


# --- how a change reads: as words (a name, maybe), or as part of a structured value.


def wordy(text: str, start: int, end: int) -> bool:
    """Whether the change at ``text[start:end]`` lies in plain words, where the NER may read a name:
    what changed is letters or spaces, and the letters around it are no part of an address, a
    number or a key (no digit, "_" or "@" beside them, no dot between them and more letters)."""
    changed = text[start:end]
    if changed and not all(c.isalpha() or c.isspace() or c in _INWORD for c in changed):
        return False
    lo, hi = start, end
    while lo > 0 and start - lo < 64 and (text[lo - 1].isalpha() or text[lo - 1] in _INWORD):
        lo -= 1
    while hi < len(text) and hi - end < 64 and (text[hi].isalpha() or text[hi] in _INWORD):
        hi += 1
    if not any(c.isalpha() for c in text[lo:hi]):
        return False
    return not (_structured(text, lo - 1, lo - 2) or _structured(text, hi, hi + 1))


def _structured(text: str, at: int, beyond: int) -> bool:
    """Whether ``text[at]``, beside a word, ties it into a value (``beyond`` is the next one out)."""
    if not 0 <= at < len(text):
        return False
    ch = text[at]
    if ch.isdigit() or ch in "_@":
        return True
    return ch == "." and 0 <= beyond < len(text) and text[beyond].isalnum()
