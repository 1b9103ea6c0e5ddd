"""Every request channel, probed with planted canaries: nothing reaches an offshore provider unscanned.

A real gateway on loopback (default policy) in front of the fake providers.  Hypothesis takes a
real-shaped body of every endpoint (the extraction corpus, ``tests/scan/requests``) and plants a fresh
canary -- a Luhn-valid card number (as text or as a JSON number), an e-mail address, an IBAN or an AWS
key -- at a JSON path: replacing a string or a number, inside a string, as a map key, split across two
neighbouring strings (list items, content parts, turns), across ``stop`` items, across two turns, or in
a request header.  Whatever the gateway answers, the canary must not *arrive*: it must not appear in the
concatenation, in order, of every string and number the offshore fakes received (with and without map
keys), joined with nothing and with one space, nor in that concatenation with spaces and hyphens
removed, nor in any header they received.  (The local model may receive it: that is the policy.)
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.auth import create_key
from gateway.endpoints import ENDPOINTS
from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway

CORPUS = sorted((Path(__file__).resolve().parents[1] / "scan" / "requests").glob("*.json"))
PATHS = {e.name: e.path for e in ENDPOINTS}
# Corpus models the test gateway does not route (its globs are gpt-*, text-embedding-*, claude-*).
ROUTED = {"davinci-002": "gpt-3.5-turbo-instruct"}
HEADER_NAMES = (
    "anthropic-version", "anthropic-beta", "openai-beta", "accept", "openai-organization", "openai-project",
    "user-agent", "x-stainless-lang", "x-custom-trace", "cookie", "x-forwarded-for", "idempotency-key",
)  # fmt: skip

Path_ = tuple[str | int, ...]


# --- canaries ------------------------------------------------------------------------------------------


def _luhn_card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit goes to the right of these
        total += sum(divmod(d * 2, 10)) if i % 2 == 0 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def _iban(rng: random.Random) -> str:
    bban = "".join(str(rng.randrange(10)) for _ in range(18))
    check = 98 - int(bban + "131400") % 97  # "DE00" moved to the end, letters as numbers
    return f"DE{check:02d}{bban}"


def _canary(kind: str, rng: random.Random) -> str:
    if kind == "card":
        return _luhn_card(rng)
    if kind == "email":
        name = "".join(rng.choice(string.ascii_lowercase) for _ in range(7))
        return f"{name}.{rng.randrange(10, 99)}@example-{rng.choice(['corp', 'mail', 'post'])}.com"
    if kind == "iban":
        return _iban(rng)
    # Distinct characters: the AWS rule wants entropy >= 3.0, which ~0.02% of random keys fall below
    # (a recall limit of the detector, not a channel).
    return "AKIA" + "".join(rng.sample("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))


# --- the body's leaves -------------------------------------------------------------------------------


def _leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """(path, value) of every string and number (not bool), in document order."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    elif isinstance(node, str | int | float) and not isinstance(node, bool):
        yield path, node


def _dicts(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(node, dict):
        yield path
        for key, value in node.items():
            yield from _dicts(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _dicts(value, (*path, i))


def _get(body: Any, path: Path_) -> Any:
    for part in path:
        body = body[part]
    return body


def _set(body: Any, path: Path_, value: Any) -> None:
    _get(body, path[:-1])[path[-1]] = value


def _sequence(node: Any, keys: bool) -> list[str]:
    """Every string and number of a JSON document, in order, as text (with map keys when ``keys``)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if keys:
                out.append(key)
            out.extend(_sequence(value, keys))
    elif isinstance(node, list):
        for value in node:
            out.extend(_sequence(value, keys))
    elif isinstance(node, str):
        out.append(node)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        out.append(json.dumps(node))
    return out


def _squeeze(text: str) -> str:
    return text.replace(" ", "").replace("-", "")


def arrived(canary: str, bodies: list[Any], headers: list[dict[str, str]]) -> str | None:
    """Where the canary arrived, by the definition in the module docstring; None if nowhere."""
    for keys in (False, True):
        parts = [part for body in bodies for part in _sequence(body, keys)]
        for joined in ("".join(parts), " ".join(parts)):
            if canary in joined:
                return f"body (keys={keys})"
        if _squeeze(canary) in _squeeze("".join(parts)):
            return f"body squeezed (keys={keys})"
    for received in headers:
        for name, value in received.items():
            if canary in value or _squeeze(canary) in _squeeze(value):
                return f"header {name}"
    return None


# --- planting ----------------------------------------------------------------------------------------

MODES = ("replace", "embed", "key", "split", "split_stop", "split_turns", "header")


def plant(
    data: st.DataObject, endpoint: str, body: dict[str, Any], canary: str, kind: str
) -> tuple[dict[str, Any], dict[str, str], str]:
    mode = data.draw(st.sampled_from(MODES), label="mode")
    headers: dict[str, str] = {}
    leaves = [(p, v) for p, v in _leaves(body) if p != ("model",) or mode == "embed"]
    cut = data.draw(st.integers(1, len(canary) - 1), label="cut")
    left, right = canary[:cut], canary[cut:]
    if mode == "replace":
        path, old = data.draw(st.sampled_from(leaves), label="path")
        number = (
            kind == "card" and isinstance(old, int | float) and data.draw(st.booleans(), label="as number")
        )
        _set(body, path, int(canary) if number else canary)
    elif mode == "embed":
        strings = [(p, v) for p, v in leaves if isinstance(v, str)]
        path, old = data.draw(st.sampled_from(strings), label="path")
        at = data.draw(st.integers(0, len(old)), label="at")
        _set(body, path, f"{old[:at]} {canary} {old[at:]}")
    elif mode == "key":
        path = data.draw(st.sampled_from(list(_dicts(body))), label="dict")
        target = _get(body, path)
        if target and data.draw(st.booleans(), label="rename"):
            old_key = data.draw(st.sampled_from(sorted(target)), label="key")
            items = [(canary if k == old_key else k, v) for k, v in target.items()]
            target.clear()
            target.update(items)
        else:
            target[canary] = "x"
    elif mode == "split":
        # Two neighbours in document order: the end of one string and the start of the next.
        strings = [p for p, v in leaves if isinstance(v, str)]
        if len(strings) < 2:  # nothing to split across: add a list that has neighbours
            body["user"] = [f"x {left}", f"{right} x"]
            return body, headers, mode
        i = data.draw(st.integers(0, len(strings) - 2), label="neighbours")
        first, second = strings[i], strings[i + 1]
        _set(body, first, f"{_get(body, first)} {left}")
        _set(body, second, f"{right} {_get(body, second)}")
    elif mode == "split_stop":
        key = "stop_sequences" if endpoint.startswith("messages") else "stop"
        body[key] = [f"x {left}", right, "\n\n"]
    elif mode == "split_turns":
        _split_turns(data, endpoint, body, left, right)
    else:
        name = data.draw(st.sampled_from(HEADER_NAMES), label="header")
        headers[name] = data.draw(st.sampled_from([canary, f"prompt-caching-{canary}", f"{canary},x"]))
    return body, headers, mode


def _split_turns(data: st.DataObject, endpoint: str, body: dict[str, Any], left: str, right: str) -> None:
    first, second = f"Note this down: {left}", f"{right} is the rest of it."
    if endpoint in ("chat.completions", "messages", "messages.count_tokens"):
        between = data.draw(st.sampled_from(["none", "assistant", "tool"]), label="between")
        turns: list[dict[str, Any]] = [{"role": "user", "content": first}]
        if between == "assistant":
            turns.append({"role": "assistant", "content": "Noted."})
        elif between == "tool" and endpoint == "chat.completions":
            call = "call_Xy12Ab34Cd56Ef78Gh90Ij12"
            function = {"name": "note", "arguments": "{}"}
            turns = [
                {"role": "user", "content": first},
                {"role": "assistant", "tool_calls": [{"id": call, "type": "function", "function": function}]},
                {"role": "tool", "tool_call_id": call, "content": second},
            ]
            body["messages"] = turns
            return
        turns.append({"role": "user", "content": second})
        body["messages"] = turns
    elif endpoint == "responses":
        body["input"] = [{"role": "user", "content": first}, {"role": "user", "content": second}]
    else:
        body["prompt" if endpoint == "completions" else "input"] = [first, second]


# --- the test ----------------------------------------------------------------------------------------


def _load(path: Path) -> tuple[str, dict[str, Any]]:
    endpoint = path.name.split("--")[0]
    body = json.loads(path.read_text())
    body["model"] = ROUTED.get(body.get("model", ""), body.get("model"))
    return endpoint, body


BODIES = [_load(p) for p in CORPUS]


@settings(
    # CI runs a fixed set; CHANNELS_EXAMPLES=2000 hunts wider (random draws, a different set each run).
    max_examples=int(os.environ.get("CHANNELS_EXAMPLES", "220")),
    deadline=None,
    derandomize="CHANNELS_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_planted_canary_arrives_offshore(gateway: Gateway, fakes: Fakes, data: st.DataObject) -> None:
    endpoint, original = data.draw(st.sampled_from(BODIES), label="body")
    kind = data.draw(st.sampled_from(["card", "email", "iban", "aws"]), label="canary")
    canary = _canary(kind, random.Random(data.draw(st.integers(0, 2**32), label="seed")))
    body, headers, mode = plant(data, endpoint, copy.deepcopy(original), canary, kind)
    fakes.reset()
    with gateway.http() as http:
        response = http.post(
            PATHS[endpoint],
            content=json.dumps(body),
            headers={
                "authorization": f"Bearer {gateway.key}",
                "content-type": "application/json",
                **headers,
            },
        )
    assert response.status_code != 500, response.text
    assert canary not in response.text or response.status_code == 200  # errors never echo it
    offshore = fakes.openai.received + fakes.anthropic.received
    where = arrived(canary, [r.json for r in offshore], [r.headers for r in offshore])
    assert where is None, (
        f"{kind} canary planted by {mode} arrived offshore in the {where}: "
        f"{[r.json for r in offshore]!r:.3000}"
    )


# --- the definition of "arrives", with literal inputs ------------------------------------------------


@pytest.mark.parametrize(
    ("bodies", "headers"),
    [
        ([{"stop": ["4111 1111", "1111 1111"]}], []),
        ([{"a": 4111111111111111}], []),
        ([{"4111111111111111": 1}], []),
        ([{"messages": [{"content": "my 4111-1111-"}, {"content": "1111-1111"}]}], []),
        ([{"messages": [{"content": "x"}]}], [{"openai-beta": "v2,4111 1111 1111 1111"}]),
    ],
)
def test_arrives_finds_a_canary_however_it_was_split(
    bodies: list[Any], headers: list[dict[str, str]]
) -> None:
    assert arrived("4111111111111111", bodies, headers) is not None


def test_arrives_is_not_fooled_by_a_token() -> None:
    assert arrived("4111111111111111", [{"content": "card <CREDIT_CARD_1a2b3c4d>"}], [{}]) is None


# --- channels with fixed inputs ----------------------------------------------------------------------


TOKEN_PATHS = ("/v1/completions", "/v1/embeddings")  # not the local model's readiness probes


def _post(gateway: Gateway, path: str, body: dict[str, Any], **headers: str) -> Any:
    with gateway.http() as http:
        return http.post(
            path,
            content=json.dumps(body),
            headers={"authorization": f"Bearer {gateway.key}", "content-type": "application/json", **headers},
        )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": [40, 588, 3290]}),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": ["hi", [40, 588]]}),
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": [[40, 588], [3290]]}),
    ],
)
def test_token_ids_are_refused_by_default_and_audited(
    gateway: Gateway, path: str, body: dict[str, Any]
) -> None:
    response = _post(gateway, path, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unscannable_input"
    assert gateway.fakes.openai.received == []
    assert [r for r in gateway.fakes.local.received if r.path in TOKEN_PATHS] == []
    row = gateway.audit(response.headers["x-request-id"])
    assert (row["status"], row["error"]) == (400, "unscannable_input")
    assert set(json.loads(row["data_classes"])) == {"TOKEN_IDS"}


def test_token_ids_go_where_a_rule_allows_them_and_nowhere_else(fakes: Fakes, tmp_path: Path) -> None:
    policy = tmp_path / "tokens.yaml"
    policy.write_text(
        "policy: tokens\n"
        "rules:\n"
        "  - id: token-ids-to-openai\n"
        "    when: {data_classes: [token_ids], destination: {names: [openai]}}\n"
        "    action: allow\n"
        "  - id: secrets-local\n"
        "    when: {data_classes: [credentials]}\n"
        "    action: route_local\n"
    )
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'gw.db'}", policies=[str(policy)])
    try:
        ok = _post(gw, "/v1/embeddings", {"model": "text-embedding-3-small", "input": [40, 588]})
        assert ok.status_code == 200, ok.text
        assert fakes.openai.received[-1].json["input"] == [40, 588]
        # Allowed for openai, but this request goes local (a key in it): the local tokenizer differs.
        local = _post(
            gw,
            "/v1/completions",
            {"model": "gpt-3.5-turbo-instruct", "prompt": [40, 588], "suffix": "AKIAZ7QK3XW5PLM2RT4N"},
        )
        assert local.status_code == 400 and local.json()["error"]["code"] == "unscannable_input"
        assert [r for r in fakes.local.received if r.path in TOKEN_PATHS] == []
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


def test_account_headers_come_from_the_config_never_from_the_client(fakes: Fakes, tmp_path: Path) -> None:
    config = gateway_config(fakes, "sqlite://")
    config["destinations"]["openai"].update(organization="org-acme", project="proj_main")
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'gw.db'}", destinations=config["destinations"])
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        response = _post(
            gw,
            "/v1/chat/completions",
            body,
            **{
                "openai-organization": "org-jane-doe",
                "openai-project": "x",
                "x-custom": "y",
                "cookie": "c=1",
            },
        )
        assert response.status_code == 200, response.text
        sent = fakes.openai.received[-1].headers
        assert (sent["openai-organization"], sent["openai-project"]) == ("org-acme", "proj_main")
        assert "x-custom" not in sent and "cookie" not in sent
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"anthropic-version": "2023-06-01 card 4111 1111 1111 1111"}, "anthropic-version"),
        ({"openai-beta": "assistants=v2,jane.doe@example.com"}, "openai-beta"),
    ],
)
def test_a_forwarded_header_that_breaks_its_grammar_is_refused(
    gateway: Gateway, headers: dict[str, str], name: str
) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    response = _post(gateway, "/v1/chat/completions", body, **headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_header", name)
    assert "4111" not in response.text and "jane" not in response.text
    assert gateway.fakes.openai.received == []
    assert gateway.audit(response.headers["x-request-id"])["error"] == "invalid_header"


@pytest.mark.parametrize(
    ("model", "stored"),
    [("gpt-4o-mini", "gpt-4o-mini"), ("gpt-4111111111111111", None), ("gpt-AKIAZ7QK3XW5PLM2RT4N", None)],
)
def test_a_model_name_with_data_is_refused_and_never_stored(
    gateway: Gateway, model: str, stored: str | None
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    response = _post(gateway, "/v1/chat/completions", body)
    row = gateway.audit(response.headers["x-request-id"])
    if stored is None:
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_model"
        assert model[4:] not in response.text and row["requested_model"].startswith("hmac:")
        assert gateway.fakes.openai.received == []
    else:
        assert response.status_code == 200 and row["requested_model"] == stored


@pytest.mark.parametrize("stream", [False, True])
def test_a_value_split_across_chained_responses_calls_never_arrives(gateway: Gateway, stream: bool) -> None:
    """The second half of a card goes in a call that continues the first by ``previous_response_id``;
    the gateway kept the first call's tail (encrypted in the vault) and reads the joint."""
    card = _luhn_card(random.Random(7 + stream))
    pieces = [f"Keep this for me: {card[:5]} {card[5:9]}", f"{card[9:13]} {card[13:]} is the rest of it."]
    client = gateway.openai()
    sent = gateway.fakes.openai.received
    first = client.responses.create(model="gpt-4o-mini", input=pieces[0], stream=stream)
    first_id = next(iter(first)).response.id if stream else first.id  # type: ignore[union-attr,arg-type]
    if stream:
        list(first)  # type: ignore[arg-type]
    second = client.responses.create(model="gpt-4o-mini", input=pieces[1], previous_response_id=first_id)
    assert arrived(card, [r.json for r in sent[-2:]], []) is None
    # Found across the two calls (the first call's own scan may see its piece as a phone number).
    row = gateway.audit(second._request_id or "")  # type: ignore[attr-defined]
    assert json.loads(row["data_classes"]).get("CREDIT_CARD") == 1
    # A third call continues the second: its own tail carried the first's, so a three-way split is seen.
    third_card = _luhn_card(random.Random(99 + stream))
    a = client.responses.create(model="gpt-4o-mini", input=f"Note: {third_card[:6]}")
    b = client.responses.create(model="gpt-4o-mini", input=f"{third_card[6:10]}", previous_response_id=a.id)
    client.responses.create(model="gpt-4o-mini", input=f"{third_card[10:]} done", previous_response_id=b.id)
    assert arrived(third_card, [r.json for r in sent[-3:]], []) is None


def test_another_caller_cannot_read_a_tail_by_response_id(gateway: Gateway) -> None:
    # The tail is kept per gateway key: someone else continuing the same response id starts afresh
    # (and learns nothing: the tail only changes what is scanned, never what is answered).
    client = gateway.openai()
    first = client.responses.create(model="gpt-4o-mini", input="Keep this for me: maria.garcia@")
    rest = "example-mail.org is the rest."
    client.responses.create(model="gpt-4o-mini", input=rest, previous_response_id=first.id)
    assert gateway.fakes.openai.received[-1].json["input"] != rest  # its owner's tail: the joint is read
    other = create_key(gateway.engine, user="bob", team="research", role="user").key
    bob = gateway.openai(api_key=other)
    bob.responses.create(model="gpt-4o-mini", input=rest, previous_response_id=first.id)
    assert gateway.fakes.openai.received[-1].json["input"] == rest


# --- shapes an outside red-team pass found (each leaked before it was closed) -----------------------

CARD, IBAN, AWS = "4111111111111111", "DE89370400440532013000", "AKIAZ7QK3XW5PLM2RT4N"


def _chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **extra}


def _schema(prop: dict[str, Any]) -> list[dict[str, Any]]:
    parameters = {"type": "object", "properties": {"a": prop}}
    return [{"type": "function", "function": {"name": "f", "parameters": parameters}}]


RED_TEAM: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]] = {
    # digits grouped by hyphens in an enum, a pointer, a MIME type
    "type_hyphen": (
        "/v1/chat/completions",
        CARD,
        _chat(response_format={"type": "x4111-1111-1111-1111"}),
        {},
    ),
    "type_pointer": (
        "/v1/chat/completions",
        IBAN,
        _chat(response_format={"type": "#/DE89-3704-0044-0532-0130-00"}),
        {},
    ),
    "object_pointer": (
        "/v1/chat/completions",
        IBAN,
        _chat(stream_options={"object": "#/DE89-3704-0044-0532-0130-00"}),
        {},
    ),
    "part_type": (
        "/v1/chat/completions",
        CARD,
        {
            "model": "gpt-4o-mini",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "x4111-1111-1111-1111", "text": "yo"},
                    ],
                }
            ],
        },
        {},
    ),
    "schema_format": (
        "/v1/chat/completions",
        CARD,
        _chat(tools=_schema({"type": "string", "format": "x4111-1111-1111-1111"})),
        {},
    ),
    "schema_ref": (
        "/v1/chat/completions",
        IBAN,
        _chat(tools=_schema({"$ref": "#/DE89-3704-0044-0532-0130-00"})),
        {},
    ),
    "media_type": (
        "/v1/messages",
        CARD,
        {
            "model": "claude-3-5-sonnet-20241022",
            "max_tokens": 10,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hi", "media_type": "x/4111-1111-1111-1111"}],
                }
            ],
        },
        {"anthropic-version": "2023-06-01"},
    ),
    "embeddings_type": (
        "/v1/embeddings",
        CARD,
        {"model": "text-embedding-3-small", "input": "hi", "type": "x4111-1111-1111-1111"},
        {},
    ),
    # numbers: a fraction's digits, short numbers side by side, logit_bias spelling a value
    "fraction_top": ("/v1/chat/completions", CARD, _chat(score=0.4111111111111111), {}),
    "fraction_in_message": (
        "/v1/chat/completions",
        CARD,
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi", "index": 0.4111111111111111}],
        },
        {},
    ),
    "small_ints": ("/v1/chat/completions", CARD, _chat(index=4111, x=1111, y=1111, start_index=1111), {}),
    "drag_path": (
        "/v1/responses",
        CARD,
        {
            "model": "gpt-4o-mini",
            "input": [
                {"type": "message", "role": "user", "content": "hi"},
                {
                    "type": "computer_call",
                    "id": "cu_abcdefgh12",
                    "call_id": "call_abcdefgh12",
                    "status": "completed",
                    "pending_safety_checks": [],
                    "action": {"type": "drag", "path": [{"x": 4111, "y": 1111}, {"x": 1111, "y": 1111}]},
                },
                {
                    "type": "computer_call_output",
                    "call_id": "call_abcdefgh12",
                    "output": {"type": "input_text", "text": "ok"},
                },
            ],
        },
        {},
    ),
    "logit_bias_values": (
        "/v1/chat/completions",
        CARD,
        _chat(logit_bias={str(100 + i): int(d) for i, d in enumerate(CARD)}),
        {},
    ),
    "logit_bias_keys": (
        "/v1/chat/completions",
        CARD,
        _chat(logit_bias={"411111": 1, "111111": 1, "11": 1}),
        {},
    ),
    # accept is the gateway's own now
    "accept_card": (
        "/v1/chat/completions",
        CARD,
        _chat(),
        {"accept": "application/json, x/4111111111111111"},
    ),
    "accept_iban": (
        "/v1/chat/completions",
        IBAN,
        _chat(),
        {"accept": "application/json, x/DE89370400440532013000"},
    ),
    "accept_aws": (
        "/v1/chat/completions",
        AWS,
        _chat(),
        {"accept": "application/json, x/AKIAZ7QK3XW5PLM2RT4N"},
    ),
}


@pytest.mark.parametrize("name", sorted(RED_TEAM))
def test_shapes_found_by_red_team_do_not_arrive(gateway: Gateway, name: str) -> None:
    path, canary, body, headers = RED_TEAM[name]
    if path == "/v1/messages":
        headers = {**headers, "x-api-key": gateway.key}
    response = _post(gateway, path, body, **headers)
    assert response.status_code != 500, response.text
    offshore = gateway.fakes.openai.received + gateway.fakes.anthropic.received
    where = arrived(canary, [r.json for r in offshore], [r.headers for r in offshore])
    assert where is None, f"{name}: arrived in the {where} ({response.status_code})"
