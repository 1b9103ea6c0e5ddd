"""Policy through the real server and the official SDKs: each action seen at the fake providers
(what arrived, or that nothing did) and in the audit record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from gateway.auth import create_key
from tests.e2e.conftest import LOCAL_MODEL, Fakes, Gateway, start_gateway

POLICY = """
policy: e2e
rules:
  - id: ssn-block
    when: {entities: [US_SSN]}
    action: block
    message: Social security numbers may not be sent to AI providers.
  - id: keys-local
    when: {data_classes: [credentials]}
    action: route_local
  - id: legal-local-only
    description: Team legal uses the local model only.
    when: {principal: {teams: [legal]}}
    action: route_local
  - id: email-redact
    when: {entities: [EMAIL_ADDRESS]}
    unless: {destination: {types: [local]}}
    action: redact
  - id: phone-hash
    when: {entities: [PHONE_NUMBER]}
    action: hash
  - id: person-pseudonym
    when: {entities: [PERSON], min_score: 0.6}
    action: pseudonymize
  - id: iban-would-block
    when: {entities: [IBAN_CODE]}
    action: block
    mode: shadow
"""

EMAIL, PHONE, PERSON = "jane.doe@example.com", "+1 415 555 0132", "Anna Kowalski"
KEY = "AKIAZ7QK3XW5PLM2RT4N"


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "e2e.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory, policy_file: Path) -> Iterator[Gateway]:
    db = tmp_path_factory.mktemp("gw") / "gateway.db"
    gw = start_gateway(fakes, f"sqlite:///{db}", policies=[str(policy_file)])
    yield gw
    gw.close_clients()
    gw.server.stop()
    gw.engine.dispose()


def _nothing_sent(fakes: Fakes) -> None:
    assert fakes.openai.received == [] and fakes.anthropic.received == [] and fakes.local.received == []


def test_allow_forwards_the_request_unchanged(gateway: Gateway) -> None:
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    raw = gateway.openai().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert raw.headers["x-gateway-action"] == "allow" and "x-gateway-route" not in raw.headers
    assert gateway.fakes.openai.received[0].json["messages"] == messages
    row = gateway.audit(raw.headers["x-request-id"])
    version = gateway.app.runtime.policies.current.version
    assert (row["action"], json.loads(row["rules"]), row["policy_version"]) == ("allow", [], version)
    assert raw.headers["x-gateway-policy-version"] == version


def test_redact_hash_and_pseudonymize_reach_the_provider_as_placeholders(gateway: Gateway) -> None:
    prompt = f"Write to {EMAIL} or call {PHONE} and ask for {PERSON} about the invoice."
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    sent = gateway.fakes.openai.received[0].json["messages"][0]["content"]
    for value in (EMAIL, PHONE, PERSON, "Kowalski", "555 0132"):
        assert value not in sent
    assert "[EMAIL_ADDRESS]" in sent and "[PHONE_NUMBER:" in sent and "<PERSON_" in sent
    assert sent.endswith("about the invoice.")
    row = gateway.audit(raw.headers["x-request-id"])
    assert row["action"] == "redact"
    assert set(json.loads(row["rules"])) == {"email-redact", "phone-hash", "person-pseudonym"}
    assert EMAIL not in json.dumps(row, default=str)
    # The same values in a later request get the same digest and the same pseudonym.
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    assert gateway.fakes.openai.received[1].json["messages"][0]["content"] == sent


def test_anthropic_request_is_transformed_in_its_own_format(gateway: Gateway) -> None:
    gateway.anthropic().messages.create(
        model="claude-test-1",
        max_tokens=20,
        system=f"The user is {PERSON}.",
        messages=[{"role": "user", "content": [{"type": "text", "text": f"Mail {EMAIL} please"}]}],
    )
    body = gateway.fakes.anthropic.received[0].json
    flat = json.dumps(body)
    assert EMAIL not in flat and PERSON not in flat
    assert body["messages"][0]["content"][0]["text"] == "Mail [EMAIL_ADDRESS] please"


def test_block_is_a_policy_error_in_both_formats_and_nothing_leaves(gateway: Gateway) -> None:
    prompt = "My SSN is 536-22-8726, fill in the form."
    with pytest.raises(openai.PermissionDeniedError) as info:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
        )
    err = info.value
    assert err.status_code == 403 and err.code == "blocked_by_policy"
    assert err.type == "policy_violation"  # type: ignore[attr-defined]
    request_id = err.response.headers["x-request-id"]
    assert "Social security numbers may not be sent" in err.message and request_id in err.message
    assert "536-22-8726" not in err.response.text
    with pytest.raises(anthropic.PermissionDeniedError) as ainfo:
        gateway.anthropic().messages.create(
            model="claude-test-1", max_tokens=5, messages=[{"role": "user", "content": prompt}], stream=True
        )
    assert ainfo.value.status_code == 403 and "Social security numbers" in ainfo.value.message
    _nothing_sent(gateway.fakes)
    row = gateway.audit(request_id)
    assert (row["status"], row["action"], row["error"], row["route_reason"]) == (
        403,
        "block",
        "blocked_by_policy",
        "ssn-block",
    )


def test_route_local_openai_client_stream_and_whole(gateway: Gateway) -> None:
    messages = [{"role": "user", "content": f"Why is my key {KEY} rejected?"}]
    raw = gateway.openai().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert raw.parse().choices[0].message.content == f"echo: Why is my key {KEY} rejected?"
    assert raw.headers["x-gateway-route"] == "local; reason=keys-local"
    assert raw.headers["x-gateway-destination"] == "local"
    stream = gateway.openai().chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"echo: Why is my key {KEY} rejected?"
    assert gateway.fakes.openai.received == [] and gateway.fakes.anthropic.received == []
    local = gateway.fakes.local.received
    assert len(local) == 2 and all(r.json["model"] == LOCAL_MODEL for r in local)
    row = gateway.audit(raw.headers["x-request-id"])
    assert (row["destination"], row["jurisdiction"], row["action"], row["route_reason"]) == (
        "local",
        "LOCAL",
        "route_local",
        "keys-local",
    )
    assert row["requested_model"] == "gpt-4o-mini"


def test_route_local_anthropic_client_is_translated_both_ways(gateway: Gateway) -> None:
    client = gateway.anthropic()
    message = client.messages.create(
        model="claude-test-1", max_tokens=50, messages=[{"role": "user", "content": f"key {KEY} fails"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == f"echo: key {KEY} fails"
    with client.messages.stream(
        model="claude-test-1", max_tokens=50, messages=[{"role": "user", "content": f"key {KEY} fails"}]
    ) as stream:
        assert stream.get_final_text() == f"echo: key {KEY} fails"
    assert gateway.fakes.anthropic.received == [] and gateway.fakes.openai.received == []
    local = gateway.fakes.local.received
    assert [r.path for r in local] == ["/v1/chat/completions"] * 2
    # The local model was sent an e-mail address unredacted: email-redact excludes local destinations.


def test_a_team_rule_routes_a_clean_request_local(gateway: Gateway) -> None:
    key = create_key(gateway.engine, user="lena", team="legal", role="user").key
    raw = gateway.openai(api_key=key).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise the meeting."}]
    )
    assert raw.headers["x-gateway-route"] == "local; reason=legal-local-only"
    assert gateway.fakes.openai.received == [] and len(gateway.fakes.local.received) == 1


def test_shadow_rule_changes_nothing_and_is_recorded(gateway: Gateway) -> None:
    messages = [{"role": "user", "content": "Pay to IBAN DE89 3704 0044 0532 0130 00 today."}]
    raw = gateway.openai().chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=messages)
    assert gateway.fakes.openai.received[0].json["messages"] == messages
    row = gateway.audit(raw.headers["x-request-id"])
    assert (row["action"], row["shadow_action"], json.loads(row["shadow_rules"])) == (
        "allow",
        "block",
        ["iban-would-block"],
    )


def test_route_local_without_a_local_destination_is_refused(
    fakes: Fakes, tmp_path: Path, policy_file: Path
) -> None:
    from tests.e2e.conftest import gateway_config

    destinations = gateway_config(fakes, "sqlite://")["destinations"]
    del destinations["local"]
    gw = start_gateway(
        fakes, f"sqlite:///{tmp_path / 'g.db'}", policies=[str(policy_file)], destinations=destinations
    )
    try:
        with pytest.raises(openai.InternalServerError) as info:
            gw.openai().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"key {KEY}"}], stream=True
            )
        assert info.value.status_code == 503 and info.value.code == "local_unavailable"
        _nothing_sent(fakes)
        row = gw.audit(info.value.response.headers["x-request-id"])
        assert (row["status"], row["error"], row["action"]) == (503, "local_unavailable", "route_local")
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
