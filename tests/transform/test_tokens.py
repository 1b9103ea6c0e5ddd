"""Pseudonymizer: stable tokens within a conversation, never a token the request already contains."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transform.surrogates import Surrogates
from gateway.transform.tokens import Pseudonymizer, TokenCollision

SECRET = b"token-test-secret-0123456789abcdef"
PLACEHOLDER = re.compile(r"<PERSON_[0-9a-f]{8}>")


def test_token_is_a_typed_placeholder() -> None:
    token = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace")
    assert PLACEHOLDER.fullmatch(token), token


def test_same_value_same_token_within_a_conversation() -> None:
    first = Pseudonymizer(SECRET, "conv-1")
    token = first.token("PERSON", "Ada Lovelace")
    assert first.token("PERSON", "Ada Lovelace") == token
    assert Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace") == token  # a later turn


def test_other_conversation_or_secret_other_token() -> None:
    token = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace")
    assert Pseudonymizer(SECRET, "conv-2").token("PERSON", "Ada Lovelace") != token
    assert (
        Pseudonymizer(b"another-secret-0123456789abcdef!", "conv-1").token("PERSON", "Ada Lovelace") != token
    )


def test_label_is_part_of_the_token() -> None:
    p = Pseudonymizer(SECRET, "conv-1")
    assert p.token("LOCATION", "Paris").startswith("<LOCATION_")
    assert p.token("PERSON", "Paris").startswith("<PERSON_")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30, unique=True))
def test_distinct_values_distinct_tokens_and_mapping_restores(values: list[str]) -> None:
    p = Pseudonymizer(SECRET, "conv-1")
    tokens = [p.token("PERSON", v) for v in values]
    assert len(set(tokens)) == len(values)
    assert p.mapping == dict(zip(tokens, values, strict=True))


def test_candidate_present_in_the_request_text_is_skipped() -> None:
    first = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace")
    avoid = f"the user literally typed {first} in the prompt"
    p = Pseudonymizer(SECRET, "conv-1", avoid=avoid)
    second = p.token("PERSON", "Ada Lovelace")
    assert second != first
    assert PLACEHOLDER.fullmatch(second)
    assert second not in avoid
    assert p.mapping == {second: "Ada Lovelace"}


def test_known_mapping_is_reused_even_if_the_token_is_in_the_text() -> None:
    first = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace")
    # A later turn: the history contains the token the gateway issued before, and the vault knows it.
    p = Pseudonymizer(SECRET, "conv-1", avoid=f"earlier: {first}", known={first: "Ada Lovelace"})
    assert p.token("PERSON", "Ada Lovelace") == first
    assert p.mapping == {first: "Ada Lovelace"}


def test_known_token_owned_by_another_value_is_not_reused() -> None:
    first = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace")
    p = Pseudonymizer(SECRET, "conv-1", known={first: "Grace Hopper"})
    token = p.token("PERSON", "Ada Lovelace")
    assert token != first
    assert p.mapping == {first: "Grace Hopper", token: "Ada Lovelace"}


def test_surrogate_for_person_and_placeholder_for_unsupported() -> None:
    p = Pseudonymizer(SECRET, "conv-1", surrogates=Surrogates())
    person = p.token("PERSON", "Ada Lovelace", surrogate=True)
    assert re.fullmatch(r"\S+ \S+", person), person
    assert not person.startswith("<")
    assert p.token("PERSON", "Ada Lovelace", surrogate=True) == person
    assert (
        Pseudonymizer(SECRET, "conv-1", surrogates=Surrogates()).token(
            "PERSON", "Ada Lovelace", surrogate=True
        )
        == person
    )
    key = p.token("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", surrogate=True)
    assert re.fullmatch(r"<AWS_ACCESS_KEY_ID_[0-9a-f]{8}>", key), key
    placeholder = p.token("PERSON", "Ada Lovelace")  # the same value as a placeholder is another token
    assert PLACEHOLDER.fullmatch(placeholder)
    assert p.mapping == {person: "Ada Lovelace", key: "AKIAIOSFODNN7EXAMPLE", placeholder: "Ada Lovelace"}


def test_surrogate_requested_without_generator_falls_back_to_placeholder() -> None:
    token = Pseudonymizer(SECRET, "conv-1").token("PERSON", "Ada Lovelace", surrogate=True)
    assert PLACEHOLDER.fullmatch(token)


def test_surrogate_in_the_text_is_skipped() -> None:
    surrogates = Surrogates()
    first = Pseudonymizer(SECRET, "conv-1", surrogates=surrogates).token("PERSON", "Ada", surrogate=True)
    p = Pseudonymizer(SECRET, "conv-1", avoid=f"say hi to {first}", surrogates=surrogates)
    second = p.token("PERSON", "Ada", surrogate=True)
    assert second != first
    assert second not in f"say hi to {first}"


def test_every_candidate_taken_raises() -> None:
    p = Pseudonymizer(SECRET, "conv-1")
    # Every one of the 64 candidates already stands for another value in this conversation.
    taken: dict[str, str] = {}
    probe = Pseudonymizer(SECRET, "conv-1")
    for attempt in range(64):
        seed = probe._seed("PERSON", "Ada", attempt)
        taken[f"<PERSON_{seed.hex()[:8]}>"] = f"other-{attempt}"
    blocked = Pseudonymizer(SECRET, "conv-1", known=taken)
    with pytest.raises(TokenCollision):
        blocked.token("PERSON", "Ada")
    assert p.token("PERSON", "Ada")  # an unblocked instance is fine
