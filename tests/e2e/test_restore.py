"""Pseudonyms through the real server and the official SDKs: the provider sees tokens (or realistic
surrogates), the client gets its own values back in whole and streamed answers and in tool-call
arguments; values the model adds on its own are redacted; a Responses conversation continued by
``previous_response_id`` restores earlier turns' tokens from the vault, for its owner only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest

from gateway.auth import create_key
from tests.e2e.conftest import Fakes, Gateway, start_gateway
from tests.fakes._common import Received

PERSON = "Anna Kowalski"
EMAIL = "anna.kowalski@mailbox.org"
CARD = "4111 1111 1111 1111"
PROMPT = f"Please write to {PERSON} at {EMAIL} about the charge on card {CARD}."
ECHO = "echo: " + PROMPT
VALUES = (PERSON, "Kowalski", EMAIL, CARD, "4111111111111111")

INJECTED_EMAIL = "bob.stone@corp-example.net"
INJECTED_CARD = "4012 8888 8888 1881"

EMAIL_TOKEN = re.compile(r"<EMAIL_ADDRESS_[0-9a-f]+>")
TOOLS_OPENAI: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "save_note",
            "description": "Save a note.",
            "parameters": {"type": "object", "properties": {"note": {"type": "string"}}},
        },
    }
]
TOOLS_ANTHROPIC: list[Any] = [
    {
        "name": "save_note",
        "description": "Save a note.",
        "input_schema": {"type": "object", "properties": {"note": {"type": "string"}}},
    }
]


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _flat(req: Received) -> str:
    """The request body as the provider got it, JSON escapes undone."""
    return json.dumps(req.json, ensure_ascii=False)


def _assert_pseudonymized(req: Received) -> None:
    sent = _flat(req)
    for value in VALUES:
        assert value not in sent, f"{value!r} reached the provider: {sent}"
    assert "<EMAIL_ADDRESS_" in sent and "<PERSON_" in sent, sent


def _email_token(text: str) -> str:
    found = set(EMAIL_TOKEN.findall(text))
    assert len(found) == 1, f"expected one e-mail token in {text!r}"
    return found.pop()


def _chat_text(stream: Any) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _responses_stream_text(stream: Any) -> str:
    return "".join(e.delta for e in stream if e.type == "response.output_text.delta")


@contextmanager
def _own_gateway(fakes: Fakes, tmp_path: Path, **overrides: Any) -> Iterator[Gateway]:
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'own.db'}", **overrides)
    try:
        yield gw
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


def _client_for(gateway: Gateway, user: str) -> openai.OpenAI:
    """An OpenAI client with a new key of its own.  The gateway reloads its key cache on a miss at most
    once a second, so a key made just after another one was first used can be refused for a moment."""
    client = gateway.openai(api_key=create_key(gateway.engine, user=user, team="research", role="user").key)
    deadline = time.monotonic() + 5
    while True:
        try:
            client.models.list()
            return client
        except openai.AuthenticationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _policy_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path)


# --- 1. chat completions ------------------------------------------------------------------------


def test_chat_completion_is_pseudonymized_and_restored(gateway: Gateway) -> None:
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=_user(PROMPT)
    )
    assert raw.parse().choices[0].message.content == ECHO
    _assert_pseudonymized(gateway.fakes.openai.received[-1])
    row = gateway.audit(raw.headers["x-request-id"])
    assert row["action"] == "pseudonymize" and row["pseudonyms"] >= 2
    assert EMAIL not in json.dumps(row, default=str)


def test_chat_completion_stream_is_restored(gateway: Gateway) -> None:
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=_user(PROMPT), stream=True, stream_options={"include_usage": True}
    )
    assert _chat_text(raw.parse()) == ECHO
    assert gateway.fakes.openai.received[-1].json["stream"] is True
    _assert_pseudonymized(gateway.fakes.openai.received[-1])
    assert gateway.audit(raw.headers["x-request-id"])["pseudonyms"] >= 2


# --- 2. stable tokens ---------------------------------------------------------------------------


def test_tokens_are_stable_within_a_conversation_and_differ_across_conversations_and_users(
    gateway: Gateway,
) -> None:
    client = gateway.openai()
    sent = gateway.fakes.openai.received

    client.chat.completions.create(model="gpt-4o-mini", messages=_user(PROMPT))
    turn1 = _email_token(sent[-1].json["messages"][0]["content"])

    history = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": ECHO},
        {"role": "user", "content": "Thanks. Make it shorter."},
        {"role": "assistant", "content": "echo: Thanks. Make it shorter."},
        {"role": "user", "content": f"And cc {EMAIL} again."},
    ]
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=history)
    assert answer.choices[0].message.content == f"echo: And cc {EMAIL} again."
    messages = sent[-1].json["messages"]
    assert _email_token(messages[0]["content"]) == turn1  # the resent first turn
    assert _email_token(messages[-1]["content"]) == turn1  # the value again in turn 3
    assert _email_token(messages[1]["content"]) == turn1  # the assistant turn the client resent

    client.chat.completions.create(model="gpt-4o-mini", messages=_user(f"Another chat: mail {EMAIL}."))
    other_conversation = _email_token(sent[-1].json["messages"][0]["content"])
    assert other_conversation != turn1

    _client_for(gateway, "bob").chat.completions.create(model="gpt-4o-mini", messages=_user(PROMPT))
    other_user = _email_token(sent[-1].json["messages"][0]["content"])
    assert other_user not in (turn1, other_conversation)


# --- 3. Anthropic and translated ------------------------------------------------------------------


def test_anthropic_messages_whole_and_stream_are_restored(gateway: Gateway) -> None:
    client = gateway.anthropic()
    message = client.messages.create(model="claude-sonnet-4-6", max_tokens=200, messages=_user(PROMPT))
    assert message.content[0].type == "text" and message.content[0].text == ECHO
    _assert_pseudonymized(gateway.fakes.anthropic.received[-1])
    with client.messages.stream(model="claude-sonnet-4-6", max_tokens=200, messages=_user(PROMPT)) as stream:
        assert "".join(stream.text_stream) == ECHO
    _assert_pseudonymized(gateway.fakes.anthropic.received[-1])
    assert len(gateway.fakes.anthropic.received) == 2


def test_openai_client_to_a_claude_model_stream_is_restored(gateway: Gateway) -> None:
    stream = gateway.openai().chat.completions.create(
        model="claude-sonnet-4-6", messages=_user(PROMPT), stream=True
    )
    assert _chat_text(stream) == ECHO
    assert gateway.fakes.openai.received == []
    req = gateway.fakes.anthropic.received[-1]
    assert req.path == "/v1/messages"
    _assert_pseudonymized(req)


# --- 4. Responses and the vault -------------------------------------------------------------------


def test_responses_whole_and_stream_are_restored(gateway: Gateway) -> None:
    client = gateway.openai()
    response = client.responses.create(model="gpt-4o-mini", input=PROMPT)
    assert response.output_text == ECHO
    _assert_pseudonymized(gateway.fakes.openai.received[-1])
    stream = client.responses.create(model="gpt-4o-mini", input=PROMPT, stream=True)
    assert _responses_stream_text(stream) == ECHO
    _assert_pseudonymized(gateway.fakes.openai.received[-1])


def test_previous_response_id_restores_earlier_tokens_from_the_vault(gateway: Gateway) -> None:
    client = gateway.openai()
    sent = gateway.fakes.openai.received
    first = client.responses.create(model="gpt-4o-mini", input=PROMPT)
    assert first.output_text == ECHO
    token = _email_token(_flat(sent[-1]))

    # Turn 2 has no PII; the model repeats turn 1's token, which the vault knows.
    second = client.responses.create(
        model="gpt-4o-mini", input=f"Repeat {token}", previous_response_id=first.id
    )
    assert sent[-1].json["input"] == f"Repeat {token}"
    assert sent[-1].json["previous_response_id"] == first.id
    assert second.output_text == f"echo: Repeat {EMAIL}"
    stream = client.responses.create(
        model="gpt-4o-mini", input=f"Repeat {token}", previous_response_id=second.id, stream=True
    )
    assert _responses_stream_text(stream) == f"echo: Repeat {EMAIL}"

    # Without previous_response_id the same literal is just text: nothing to restore it from.
    alone = client.responses.create(model="gpt-4o-mini", input=f"Repeat {token}")
    assert alone.output_text == f"echo: Repeat {token}"


def test_previous_response_id_of_another_user_does_not_restore_their_values(gateway: Gateway) -> None:
    sent = gateway.fakes.openai.received
    first = gateway.openai().responses.create(model="gpt-4o-mini", input=PROMPT)
    token = _email_token(_flat(sent[-1]))

    # Mallory learns (or guesses) alice's response id and the token, and asks for it back.
    mallory = _client_for(gateway, "mallory")
    try:
        again = f"Repeat {token}"
        reply = mallory.responses.create(model="gpt-4o-mini", input=again, previous_response_id=first.id)
        answer = reply.output_text
    except openai.APIStatusError as err:  # refusing the foreign conversation is also secure
        assert err.status_code in (403, 404), err
        answer = err.response.text
    assert EMAIL not in answer, (
        "SECURITY: another principal continuing alice's conversation by previous_response_id got "
        "alice's e-mail address restored from the vault (the vault link is not bound to the principal: "
        "gateway/transform/stage.py transform_request takes vault.conversation_of(previous_response_id) "
        "without checking that the conversation belongs to the caller)"
    )


# --- 5. tool-call arguments ---------------------------------------------------------------------

TOOL_TEXT = f'File this: {PERSON} wrote "reach me at {EMAIL}" about card {CARD}.'
TOOL_VALUES = (EMAIL, CARD, PERSON)


def _assert_tool_request(req: Received) -> None:
    sent = _flat(req)
    for value in TOOL_VALUES:
        assert value not in sent, f"{value!r} reached the provider: {sent}"
    assert "<EMAIL_ADDRESS_" in sent


def test_openai_tool_call_arguments_are_restored_whole_and_streamed(gateway: Gateway) -> None:
    client = gateway.openai()
    completion = client.chat.completions.create(
        model="gpt-4o-toolecho", messages=_user(TOOL_TEXT), tools=TOOLS_OPENAI
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "save_note"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"note": TOOL_TEXT}  # type: ignore[union-attr]
    _assert_tool_request(gateway.fakes.openai.received[-1])

    stream = client.chat.completions.create(
        model="gpt-4o-toolecho", messages=_user(TOOL_TEXT), tools=TOOLS_OPENAI, stream=True
    )
    arguments, pieces = "", 0
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if tc.function is not None and tc.function.arguments:
                arguments += tc.function.arguments
                pieces += 1
    assert pieces > 1
    assert json.loads(arguments) == {"note": TOOL_TEXT}
    _assert_tool_request(gateway.fakes.openai.received[-1])


def test_anthropic_tool_use_input_is_restored_whole_and_streamed(gateway: Gateway) -> None:
    client = gateway.anthropic()
    message = client.messages.create(
        model="claude-toolecho", max_tokens=200, messages=_user(TOOL_TEXT), tools=TOOLS_ANTHROPIC
    )
    block = message.content[0]
    assert block.type == "tool_use" and block.input == {"note": TOOL_TEXT}
    _assert_tool_request(gateway.fakes.anthropic.received[-1])

    with client.messages.stream(
        model="claude-toolecho", max_tokens=200, messages=_user(TOOL_TEXT), tools=TOOLS_ANTHROPIC
    ) as stream:
        partial = "".join(
            e.delta.partial_json
            for e in stream
            if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
        )
        final = stream.get_final_message()
    assert json.loads(partial) == {"note": TOOL_TEXT}
    block = final.content[0]
    assert block.type == "tool_use" and block.input == {"note": TOOL_TEXT}
    _assert_tool_request(gateway.fakes.anthropic.received[-1])


def test_responses_function_call_arguments_are_restored(gateway: Gateway) -> None:
    tools: list[Any] = [{"type": "function", **TOOLS_OPENAI[0]["function"]}]
    response = gateway.openai().responses.create(model="gpt-4o-toolecho", input=TOOL_TEXT, tools=tools)
    call = response.output[0]
    assert call.type == "function_call" and json.loads(call.arguments) == {"note": TOOL_TEXT}
    _assert_tool_request(gateway.fakes.openai.received[-1])


# --- 6. surrogates ------------------------------------------------------------------------------

SURROGATE_POLICY = """
policy: surrogates
rules:
  - id: personal-data-surrogates
    when: {data_classes: [personal_data]}
    action: pseudonymize
    pseudonym: surrogate
"""
CARD_LIKE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
EMAIL_LIKE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _assert_surrogates(text: str) -> None:
    for value in VALUES:
        assert value not in text, f"{value!r} reached the provider: {text}"
    assert "<" not in text, f"placeholder tokens instead of surrogates: {text}"
    cards = [re.sub(r"\D", "", c) for c in CARD_LIKE.findall(text)]
    assert len(cards) == 1, text
    assert len(cards[0]) == 16 and _luhn_ok(cards[0]) and cards[0] != "4111111111111111", cards
    emails = EMAIL_LIKE.findall(text)
    assert len(emails) == 1 and re.fullmatch(r".+@example\.(com|org|net)", emails[0]), emails


def test_surrogates_reach_the_provider_and_originals_come_back(fakes: Fakes, tmp_path: Path) -> None:
    policy = _policy_file(tmp_path, "surrogates", SURROGATE_POLICY)
    with _own_gateway(fakes, tmp_path, policies=[policy]) as gw:
        client = gw.openai()
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=_user(PROMPT))
        assert raw.parse().choices[0].message.content == ECHO
        first = fakes.openai.received[-1].json["messages"][0]["content"]
        _assert_surrogates(first)
        assert gw.audit(raw.headers["x-request-id"])["pseudonyms"] >= 2

        stream = client.chat.completions.create(model="gpt-4o-mini", messages=_user(PROMPT), stream=True)
        assert _chat_text(stream) == ECHO
        # Same conversation opening, same surrogates.
        assert fakes.openai.received[-1].json["messages"][0]["content"] == first

        with gw.anthropic().messages.stream(
            model="claude-sonnet-4-6", max_tokens=200, messages=_user(PROMPT)
        ) as astream:
            assert "".join(astream.text_stream) == ECHO
        _assert_surrogates(fakes.anthropic.received[-1].json["messages"][0]["content"])


# --- 7. output scanning -------------------------------------------------------------------------


def _assert_injection_redacted(text: str) -> None:
    assert text.startswith(ECHO), text  # the user's own values are restored
    assert INJECTED_EMAIL not in text and INJECTED_CARD not in text and "4012888888881881" not in text
    assert text.endswith(" Contact [EMAIL_ADDRESS] or [CREDIT_CARD]."), text


def test_values_the_model_adds_are_redacted_in_whole_and_streamed_answers(gateway: Gateway) -> None:
    client = gateway.openai()
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-inject", messages=_user(PROMPT))
    _assert_injection_redacted(raw.parse().choices[0].message.content or "")
    row = gateway.audit(raw.headers["x-request-id"])
    assert row["answer_values"] >= 2 and row["pseudonyms"] >= 2
    assert INJECTED_EMAIL not in json.dumps(row, default=str)

    raw_stream = client.chat.completions.with_raw_response.create(
        model="gpt-4o-inject", messages=_user(PROMPT), stream=True
    )
    _assert_injection_redacted(_chat_text(raw_stream.parse()))
    assert gateway.audit(raw_stream.headers["x-request-id"])["answer_values"] >= 2

    _assert_injection_redacted(client.responses.create(model="gpt-4o-inject", input=PROMPT).output_text)
    stream = client.responses.create(model="gpt-4o-inject", input=PROMPT, stream=True)
    _assert_injection_redacted(_responses_stream_text(stream))

    aclient = gateway.anthropic()
    message = aclient.messages.create(model="claude-inject", max_tokens=200, messages=_user(PROMPT))
    assert message.content[0].type == "text"
    _assert_injection_redacted(message.content[0].text)
    with aclient.messages.stream(model="claude-inject", max_tokens=200, messages=_user(PROMPT)) as astream:
        _assert_injection_redacted("".join(astream.text_stream))


# Without the default policy's answer-values-redacted rule: for one value, the most restrictive of
# the rules that speak for it wins, so an allow next to that rule would change nothing.
ANSWER_ALLOW_POLICY = """
policy: answer-allow
rules:
  - id: personal-data-pseudonymized
    when: {data_classes: [personal_data]}
    action: pseudonymize
  - id: answer-emails-allowed
    applies_to: response
    when: {entities: [EMAIL_ADDRESS]}
    action: allow
"""


def test_a_response_allow_rule_lets_the_model_s_email_through(fakes: Fakes, tmp_path: Path) -> None:
    policy = _policy_file(tmp_path, "answer-allow", ANSWER_ALLOW_POLICY)
    with _own_gateway(fakes, tmp_path, policies=[policy]) as gw:
        client = gw.openai()
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o-inject", messages=_user(PROMPT))
        text = raw.parse().choices[0].message.content or ""
        assert text == f"{ECHO} Contact {INJECTED_EMAIL} or [CREDIT_CARD].", text
        _assert_pseudonymized(fakes.openai.received[-1])
        assert gw.audit(raw.headers["x-request-id"])["answer_values"] == 1
        stream = client.chat.completions.create(model="gpt-4o-inject", messages=_user(PROMPT), stream=True)
        assert _chat_text(stream) == text


# --- 8. fail closed -----------------------------------------------------------------------------


def test_an_unavailable_vault_fails_a_responses_request_closed(fakes: Fakes, tmp_path: Path) -> None:
    with _own_gateway(fakes, tmp_path, vault={"url": "redis://127.0.0.1:1/0"}) as gw:
        client = gw.openai()
        for stream in (False, True):
            with pytest.raises(openai.InternalServerError) as info:
                client.responses.create(model="gpt-4o-mini", input=PROMPT, stream=stream)
            err = info.value
            assert err.status_code == 503 and err.code == "vault_unavailable", err
            assert EMAIL not in err.response.text
            assert fakes.openai.received == []
            row = gw.audit(err.response.headers["x-request-id"])
            assert (row["status"], row["error"]) == (503, "vault_unavailable")
        # Stateless APIs carry their history and never need the vault.
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=_user(PROMPT))
        assert answer.choices[0].message.content == ECHO
