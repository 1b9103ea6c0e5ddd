"""conversation_key: the same for every turn of one conversation, different across users and openings."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.exchange import Principal
from gateway.transform.conversation import MAX_HEADER, conversation_key

ALICE = Principal(user="alice", team="eng", role="user", key_id="key-alice")
BOB = Principal(user="bob", team="eng", role="user", key_id="key-bob")

CHAT_1 = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi, I am Ada."},
    ],
}
CHAT_3 = {
    "model": "gpt-4o-mini",
    "temperature": 0.2,
    "messages": [
        *CHAT_1["messages"],
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
        {"role": "assistant", "content": "Ada."},
        {"role": "user", "content": "Thanks."},
    ],
}
ANTHROPIC_1 = {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi, I am Ada."}]}
ANTHROPIC_3 = {
    "system": "Be brief.",
    "messages": [
        *ANTHROPIC_1["messages"],
        {"role": "assistant", "content": [{"type": "text", "text": "Hello."}]},
        {"role": "user", "content": "Again?"},
    ],
}
RESPONSES_1 = {"instructions": "Be brief.", "input": [{"role": "user", "content": "Hi, I am Ada."}]}
RESPONSES_3 = {
    "instructions": "Be brief.",
    "input": [
        *RESPONSES_1["input"],
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"role": "user", "content": "Again?"},
    ],
}

CASES = [
    pytest.param("chat.completions", CHAT_1, CHAT_3, id="chat"),
    pytest.param("messages", ANTHROPIC_1, ANTHROPIC_3, id="anthropic"),
    pytest.param("responses", RESPONSES_1, RESPONSES_3, id="responses"),
]


@pytest.mark.parametrize(("endpoint", "turn1", "turn3"), CASES)
def test_stable_as_the_conversation_grows(
    endpoint: str, turn1: dict[str, Any], turn3: dict[str, Any]
) -> None:
    key = conversation_key(ALICE, endpoint, turn1, None)
    assert len(key) == 32
    int(key, 16)
    assert conversation_key(ALICE, endpoint, turn3, None) == key


@pytest.mark.parametrize(("endpoint", "turn1", "turn3"), CASES)
def test_differs_per_principal(endpoint: str, turn1: dict[str, Any], turn3: dict[str, Any]) -> None:
    key = conversation_key(ALICE, endpoint, turn1, None)
    assert conversation_key(BOB, endpoint, turn1, None) != key
    same_user_other_key = Principal(user="alice", team="eng", role="user", key_id="key-alice-2")
    assert conversation_key(same_user_other_key, endpoint, turn1, None) != key


@pytest.mark.parametrize(("endpoint", "turn1", "turn3"), CASES)
def test_differs_per_endpoint(endpoint: str, turn1: dict[str, Any], turn3: dict[str, Any]) -> None:
    others = {"chat.completions", "messages", "responses"} - {endpoint}
    key = conversation_key(ALICE, endpoint, turn1, None)
    assert all(conversation_key(ALICE, other, turn1, None) != key for other in others)


def test_differs_per_opening() -> None:
    key = conversation_key(ALICE, "chat.completions", CHAT_1, None)
    other_user_message = {"messages": [CHAT_1["messages"][0], {"role": "user", "content": "Hi, I am Bob."}]}
    other_system = {"messages": [{"role": "system", "content": "Be long."}, CHAT_1["messages"][1]]}
    assert conversation_key(ALICE, "chat.completions", other_user_message, None) != key
    assert conversation_key(ALICE, "chat.completions", other_system, None) != key


def test_anthropic_system_and_responses_instructions_are_part_of_the_opening() -> None:
    key = conversation_key(ALICE, "messages", ANTHROPIC_1, None)
    assert conversation_key(ALICE, "messages", {**ANTHROPIC_1, "system": "Be long."}, None) != key
    rkey = conversation_key(ALICE, "responses", RESPONSES_1, None)
    assert conversation_key(ALICE, "responses", {**RESPONSES_1, "instructions": None}, None) != rkey


def test_responses_string_input() -> None:
    key = conversation_key(ALICE, "responses", {"input": "Hi"}, None)
    assert conversation_key(ALICE, "responses", {"input": "Hi", "model": "x"}, None) == key
    assert conversation_key(ALICE, "responses", {"input": "Ho"}, None) != key


def test_header_overrides_the_body() -> None:
    key = conversation_key(ALICE, "chat.completions", CHAT_1, "ticket-42")
    assert conversation_key(ALICE, "chat.completions", {"messages": []}, "ticket-42") == key
    assert conversation_key(ALICE, "messages", ANTHROPIC_1, "ticket-42") == key
    assert key != conversation_key(ALICE, "chat.completions", CHAT_1, None)
    assert conversation_key(ALICE, "chat.completions", CHAT_1, "ticket-43") != key
    assert conversation_key(BOB, "chat.completions", CHAT_1, "ticket-42") != key


def test_header_is_truncated() -> None:
    long = "x" * MAX_HEADER
    assert conversation_key(ALICE, "chat.completions", {}, long + "tail") == conversation_key(
        ALICE, "chat.completions", {}, long
    )


def test_team_and_role_are_not_part_of_the_key() -> None:
    assert conversation_key(ALICE, "chat.completions", CHAT_1, None) == conversation_key(
        Principal(user="alice", team=None, role="admin", key_id="key-alice"), "chat.completions", CHAT_1, None
    )


def test_literal_keys_are_pinned() -> None:
    # A changed derivation would orphan every stored conversation (values computed once, kept literal).
    assert conversation_key(ALICE, "chat.completions", CHAT_1, None) == "ece41fc64b57563ed29ba4e9eb9e210c"
    assert conversation_key(ALICE, "chat.completions", {}, "ticket-42") == "841894ee13ea3a16eab497e9328a5193"
