"""Evasive spellings: each is read back as its value, mapped onto its whole original spelling, and
ordinary text gets no spelling view at all."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Hit
from gateway.scan.normalize import View, views
from gateway.scan.spellings import luhn, wordy

SPELLINGS = {"entities", "atdot", "numwords", "glued", "leet", "spaced", "rot13", "reversed"}


def spelled(text: str, name: str) -> View:
    found = {v.name: v for v in views(text)}
    assert name in found, f"no {name!r} view; got {sorted(found)}"
    return found[name]


def maps(text: str, name: str, plain: str, original: str) -> View:
    """``plain`` is in the view and maps back onto exactly ``original`` in ``text``."""
    v = spelled(text, name)
    i = v.text.index(plain)
    s, e = v.to_original(i, i + len(plain))
    assert text[s:e] == original, (text[s:e], original)
    return v


CASES = [
    ("<p>&#106;&#111;&#104;&#110;&#64;&#x65;&#x78;&#46;&#99;&#111;&#109;</p>", "entities", "john@ex.com",
     "&#106;&#111;&#104;&#110;&#64;&#x65;&#x78;&#46;&#99;&#111;&#109;"),
    ("Mail goes to john (at) example (dot) com. Thanks", "atdot", "john@example.com",
     "john (at) example (dot) com"),
    ("Mail goes to john [at] example [dot] co [dot] uk.", "atdot", "john@example.co.uk",
     "john [at] example [dot] co [dot] uk"),
    ("Mail goes to sam{dot}uland{at}gmx{dot}net. Thanks", "atdot", "sam.uland@gmx.net",
     "sam{dot}uland{at}gmx{dot}net"),
    ("Mail goes to tellr89 at gmx dot net. Thanks", "atdot", "tellr89@gmx.net", "tellr89 at gmx dot net"),
    ("In words: four one one one one one one one one one one one one one one one. ok", "numwords",
     "4111111111111111", "four one one one one one one one one one one one one one one one"),
    ("In words: four one seven eight eight six four four five one four. ok", "numwords", "+41788644514",
     "four one seven eight eight six four four five one four"),
    ("ref: acct_4111111111111111_end. ok", "glued", "4111111111111111", "4111111111111111"),
    ("ref: ID4111111111111111abc. ok", "glued", "4111111111111111", "4111111111111111"),
    ("h4mz40lu33@m41lb0x.0rg -- use it", "leet", "hamzaoluee@mailbox.org", "h4mz40lu33@m41lb0x.0rg"),
    ("7yulp4n0v28@4cm3-c0rp.10 -- use it", "leet", "7yulp4n0v28@acme-corp.io", "7yulp4n0v28@4cm3-c0rp.10"),
    ("r0n 573ph3n50n said", "leet", "ron Stephenson", "r0n 573ph3n50n"),
    ("Spelled out: j o h n @ e x a m p l e . c o m. Thanks", "spaced", "john@example.com",
     "j o h n @ e x a m p l e . c o m"),
    ("Spelled out: G B 8 2 W E S T 1 2 3 4 ok", "spaced", "GB82WEST1234", "G B 8 2 W E S T 1 2 3 4"),
    ("is: A n a K a r e n i n a ok", "spaced", "Ana Karenina", "A n a K a r e n i n a"),
    ("ROT13: wbua@rknzcyr.pbz\nthanks", "rot13", "john@example.com", "wbua@rknzcyr.pbz"),
    ("ROT13: tuc_7apKmIFRnCppSSK7r3NjSiNqpfrBbWiuQ6Ey\nthanks", "rot13",
     "ghp_7ncXzVSEaPccFFX7e3AwFvAdcseOoJvhD6Rl", "tuc_7apKmIFRnCppSSK7r3NjSiNqpfrBbWiuQ6Ey"),
    ("ROT13: NXVND7LR2VZHIIL3COYB\nthanks", "rot13", "AKIAQ7YE2IMUVVY3PBLO", "NXVND7LR2VZHIIL3COYB"),
    ("ROT13: FT.eofB4mYe8nz-V9ZrVekweG.wnxoMU8rBdd3Rn-08pszR\nok", "rot13",
     "SG.rbsO4zLr8am-I9MeIrxjrT.jakbZH8eOqq3Ea-08cfmE", "FT.eofB4mYe8nz-V9ZrVekweG.wnxoMU8rBdd3Rn-08pszR"),
    ("Backwards: moc.elpmaxe@nhoj . thanks", "reversed", "john@example.com", "moc.elpmaxe@nhoj"),
    ("Read this backwards: aveabaQ ehzneK . ok", "backwards", "Kenzhe Qabaeva", "aveabaQ ehzneK"),
    ("Backwards: 1111-1111-1111-1114 . thanks", "reversed", "4111-1111-1111-1111", "1111-1111-1111-1114"),
    ("Backwards: GDGO2NPVKNBRO5QKAIKA . thanks", "reversed", "AKIAKQ5ORBNKVPN2OGDG", "GDGO2NPVKNBRO5QKAIKA"),
    ("back: 5372 4709 0308 6809 9906 8309 19UH . ok", "reversed", "HU91 9038 6099 9086 8030 9074 2735",
     "5372 4709 0308 6809 9906 8309 19UH"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "name", "plain", "original"), CASES)
def test_each_spelling_is_read_and_maps_back_to_its_whole_spelling(
    text: str, name: str, plain: str, original: str
) -> None:
    maps(text, name, plain, original)


def test_names_are_read_deep_and_values_shallow() -> None:
    deep, _, shallow = spelled("<p>&#x48;&#x61;&#x6e;&#x6e;&#x65;</p> ok", "entities").split_changes()
    assert deep and not shallow
    deep, _, shallow = spelled("<p>&#52;&#49;&#49;&#49; 1111</p> ok", "entities").split_changes()
    assert shallow and not deep
    deep, _, shallow = spelled("h4mz40lu33@m41lb0x.0rg ok", "leet").split_changes()
    assert shallow and not deep
    for name in ("atdot", "numwords", "glued", "rot13", "reversed"):
        text = next(case[0] for case in CASES if case[1] == name)
        deep, accents, shallow = spelled(text, name).split_changes()
        assert shallow and not deep and not accents
    assert wordy("say Hanne Nurmi ok", 4, 5)
    assert not wordy("mail hanne@x.org", 5, 6)


CLEAN = [
    "Sign in at example.com and look at the dot product of the two vectors.",
    "Meet at 10am in room 3d; ROT13 is a cipher; md5, v1, s3, k8s and utf8 are names.",
    'Exception in thread "main" java.lang.NullPointerException\n    at com.acme.Invoice.total(I.java:42)',
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "One, two, three: the count starts at one and ends at three.",
    "x = a + b * c - d / e",
    "The &amp; sign and &lt;tags&gt; are markup.",
    "Version 3.14.1 shipped on 2024-01-02; order 12345678 is late.",
    "kid: 29ab911f0e6f388f\nalg: RS256\nx5t: SP_oaGOOyYGXvVPA2e1n2zrN6tQ=",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "Call getX and setY, or getX setY directly; the iPhone and eBay apps.",
]


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_text_gets_no_spelling_that_reveals_a_value(text: str) -> None:
    engine = ScanEngine([EMAIL, CARD])
    assert [loc for loc in engine.scan_text(text) if loc.view in SPELLINGS] == []


def test_prose_builds_no_spelling_view() -> None:
    prose = (
        "Can you help me rewrite this paragraph so it sounds more professional? We moved the review to "
        "next week because half of the team is travelling, and 3 of us are at the office on Friday."
    )
    assert not {v.name for v in views(prose)} & SPELLINGS


def test_luhn() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112") and not luhn("41111")


class _Pattern:
    def __init__(self, name: str, entity: str, pattern: str) -> None:
        self.name, self._entity, self._re = name, entity, re.compile(pattern)

    def detect(self, text: str) -> list[Hit]:
        return [Hit("pii", self._entity, m.start(), m.end(), 1.0, self.name) for m in self._re.finditer(text)]


class _Card(_Pattern):
    def detect(self, text: str) -> list[Hit]:
        return [h for h in super().detect(text) if luhn(re.sub(r"\D", "", text[h.start : h.end]))]


EMAIL = _Pattern(
    "email", "EMAIL_ADDRESS", r"\b[a-z0-9._]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|de|io)\b"
)
CARD = _Card("card", "CREDIT_CARD", r"(?<!\d)4\d{15}(?!\d)|(?<![\d-])4\d{3}(?:-\d{4}){3}(?![\d-])")

_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _card_number(body: str) -> str:
    digits = "4" + body
    check = next(str(d) for d in range(10) if luhn(digits + str(d)))
    return digits + check


def _entities(value: str) -> str:
    return "".join(f"&#{ord(c)};" for c in value)


EMAIL_FORMS: dict[str, Callable[[str], str]] = {
    "entities": _entities,
    "atdot": lambda v: v.replace("@", " (at) ").replace(".", " (dot) "),
    "leet": lambda v: v.replace("o", "0").replace("e", "3"),
    "spaced": lambda v: " ".join(v),
    "rot13": lambda v: codecs.encode(v, "rot13"),
    "reversed": lambda v: v[::-1],
}
CARD_FORMS: dict[str, Callable[[str], str]] = {
    "entities": _entities,
    "numwords": lambda v: " ".join(_DIGIT_WORDS[int(c)] for c in v),
    "glued": lambda v: f"acct_{v}_end",
    "spaced": lambda v: " ".join(v),
    "reversed": lambda v: "-".join(v[::-1][i : i + 4] for i in range(0, 16, 4)),
}
_FILLER = st.lists(
    st.sampled_from(["the", "report", "is", "due", "on", "Friday", "please", "check", "it", "30"])
)


@settings(max_examples=60, deadline=None)
@given(
    user=st.from_regex(r"[a-z]{3,8}(\.[a-z]{2,8})?", fullmatch=True),
    domain=st.from_regex(r"[a-z]{3,10}", fullmatch=True),
    tld=st.sampled_from(["com", "org", "net", "de"]),
    form=st.sampled_from(sorted(EMAIL_FORMS)),
    before=_FILLER,
    after=_FILLER,
)
def test_a_planted_email_is_found_in_every_spelling(
    user: str, domain: str, tld: str, form: str, before: list[str], after: list[str]
) -> None:
    value = f"{user}@{domain}.{tld}"
    shown = EMAIL_FORMS[form](value)
    text = " ".join([*before, shown, ".", *after])
    at = text.index(shown)
    found = [loc for loc in ScanEngine([EMAIL]).scan_text(text) if loc.hit.entity == "EMAIL_ADDRESS"]
    assert any(loc.hit.start <= at and at + len(shown) <= loc.hit.end + 1 for loc in found), (text, found)


@settings(max_examples=60, deadline=None)
@given(
    body=st.from_regex(r"[0-9]{14}", fullmatch=True),
    form=st.sampled_from(sorted(CARD_FORMS)),
    before=_FILLER,
    after=_FILLER,
)
def test_a_planted_card_number_is_found_in_every_spelling(
    body: str, form: str, before: list[str], after: list[str]
) -> None:
    shown = CARD_FORMS[form](_card_number(body))
    text = " ".join([*before, shown, ".", *after])
    at = text.index(shown)
    found = [loc for loc in ScanEngine([CARD]).scan_text(text) if loc.hit.entity == "CREDIT_CARD"]
    inner = shown.removeprefix("acct_").removesuffix("_end")
    start = at + shown.index(inner)
    assert any(loc.hit.start <= start and start + len(inner) <= loc.hit.end for loc in found), (text, found)
