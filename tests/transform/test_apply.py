"""apply_values and Replacer on literal bodies: the values are gone, the shape is kept."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from gateway.policy.schema import Action
from gateway.scan.findings import Finding
from gateway.scan.segments import Extracted, Path, Segment
from gateway.transform.apply import Replacer, apply_values, label
from gateway.transform.tokens import Pseudonymizer

SECRET = b"server-secret-0123456789abcdef"
EMAIL_A = "alice@example.com"
EMAIL_B = "bob@example.org"
PHONE = "+1 415 555 0134"


def segment(path: Path, text: str, *, is_key: bool = False) -> Segment:
    return Segment(path, text, "user", 0, is_key)


def extracted(*segments: Segment) -> Extracted:
    return Extracted(segments, ())


def find(seg: int, text: str, value: str, entity: str = "EMAIL_ADDRESS", occurrence: int = 0) -> Finding:
    """The finding for the ``occurrence``-th ``value`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(value, start + 1)
    return Finding("pii", entity, seg, start, start + len(value), 0.9, "test")


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


CONTENT: Path = ("messages", 0, "content")


def run(
    body: dict[str, Any],
    segs: tuple[Segment, ...],
    findings: list[Finding],
    values: dict[int, Action],
    *,
    secret: bytes = SECRET,
    conversation: str = "conv-1",
) -> int:
    return apply_values(body, extracted(*segs), findings, values, replacer(secret, conversation))


def replacer(secret: bytes, conversation: str) -> Replacer:
    return Replacer(secret, Pseudonymizer(secret, conversation))


def rewrite(text: str, value: str, action: Action, **kwargs: Any) -> str:
    body = chat(text)
    run(body, (segment(CONTENT, text),), [find(0, text, value)], {0: action}, **kwargs)
    out = body["messages"][0]["content"]
    assert isinstance(out, str)
    assert value not in json.dumps(body)
    return out


# --- the replacements ---------------------------------------------------------------------------


def test_redact() -> None:
    text = f"Write to {EMAIL_A} today."
    assert rewrite(text, EMAIL_A, "redact") == "Write to [EMAIL_ADDRESS] today."


def test_hash_is_a_keyed_stable_digest() -> None:
    text = f"Write to {EMAIL_A} today."
    first = rewrite(text, EMAIL_A, "hash")
    assert re.fullmatch(r"Write to \[EMAIL_ADDRESS:[0-9a-f]{12}\] today\.", first)
    assert rewrite(text, EMAIL_A, "hash") == first
    assert rewrite(text, EMAIL_A, "hash", conversation="another") == first  # not per conversation
    assert rewrite(text, EMAIL_A, "hash", secret=b"another secret") != first
    assert rewrite(f"Write to {EMAIL_B} today.", EMAIL_B, "hash") != first


def test_pseudonymize_is_stable_within_a_conversation() -> None:
    text = f"Write to {EMAIL_A} today."
    first = rewrite(text, EMAIL_A, "pseudonymize")
    assert re.fullmatch(r"Write to <EMAIL_ADDRESS_[0-9a-f]{8}> today\.", first)
    assert rewrite(text, EMAIL_A, "pseudonymize") == first
    assert rewrite(text, EMAIL_A, "pseudonymize", conversation="conv-2") != first
    assert rewrite(text, EMAIL_A, "pseudonymize", secret=b"another secret") != first
    assert rewrite(f"Write to {EMAIL_B} today.", EMAIL_B, "pseudonymize") != first


def test_replacer_directly() -> None:
    replace = replacer(SECRET, "conv-1")
    assert replace("redact", "TERM:codenames", "Nightingale") == "[TERM]"
    hashed = replace("hash", "TERM:codenames", "Nightingale")
    assert re.fullmatch(r"\[TERM:[0-9a-f]{12}\]", hashed)
    pseudonym = replace("pseudonymize", "TERM:codenames", "Nightingale")
    assert re.fullmatch(r"<TERM_[0-9a-f]{8}>", pseudonym)
    assert hashed[6:14] != pseudonym[6:14]  # different purposes, different digests
    assert replace("hash", "EMAIL_ADDRESS", EMAIL_A) == replacer(SECRET, "other")(
        "hash", "EMAIL_ADDRESS", EMAIL_A
    )
    # A lone surrogate (from a JSON \ud800 escape) does not crash the digest.
    assert re.fullmatch(r"\[X:[0-9a-f]{12}\]", replace("hash", "X", "\ud800"))


@pytest.mark.parametrize("action", ["allow", "block", "route_local"])
def test_replacer_refuses_request_actions(action: Action) -> None:
    with pytest.raises(ValueError, match="not a value action"):
        replacer(SECRET, "c")(action, "EMAIL_ADDRESS", EMAIL_A)


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("TERM:codenames", "TERM"),
        ("FINGERPRINT:merger-plan:v2", "FINGERPRINT"),
        ("EMAIL_ADDRESS", "EMAIL_ADDRESS"),
        ("", ""),
    ],
)
def test_label(entity: str, expected: str) -> None:
    assert label(entity) == expected


# --- spans --------------------------------------------------------------------------------------


def test_several_spans_in_one_segment_right_to_left() -> None:
    text = f"cc {EMAIL_A} and {EMAIL_B}, or call {PHONE}."
    body = chat(text)
    findings = [find(0, text, EMAIL_A), find(0, text, PHONE, "PHONE_NUMBER"), find(0, text, EMAIL_B)]
    count = run(body, (segment(CONTENT, text),), findings, {1: "redact", 0: "redact", 2: "hash"})
    assert count == 3
    out = body["messages"][0]["content"]
    assert re.fullmatch(
        r"cc \[EMAIL_ADDRESS\] and \[EMAIL_ADDRESS:[0-9a-f]{12}\], or call \[PHONE_NUMBER\]\.", out
    )
    dumped = json.dumps(body)
    for value in (EMAIL_A, EMAIL_B, PHONE):
        assert value not in dumped


def test_the_same_value_twice_in_one_segment() -> None:
    text = f"{EMAIL_A}, I said {EMAIL_A}"
    body = chat(text)
    findings = [find(0, text, EMAIL_A), find(0, text, EMAIL_A, occurrence=1)]
    assert run(body, (segment(CONTENT, text),), findings, {0: "pseudonymize", 1: "pseudonymize"}) == 2
    out = body["messages"][0]["content"]
    match = re.fullmatch(r"(<EMAIL_ADDRESS_[0-9a-f]{8}>), I said (<EMAIL_ADDRESS_[0-9a-f]{8}>)", out)
    assert match is not None
    assert match.group(1) == match.group(2)


def test_only_findings_in_values_are_changed() -> None:
    text = f"{EMAIL_A} and {EMAIL_B}"
    body = chat(text)
    findings = [find(0, text, EMAIL_A), find(0, text, EMAIL_B)]
    assert run(body, (segment(CONTENT, text),), findings, {1: "redact"}) == 1
    assert body["messages"][0]["content"] == f"{EMAIL_A} and [EMAIL_ADDRESS]"


def test_no_values_changes_nothing() -> None:
    body = chat(EMAIL_A)
    assert run(body, (segment(CONTENT, EMAIL_A),), [find(0, EMAIL_A, EMAIL_A)], {}) == 0
    assert body == chat(EMAIL_A)


def test_overlapping_spans_merge_with_the_most_restrictive_action() -> None:
    text = "Contact Alice Smith <alice.smith@example.com> please"
    name = Finding("pii", "PERSON", 0, 8, 19, 0.8, "ner")  # "Alice Smith"
    mail = Finding("pii", "EMAIL_ADDRESS", 0, 21, 44, 0.9, "re")
    inner = Finding("pii", "PERSON", 0, 21, 32, 0.6, "ner")  # "alice.smith" inside the address
    body = chat(text)
    count = run(
        body, (segment(CONTENT, text),), [name, mail, inner], {0: "pseudonymize", 1: "hash", 2: "redact"}
    )
    assert count == 2
    out = body["messages"][0]["content"]
    # The address and the name inside it become one replacement: redact wins, the wider entity names it.
    assert re.fullmatch(r"Contact <PERSON_[0-9a-f]{8}> <\[EMAIL_ADDRESS\]> please", out)
    assert "alice" not in json.dumps(body).lower()


def test_partly_overlapping_spans_cover_their_union() -> None:
    text = "xx ABCDEFGHIJ yy"
    first = Finding("secret", "TOKEN", 0, 3, 9, 0.9, "a")  # ABCDEF
    second = Finding("pii", "PHONE_NUMBER", 0, 6, 13, 0.9, "b")  # DEFGHIJ (wider)
    body = chat(text)
    assert run(body, (segment(CONTENT, text),), [first, second], {0: "redact", 1: "pseudonymize"}) == 1
    assert body["messages"][0]["content"] == "xx [PHONE_NUMBER] yy"


def test_adjacent_spans_are_replaced_separately() -> None:
    text = "ABCDEF"
    left = Finding("pii", "LEFT", 0, 0, 3, 0.9, "a")
    right = Finding("pii", "RIGHT", 0, 3, 6, 0.9, "b")
    body = chat(text)
    assert run(body, (segment(CONTENT, text),), [left, right], {0: "redact", 1: "redact"}) == 2
    assert body["messages"][0]["content"] == "[LEFT][RIGHT]"


def test_segments_in_lists_and_several_messages() -> None:
    first = f"hi, I am {EMAIL_A}"
    second = f"my phone is {PHONE}"
    body: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": first}, {"type": "text", "text": second}]},
        ]
    }
    segs = (
        segment(("messages", 0, "content"), "be brief"),
        segment(("messages", 1, "content", 0, "text"), first),
        segment(("messages", 1, "content", 1, "text"), second),
    )
    findings = [find(1, first, EMAIL_A), find(2, second, PHONE, "PHONE_NUMBER")]
    assert run(body, segs, findings, {0: "redact", 1: "redact"}) == 2
    assert body["messages"][0]["content"] == "be brief"
    assert body["messages"][1]["content"][0] == {"type": "text", "text": "hi, I am [EMAIL_ADDRESS]"}
    assert body["messages"][1]["content"][1] == {"type": "text", "text": "my phone is [PHONE_NUMBER]"}


# --- keys and numbers ---------------------------------------------------------------------------


def test_a_key_is_renamed_in_place() -> None:
    body: dict[str, Any] = {"metadata": {"first": 1, EMAIL_A: {"nested": True}, "last": 3}}
    segs = (segment(("metadata", EMAIL_A), EMAIL_A, is_key=True),)
    assert run(body, segs, [find(0, EMAIL_A, EMAIL_A)], {0: "redact"}) == 1
    assert list(body["metadata"]) == ["first", "[EMAIL_ADDRESS]", "last"]
    assert body["metadata"]["[EMAIL_ADDRESS]"] == {"nested": True}
    assert EMAIL_A not in json.dumps(body)


def test_two_keys_that_redact_alike_do_not_overwrite_each_other() -> None:
    body: dict[str, Any] = {"metadata": {EMAIL_A: "a", "middle": "m", EMAIL_B: "b"}}
    segs = (
        segment(("metadata", EMAIL_A), EMAIL_A, is_key=True),
        segment(("metadata", EMAIL_B), EMAIL_B, is_key=True),
    )
    findings = [find(0, EMAIL_A, EMAIL_A), find(1, EMAIL_B, EMAIL_B)]
    assert run(body, segs, findings, {0: "redact", 1: "redact"}) == 2
    assert body["metadata"] == {"[EMAIL_ADDRESS]": "a", "middle": "m", "[EMAIL_ADDRESS]#2": "b"}
    assert list(body["metadata"]) == ["[EMAIL_ADDRESS]", "middle", "[EMAIL_ADDRESS]#2"]


def test_a_renamed_key_does_not_overwrite_an_existing_key() -> None:
    body: dict[str, Any] = {"metadata": {"[EMAIL_ADDRESS]": "already", EMAIL_A: "a"}}
    segs = (segment(("metadata", EMAIL_A), EMAIL_A, is_key=True),)
    run(body, segs, [find(0, EMAIL_A, EMAIL_A)], {0: "redact"})
    assert body["metadata"] == {"[EMAIL_ADDRESS]": "already", "[EMAIL_ADDRESS]#2": "a"}


def test_key_and_values_under_it_are_all_changed() -> None:
    value = f"call {PHONE}"
    inner = f"cc {EMAIL_B}"
    body: dict[str, Any] = {"metadata": {EMAIL_A: {EMAIL_B: inner, "phone": value}}}
    segs = (
        segment(("metadata", EMAIL_A), EMAIL_A, is_key=True),
        segment(("metadata", EMAIL_A, EMAIL_B), EMAIL_B, is_key=True),
        segment(("metadata", EMAIL_A, EMAIL_B), inner),
        segment(("metadata", EMAIL_A, "phone"), value),
    )
    findings = [
        find(0, EMAIL_A, EMAIL_A),
        find(1, EMAIL_B, EMAIL_B),
        find(2, inner, EMAIL_B),
        find(3, value, PHONE, "PHONE_NUMBER"),
    ]
    assert run(body, segs, findings, {0: "redact", 1: "hash", 2: "redact", 3: "redact"}) == 4
    (outer_key,) = body["metadata"]
    assert outer_key == "[EMAIL_ADDRESS]"
    inner_dict = body["metadata"][outer_key]
    assert list(inner_dict) == [next(iter(inner_dict)), "phone"]
    assert re.fullmatch(r"\[EMAIL_ADDRESS:[0-9a-f]{12}\]", next(iter(inner_dict)))
    assert list(inner_dict.values()) == ["cc [EMAIL_ADDRESS]", "call [PHONE_NUMBER]"]
    dumped = json.dumps(body)
    for original in (EMAIL_A, EMAIL_B, PHONE):
        assert original not in dumped


def test_a_key_segment_must_name_an_object_key() -> None:
    body: dict[str, Any] = {"items": [EMAIL_A]}
    segs = (segment(("items", 0), EMAIL_A, is_key=True),)
    with pytest.raises(ValueError, match="key segment"):
        run(body, segs, [find(0, EMAIL_A, EMAIL_A)], {0: "redact"})


def test_a_number_becomes_a_string() -> None:
    card = 4111111111111111
    body: dict[str, Any] = {"model": "m", "metadata": {"card": card, "count": 2}}
    segs = (segment(("metadata", "card"), str(card)),)
    finding = Finding("pii", "CREDIT_CARD", 0, 0, 16, 0.9, "cards")
    assert run(body, segs, [finding], {0: "redact"}) == 1
    assert body["metadata"] == {"card": "[CREDIT_CARD]", "count": 2}
    assert str(card) not in json.dumps(body)


def test_part_of_a_number_is_replaced_in_its_decimal_text() -> None:
    number = 4155550134999
    body: dict[str, Any] = {"metadata": {"n": number}}
    finding = Finding("pii", "PHONE_NUMBER", 0, 0, 10, 0.9, "phones")
    run(body, (segment(("metadata", "n"), str(number)),), [finding], {0: "redact"})
    assert body["metadata"]["n"] == "[PHONE_NUMBER]999"


# --- refusals -----------------------------------------------------------------------------------


def test_whole_request_finding_raises() -> None:
    body = chat(EMAIL_A)
    whole = Finding("unscannable", "IMAGE", -1, 0, 0, 1.0, "extract")
    with pytest.raises(ValueError, match="whole-request finding"):
        run(body, (segment(CONTENT, EMAIL_A),), [whole], {0: "redact"})
    assert body == chat(EMAIL_A)


def test_empty_span_raises() -> None:
    body = chat(EMAIL_A)
    empty = Finding("pii", "EMAIL_ADDRESS", 0, 3, 3, 0.9, "x")
    with pytest.raises(ValueError):
        run(body, (segment(CONTENT, EMAIL_A),), [empty], {0: "redact"})
