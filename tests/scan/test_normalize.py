"""Normalised views: what each one reveals, and that every span maps back to the original."""

from __future__ import annotations

import base64
import itertools
import random
import time
import unicodedata
import urllib.parse

import pytest

from gateway.scan.confusables import SKELETON
from gateway.scan.normalize import NormalizationLimit, View, views

B64_SSN = base64.b64encode(b"my ssn is 123-45-6789").decode()
B64_B64_SSN = base64.b64encode(B64_SSN.encode()).decode()
HEX_EMAIL = b"john@example.com".hex()
SPELLINGS = ("entities", "atdot", "numwords", "glued", "leet", "spaced", "rot13", "reversed")


def view(text: str, name: str) -> View:
    found = {v.name: v for v in views(text)}
    assert name in found, f"no {name!r} view; got {sorted(found)}"
    return found[name]


def check_map(original: str, v: View) -> None:
    """Spans in bounds, non-empty per character, monotone; a range's span is the hull of its
    characters' spans; and each character's span alone yields that character again."""
    n = len(v.text)
    covers = [v.to_original(i, i + 1) for i in range(n)]
    for s, e in covers:
        assert 0 <= s < e <= len(original)
    for (s0, e0), (s1, e1) in itertools.pairwise(covers):
        assert s0 <= s1 and e0 <= e1
    rng = random.Random(n)
    pairs = [(0, n), (n, n), (0, 0), *((rng.randrange(n + 1), rng.randrange(n + 1)) for _ in range(50))]
    for a, b in pairs:
        a, b = min(a, b), max(a, b)
        s, e = v.to_original(a, b)
        assert 0 <= s <= e <= len(original)
        if a < b:  # covers every character's source, and nothing beyond the first and last
            assert (s, e) == (min(c[0] for c in covers[a:b]), max(c[1] for c in covers[a:b]))
        else:  # an empty span sits where the next character came from, or after the last one
            assert s == e == (covers[a][0] if a < n else covers[-1][1] if n else 0)
    # Not for json and percent, whose covers (an escape, a %xx) are no JSON or token alone, nor for the
    # spellings, which read a character out of its context (" at " is "@" only inside an address).
    if v.name not in ("json", "percent", *SPELLINGS):
        for i, (s, e) in enumerate(covers):  # the cover alone must produce the character: not too narrow
            assert any(v.text[i] in w.text for w in views(original[s:e])), (v.name, i, original[s:e])
    with pytest.raises(ValueError):
        v.to_original(0, n + 1)
    with pytest.raises(ValueError):
        v.to_original(1, 0)


def check_found(original: str, name: str, in_view: str, in_original: str, *, exact: bool = True) -> View:
    """``in_view`` appears in the view and maps back onto a span containing ``in_original``."""
    v = view(original, name)
    i = v.text.index(in_view)
    s, e = v.to_original(i, i + len(in_view))
    o = original.index(in_original)
    assert s <= o and o + len(in_original) <= e, (original[s:e], in_original)
    if exact:
        assert (s, e) == (o, o + len(in_original))
    check_map(original, v)
    return v


CASES = [
    "write to jo\u200bhn@exa\u200cmple\u2060.com\ufeff today",
    "SSN \uff11\uff12\uff13-\uff14\uff15-\uff16\uff17\uff18\uff19, "
    "card \uff14\uff11\uff11\uff11 1111 1111 1111",
    "log in at \u0440\u0430\u0443\u0440\u0430l.com as j.doe@\u0435x\u0430mple.\u0441om",
    "cards 4111 1111 1111 1111 and 4111-1111-1111-1111",
    "IBAN DE89 3704 0044 0532 0130 00; GB82 WEST 1234 5698 7654 32",
    f"payload {B64_SSN} end",
    f"key=0x{HEX_EMAIL};",
    "GET /find?who=john%40example.com&x=%E2%82%AC HTTP/1.1",
    '{"user": {"email": "john\\u0040example.com", "tags": ["a\\tb"]}, "n": 3}',
    f"twice: {B64_B64_SSN}",
    '"{\\"ssn\\": \\"123-45-6789\\", \\"mail\\": \\"a\\\\u0040b.com\\"}"',
    "Ze\u0301 o\u0337k \ufb01le \u2460 \u1100\u1161\u11a8 \U0001d41a\U0001d41b \u00bd x\u0308\u0308",
    "\u200b\u200b leading invisibles, trailing\u200d\u200d",
    "Mostly plain ASCII words around one homoglyph in p\u0430ypal.com and one struck o\u0337 in a long line",
    "",
]


def test_zero_width_characters_inside_an_email() -> None:
    text = CASES[0]
    check_found(text, "clean", "john@example.com", "jo\u200bhn@exa\u200cmple\u2060.com\ufeff")
    assert view(text, "clean").text == "write to john@example.com today"


def test_full_width_digits_in_ssn_and_card() -> None:
    text = CASES[1]
    check_found(text, "nfkc", "123-45-6789", "\uff11\uff12\uff13-\uff14\uff15-\uff16\uff17\uff18\uff19")
    card = "\uff14\uff11\uff11\uff11 1111 1111 1111"
    check_found(text, "digits", "4111111111111111", card)


def test_cyrillic_homoglyphs() -> None:
    text = CASES[2]
    check_found(text, "skeleton", "paypal.com", "\u0440\u0430\u0443\u0440\u0430l.com")
    check_found(text, "skeleton", "j.doe@example.com", "j.doe@\u0435x\u0430mple.\u0441om")


def test_card_separators() -> None:
    text = CASES[3]
    v = check_found(text, "digits", "4111111111111111", "4111 1111 1111 1111")
    assert v.text == "cards 4111111111111111 and 4111111111111111"
    i = v.text.rindex("4111111111111111")
    assert text[slice(*v.to_original(i, i + 16))] == "4111-1111-1111-1111"


def test_iban_with_spaces_keeps_prose_apart() -> None:
    text = CASES[4]
    check_found(text, "digits", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00")
    v = check_found(text, "digits", "GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32")
    assert v.text.startswith("IBAN DE89")  # the label is not glued to the number
    assert [v.name for v in views("I have 2 apples and 3 pears, hello world")] == ["raw"]


def test_base64() -> None:
    text = CASES[5]
    v = check_found(text, "base64", "123-45-6789", B64_SSN, exact=False)
    assert v.text == "payload my ssn is 123-45-6789 end"
    i = v.text.index("123")
    assert v.to_original(i, i + 11) == (8, 8 + len(B64_SSN))  # the whole encoded run


def test_base64_url_safe_and_unpadded() -> None:
    encoded = base64.urlsafe_b64encode("contact: jöhn?@example.com>>".encode()).decode().rstrip("=")
    assert "-" in encoded or "_" in encoded
    check_found(f"t={encoded}", "base64", "example.com", encoded, exact=False)


def test_base64_of_repetitive_text_is_still_decoded() -> None:
    encoded = base64.b64encode(b"AAAAAAAAAAAAAAAA").decode()  # "QUFB...": all capitals
    assert view(f"x {encoded}", "base64").text == "x AAAAAAAAAAAAAAAA"


def test_nested_base64() -> None:
    v = check_found(CASES[9], "base64", "123-45-6789", B64_B64_SSN, exact=False)
    assert v.text == "twice: my ssn is 123-45-6789"


def test_hex_of_an_email() -> None:
    check_found(CASES[6], "hex", "john@example.com", "0x" + HEX_EMAIL)


def test_percent_encoded_email() -> None:
    text = CASES[7]
    v = check_found(text, "percent", "john@example.com", "john%40example.com")
    assert v.text == "GET /find?who=john@example.com&x=\u20ac HTTP/1.1"
    check_found("a=john%2540example.com", "percent", "john@example.com", "john%2540example.com", exact=False)


def test_json_unicode_escape() -> None:
    text = CASES[8]
    v = check_found(text, "json", "john@example.com", "john\\u0040example.com")
    assert v.text == "user\nemail\njohn@example.com\ntags\na\tb\nn"
    at = v.text.index("@")
    assert text[slice(*v.to_original(at, at + 1))] == "\\u0040"


def test_json_document_inside_a_json_string() -> None:
    text = CASES[10]
    v = check_found(text, "json", "123-45-6789", "123-45-6789")
    check_found(text, "json", "a@b.com", "a\\\\u0040b.com")
    assert v.text == "ssn\n123-45-6789\nmail\na@b.com"


def test_prose_has_no_other_views() -> None:
    prose = "The quick brown fox jumps over the lazy dog. Internationalization responsibilities, 100% sure!"
    assert views(prose) == [View("raw", prose)]
    assert views(prose)[0].to_original(4, 9) == (4, 9)
    plain_json = '{"name": "Ann", "tags": ["a", "b"]}'  # nothing escaped: raw already shows it all
    assert [v.name for v in views(plain_json)] == ["raw"]


def test_views_are_distinct_and_raw_comes_first() -> None:
    for text in CASES:
        got = views(text)
        assert got[0].name == "raw" and got[0].text == text
        assert len({v.text for v in got}) == len(got) == len({v.name for v in got})


def test_not_payloads() -> None:
    binary = base64.b64encode(bytes(range(200, 232))).decode()
    names = {v.name for v in views(f"blob {binary}\n{bytes(range(0, 40)).hex()}")}
    assert not names & {"base64", "hex"}
    assert [v.name for v in views("sha deadbeefdeadbeefdeadbeefdeadbeef")] == ["raw"]
    runs = " ".join(base64.b64encode(f"secret number {i:04d}".encode()).decode() for i in range(5))
    decoded = view(runs, "base64").text
    assert decoded.count("secret number") == 5
    with pytest.raises(NormalizationLimit):  # never a partly decoded text that looks scanned
        views(runs, max_decoded=2)
    with pytest.raises(NormalizationLimit):
        views(runs, max_decoded_bytes=50)


SECRET = "my card is 4111 1111 1111 1111 and key AKIAIOSFODNN7EXAMPLE"


def decoys(n: int) -> str:
    """``n`` harmless encoded runs of each kind: base64, hex and percent, in turn."""
    kinds = [
        lambda i: base64.b64encode(f"harmless note number {i:05d}".encode()).decode(),
        lambda i: f"harmless {i:05d}".encode().hex(),
        lambda i: "q=" + urllib.parse.quote(f"a b/{i}", safe=""),
    ]
    return " ".join(kind(i) for i in range(n) for kind in kinds)


@pytest.mark.parametrize("n", [8, 50])
def test_decoys_do_not_use_up_the_decode_budget(n: int) -> None:
    text = f"{decoys(n)} {base64.b64encode(SECRET.encode()).decode()} {SECRET.encode().hex()}"
    for name in ("base64", "hex"):
        assert SECRET in view(text, name).text
    percent = urllib.parse.quote(SECRET, safe="")
    assert SECRET in view(f"{decoys(n)} s={percent}", "percent").text


def test_too_many_encoded_runs_fail_closed() -> None:
    with pytest.raises(NormalizationLimit):  # 900 runs: over the 256 a text may hold
        views(f"{decoys(300)} {base64.b64encode(SECRET.encode()).decode()}")
    huge = base64.b64encode(b"x " * 700_000).decode()  # 1.4 MB decoded in one run
    with pytest.raises(NormalizationLimit):
        views(huge)


@pytest.mark.parametrize("width", [16, 64, 76])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_wrapped_base64_decodes_as_one_block(width: int, newline: str) -> None:
    message = f"{'padding, ' * 12}{SECRET}{', more padding' * 10}".encode()
    encoded = base64.b64encode(message).decode()
    lines = [encoded[i : i + width] for i in range(0, len(encoded), width)]
    assert len(lines) > 3
    block = newline.join(lines)
    text = f"-----BEGIN DATA-----{newline}{block}{newline}-----END DATA-----"
    v = view(text, "base64")
    assert message.decode() in v.text
    i = v.text.index("4111 1111 1111 1111")
    assert v.to_original(i, i + 1) == (text.index(block), text.index(block) + len(block))
    check_map(text, v) if width == 76 else None


def test_unwrapped_lines_still_decode_one_by_one() -> None:
    first = base64.b64encode(b"first line of text here!").decode()  # 32 characters
    second = base64.b64encode(b"\xff\xfe binary, not text at all").decode()
    ragged = f"{first}\n{base64.b64encode(b'ssn 123-45-6789').decode()}x\n{first}"
    assert "first line of text here!" in view(f"{first}\n{second}", "base64").text
    assert view(ragged, "base64").text.count("first line of text here!") == 2


STACKED = [
    "a" + "\u0301" * 50_000 + "\u0316" * 50_000,  # 200 KB: one base, two combining classes
    ("\u0316\u0301") * 50_000,  # marks with no base at all
    ("a" + "\u0301" * 500 + "\u0316" * 500) * 100,  # bases between long runs
    ("\u0301" * 31 + "\u0316" + "\uff9e") * 3_000,  # half-width voicing marks continue a run
    "\u1100" + "\u1161" * 70_000,  # Hangul jamo: one cluster to NFKC
    "\u1100" + "\u1161\u0301" * 35_000,
]


@pytest.mark.parametrize(
    "text", STACKED, ids=["stacked", "no-base", "alternating", "kana", "jamo", "jamo-marks"]
)
def test_stacked_combining_marks_take_linear_time(text: str) -> None:
    start = time.perf_counter()
    got = views(text)
    assert time.perf_counter() - start < 2.0  # quadratic NFKC took ~25 s on the first
    assert all(len(v.text) <= len(text) for v in got)
    small = text[: 1 + len(text) // 100]
    for v in views(small):
        check_map(small, v)


def test_marks_past_the_cap_are_swallowed_by_the_last_kept_one() -> None:
    text = "x" + "\u0301" * 40 + " y"
    clean = view(text, "clean")
    assert clean.text == "x" + "\u0301" * 32 + " y"
    assert clean.to_original(32, 33) == (32, 41)  # the 32nd mark and the 8 deleted after it
    assert clean.to_original(0, 33) == (0, 41)
    assert view(text, "skeleton").text == "x y"
    short = "x" + "\u0301" * 32
    assert [v.name for v in views(short)] == ["raw", "skeleton"]  # nothing cut: no clean view


def test_sparse_and_dense_non_ascii_fold_alike() -> None:
    sparse = CASES[13]  # few non-ASCII characters: only their runs are translated
    check_found(sparse, "skeleton", "paypal.com", "p\u0430ypal.com")
    check_found(sparse, "skeleton", "struck o in", "struck o\u0337 in")
    dense = "\u0440\u0430\u0443\u0440\u0430l o\u0337"
    assert view(dense, "skeleton").text == "paypal o"


def test_accents_marks_and_other_digits_fold_in_the_skeleton() -> None:
    check_found(
        "J\u0337o\u0337h\u0337n\u0337 M\u00fcller",
        "skeleton",
        "John Muller",
        "J\u0337o\u0337h\u0337n\u0337 M\u00fcller",
    )
    arabic = "\u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661"
    check_found(f"card {arabic}", "digits", "41111111", arabic)


def test_skeleton_table_never_touches_ascii() -> None:
    for code, target in SKELETON.items():
        assert code > 0x7F and len(target) == 1 and target.isascii()


def test_every_format_character_is_cleaned_and_every_digit_folds() -> None:
    everything = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    invisible = "".join(
        c for c in everything if unicodedata.category(c) in ("Cf", "Cc") and c not in "\t\n\r"
    )
    assert views(f"a{invisible}b")[1].text == "ab"
    digits = [c for c in everything if unicodedata.category(c) == "Nd"]
    skeleton = views("".join(digits))[-1]
    assert skeleton.name == "skeleton"
    assert skeleton.text == "".join(str(unicodedata.decimal(c)) for c in digits)


def test_maps_compose_through_deletions_and_clusters() -> None:
    text = "e\u200b\u0301 \uff11\u200b\uff12 o\u0337k"  # ZWSP inside a cluster, between digits; zalgo
    nfkc = view(text, "nfkc")
    assert nfkc.text == "\u00e9 12 o\u0337k"
    assert nfkc.to_original(0, 1) == (0, 3)  # é: e, the ZWSP swallowed by it, the accent
    assert [nfkc.to_original(i, i + 1) for i in (2, 3)] == [(4, 6), (6, 7)]
    skeleton = view(text, "skeleton")
    assert skeleton.text == "e 12 ok"
    assert skeleton.to_original(5, 6) == (8, 10)  # o and the stroke over it
    assert view("x\u200b y", "clean").to_original(0, 1) == (0, 2)  # a lone character swallows it too
    plain = '{"a": "b\\n"}'
    json_view = view(plain, "json")
    assert json_view.text == "a\nb\n"
    assert json_view.to_original(1, 2) == (3, 7)  # the newline between values: '": "'


@pytest.mark.parametrize("text", CASES)
def test_every_view_maps_back(text: str) -> None:
    for v in views(text):
        check_map(text, v)


def test_random_texts_map_back() -> None:
    """Property test with a seeded generator (hypothesis is not a dependency of this project)."""
    pieces = [
        "a", "Z", "7", " ", "-", ".", "\n", "\u200b", "\u00ad", "\u202e", "\U000e0041", "\ufe0f",
        "\uff15", "\u0430", "\u0301", "\u0337", "\u00e9", "\ufb01", "\u2460", "\u1100\u1161", "\u11a8",
        "\u00a0", "\u2009", "\u2013", "\u0663", "\U0001d41a", "\u4e2d", "\U0001f600", "\u200d",
        "%40", "%E2%82%AC", "%25", B64_SSN, HEX_EMAIL, "\\u0040", '"', "{", "}", '{"k": "v\\n"}',
        '["a\\u00e9"]', "4111 1111", "GB82 WEST 12",
    ]  # fmt: skip
    rng = random.Random(20240611)
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        for v in views(text):
            check_map(text, v)


def _check_changed(original: str, v: View) -> None:
    """Between the changes the view is a verbatim copy of one stretch of the original."""
    changed = v.changed(original)
    assert changed == sorted(changed)
    cuts = sorted({0, len(v.text), *(p for span in changed for p in span)})
    marked = {i for start, end in changed for i in range(start, end)}
    for a, b in itertools.pairwise(cuts):
        if a == b or a in marked:
            continue
        o = v.to_original(a, a + 1)[0]
        assert v.text[a:b] == original[o : o + b - a], (v.name, a, b)


def test_changed_marks_replacements_removals_and_decodings() -> None:
    text = "Jo\u200bhn S\u043c\u0456th 4111 1111 " + B64_SSN
    assert view(text, "raw").changed(text) == []
    clean = view(text, "clean")
    # The removed zero-width space: the "o" before it absorbs it, so the "o" is the change.
    assert [clean.text[a:b] for a, b in clean.changed(text)] == ["o"]
    skeleton = view(text, "skeleton")
    assert [skeleton.text[a:b] for a, b in skeleton.changed(text)] == ["o", "m", "i"]
    digits = view(text, "digits")
    assert (digits.text.index("41111111"), digits.text.index("41111111")) not in digits.changed(text)
    assert (digits.text.index("41111111") + 4,) * 2 in digits.changed(text)  # the removed space
    decoded = view(text, "base64")
    assert [decoded.text[a:b] for a, b in decoded.changed(text)][-1] == "my ssn is 123-45-6789"
    for v in views(text):
        _check_changed(text, v)


def test_changed_from_base_leaves_out_what_the_base_view_changed() -> None:
    text = "Jo\u200bhn S\u043c\u0456th 4111 1111 " + B64_SSN
    assert view(text, "raw").changed_from_base() == [(0, len(text))]
    skeleton, digits = view(text, "skeleton"), view(text, "digits")
    assert skeleton.base == view(text, "clean").text  # nfkc changed nothing: skeleton's base is clean
    assert [skeleton.text[a:b] for a, b in skeleton.changed_from_base()] == ["m", "i"]
    # digits differs from skeleton only where the separator went, not at the folded homoglyphs.
    assert digits.base == skeleton.text
    # (the separator after "1111" too: digits glues the next alphanumeric group on as well).
    changes = digits.changed_from_base()
    assert (digits.text.index("41111111") + 4,) * 2 in changes
    assert all(a == b > digits.text.index("41111111") for a, b in changes)


def _check_changed_from_base(text: str, vs: list[View]) -> None:
    """Each view's base is a scanned text (so its own scan covers what the view did not change),
    and between the changes from its base the view is a verbatim copy of the base."""
    scanned = {v.text for v in vs}
    for v in vs[1:]:
        assert v.base is not None and v.base in scanned, v.name
        local = View(v.name, v.text, v._local)  # the view mapped onto its base, not the original
        assert v.changed_from_base() == local.changed(v.base)
        _check_changed(v.base, local)


@pytest.mark.parametrize("text", CASES)
def test_changed_leaves_only_verbatim_copies(text: str) -> None:
    for v in views(text):
        _check_changed(text, v)
    _check_changed_from_base(text, views(text))


def test_random_texts_changed_leaves_only_verbatim_copies() -> None:
    pieces = [
        "a", "Z", "7", " ", "-", ".", "\n", "\u200b", "\u00ad", "\u0430", "\u0301", "\u00e9", "\ufb01",
        "\uff15", "\u2460", "\u0663", "%40", B64_SSN, HEX_EMAIL, "\\u0040", '{"k": "v\\n"}', "4111 1111",
    ]  # fmt: skip
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        for v in views(text):
            _check_changed(text, v)
        _check_changed_from_base(text, views(text))


def test_changes_are_split_by_what_they_can_do_to_the_words() -> None:
    # An accent off a Latin letter (precomposed, or a letter and a combining mark); a Cyrillic look-alike
    # that makes "paypal" of a word; Greek letters folded inside a Greek word, which stays Greek.
    greek_word = "\u0391\u0393\u039b\u0391\u039d\u03a4\u0396\u0399\u0391"
    text = f"Pay Jos\u00e9 Garc\u0131a and Zoe\u0308 at p\u0430ypal.com, {greek_word} office"
    skeleton = view(text, "skeleton")
    deep, accents, shallow = skeleton.split_changes()
    assert sorted(deep + accents + shallow) == skeleton.changed_from_base()
    assert [skeleton.text[a:b] for a, b in accents] == ["e", "e"]
    # The dotless i has no decomposition: it is a look-alike, not an accent; so is the Cyrillic a.
    assert [skeleton.text[a:b] for a, b in deep] == ["i", "a"]
    greek = skeleton.text.index("A")
    assert shallow and all(greek <= a < greek + 9 for a, _ in shallow)


def test_digits_view_changes_are_all_shallow() -> None:
    digits = view("card 4111 1111-1111 1111 and Jos\u00e9", "digits")
    deep, accents, shallow = digits.split_changes()
    assert (deep, accents) == ([], [])
    assert shallow == digits.changed_from_base() and len(shallow) == 3


def test_other_views_changes_are_all_deep() -> None:
    clean = view("jo\u200bhn@example.com", "clean")
    assert clean.split_changes() == (clean.changed_from_base(), [], [])


def test_look_alikes_that_are_not_letters_are_shallow() -> None:
    # Full-width digits (NFKC) and a fraction slash (skeleton) cannot make a new word.
    nfkc = view("card \uff14\uff11\uff11\uff11 1111", "nfkc")
    assert nfkc.split_changes() == ([], [], nfkc.changed_from_base())
    skeleton = view("take 1\u20442 of it", "skeleton")
    assert skeleton.split_changes() == ([], [], skeleton.changed_from_base())
    # Full-width letters make an ASCII word: deep.
    letters = view("ask \uff4a\uff4f\uff48\uff4e today", "nfkc")
    assert letters.split_changes() == (letters.changed_from_base(), [], [])


def test_marks_that_do_not_compose_are_no_accent() -> None:
    # A strikethrough on every letter reads as "john" to a model: an evasion, not a spelling.
    skeleton = view("my name is j\u0336o\u0336h\u0336n\u0336", "skeleton")
    deep, accents, shallow = skeleton.split_changes()
    assert [skeleton.text[a:b] for a, b in deep] == ["j", "o", "h", "n"]
    assert (accents, shallow) == ([], [])


def test_latin_letters_that_do_not_fold_do_not_make_a_word_foreign() -> None:
    # "æ" stays "æ" in the skeleton: the struck-through word is still a Latin one, read as deep.
    skeleton = view("We moved here from T\u0336j\u0336\u00e6\u0336r\u0336e\u0336", "skeleton")
    deep, accents, shallow = skeleton.split_changes()
    assert deep and (accents, shallow) == ([], [])
