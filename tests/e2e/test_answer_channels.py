"""Every answer channel, probed with planted canaries: nothing reaches the client unread.

A misbehaving provider (a loopback fake that answers whatever the test tells it to) puts a fresh canary
-- a card number, an e-mail address, an IBAN, an AWS key -- somewhere in a real-shaped answer of the
endpoint's wire format, whole and streamed, and through translation both ways: replacing or inside any
string (protocol fields included), as an unknown field, in an unknown event, in a data line that is not
JSON, in log-probability tokens, split across two text deltas, or in the provider's error body.  The
user never sent it, so it must not *arrive* at the client, by the request-channel issue's definition:
not in the concatenation of every string and number the client received (with and without keys),
joined with nothing or a space, nor with spaces and hyphens removed.
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Fakes, Gateway, gateway_config, start_gateway
from tests.e2e.test_channels import _canary, arrived
from tests.fakes.server import ThreadedServer

Scope = dict[str, Any]


class Scripted:
    """A provider that answers the next request with exactly what the test scripted."""

    def __init__(self) -> None:
        self.status = 200
        self.content_type = "application/json"
        self.body = b"{}"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        headers = [(b"content-type", self.content_type.encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@pytest.fixture(scope="module")
def scripted(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Scripted]]:
    provider = Scripted()
    with ThreadedServer(provider) as url:
        destinations = gateway_config(fakes, "sqlite://")["destinations"]
        destinations = {
            "scripted-openai": {
                "type": "openai",
                "base_url": f"{url}/v1",
                "jurisdiction": "US",
                "models": ["sgpt-*"],
            },
            "scripted-anthropic": {
                "type": "anthropic",
                "base_url": url,
                "jurisdiction": "US",
                "models": ["sclaude-*"],
            },
            **destinations,
        }
        db = tmp_path_factory.mktemp("answers") / "gw.db"
        gw = start_gateway(fakes, f"sqlite:///{db}", destinations=destinations)
        yield gw, provider
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


# --- real-shaped answers, by the destination's format --------------------------------------------

WORDS = ["Hello", " there", ",", " how", " can", " I", " help", " today", "?"]


def _token(text: str) -> dict[str, Any]:
    alternative = {
        "token": text.strip() or "x",
        "logprob": -2.5,
        "bytes": list((text.strip() or "x").encode()),
    }
    return {"token": text, "logprob": -0.25, "bytes": list(text.encode()), "top_logprobs": [alternative]}


def openai_chat(stream: bool) -> list[dict[str, Any]]:
    head = {
        "id": "chatcmpl-Ab12Cd34",
        "object": "chat.completion.chunk",
        "created": 1765000000,
        "model": "sgpt-4o",
        "system_fingerprint": "fp_0a1b2c3d",
    }
    if not stream:
        message = {"role": "assistant", "content": "".join(WORDS), "refusal": None}
        choice = {
            "index": 0,
            "message": message,
            "logprobs": {"content": [_token(w) for w in WORDS]},
            "finish_reason": "stop",
        }
        usage = {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
        return [{**head, "object": "chat.completion", "choices": [choice], "usage": usage}]
    chunks = [
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        }
    ]
    for word in WORDS:
        delta = {
            "index": 0,
            "delta": {"content": word},
            "logprobs": {"content": [_token(word)]},
            "finish_reason": None,
        }
        chunks.append({**head, "choices": [delta]})
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    chunks.append(
        {**head, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}}
    )
    return chunks


def openai_completions(stream: bool) -> list[dict[str, Any]]:
    head = {"id": "cmpl-Ab12Cd34", "object": "text_completion", "created": 1765000000, "model": "sgpt-3"}

    def lp(words: list[str]) -> dict[str, Any]:
        return {
            "tokens": words,
            "token_logprobs": [-0.5] * len(words),
            "top_logprobs": [{w: -0.5} for w in words],
            "text_offset": list(range(len(words))),
        }

    if not stream:
        choice = {"text": "".join(WORDS), "index": 0, "logprobs": lp(WORDS), "finish_reason": "stop"}
        return [{**head, "choices": [choice], "usage": {"prompt_tokens": 3, "completion_tokens": 9}}]
    chunks = [
        {**head, "choices": [{"text": w, "index": 0, "logprobs": lp([w]), "finish_reason": None}]}
        for w in WORDS
    ]
    chunks.append({**head, "choices": [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}]})
    return chunks


def openai_responses(stream: bool) -> list[dict[str, Any]]:
    text = "".join(WORDS)
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": [_token(w) for w in WORDS]}
    item = {
        "type": "message",
        "id": "msg_0a1b2c3d4e",
        "status": "completed",
        "role": "assistant",
        "content": [part],
    }
    response = {
        "id": "resp_0a1b2c3d4e",
        "object": "response",
        "created_at": 1765000000,
        "status": "completed",
        "model": "sgpt-4o",
        "output": [item],
        "usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12},
    }
    if not stream:
        return [response]
    ids = {"item_id": "msg_0a1b2c3d4e", "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {**response, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "sequence_number": 1,
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
    ]
    for n, word in enumerate(WORDS):
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": 2 + n,
                **ids,
                "delta": word,
                "logprobs": [_token(word)],
            }
        )
    events.append(
        {"type": "response.output_text.done", "sequence_number": 20, **ids, "text": text, "logprobs": []}
    )
    events.append(
        {"type": "response.output_item.done", "sequence_number": 21, "output_index": 0, "item": item}
    )
    events.append({"type": "response.completed", "sequence_number": 22, "response": response})
    return events


def anthropic_messages(stream: bool) -> list[dict[str, Any]]:
    usage = {"input_tokens": 3, "output_tokens": 9}
    message = {
        "id": "msg_01Ab12Cd34Ef56",
        "type": "message",
        "role": "assistant",
        "model": "sclaude-x",
        "content": [{"type": "text", "text": "".join(WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return [message]
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message, "content": [], "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in WORDS
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": usage,
        },
        {"type": "message_stop"},
    ]
    return events


# (client endpoint, destination wire) -> how the client asks, and the destination's answer
SCENARIOS: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("chat", "openai"): ("/v1/chat/completions", "sgpt-4o", openai_chat),
    ("chat", "anthropic"): ("/v1/chat/completions", "sclaude-x", anthropic_messages),
    ("messages", "anthropic"): ("/v1/messages", "sclaude-x", anthropic_messages),
    ("messages", "openai"): ("/v1/messages", "sgpt-4o", openai_chat),
    ("responses", "openai"): ("/v1/responses", "sgpt-4o", openai_responses),
    ("completions", "openai"): ("/v1/completions", "sgpt-3", openai_completions),
}


def _request(client: str, model: str, stream: bool) -> dict[str, Any]:
    if client == "responses":
        return {"model": model, "input": "Say hello", "stream": stream}
    if client == "completions":
        return {"model": model, "prompt": "Say hello", "stream": stream, "logprobs": 1}
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello"}],
        "stream": stream,
    }
    if client == "messages":
        body["max_tokens"] = 64
    return body


# --- planting ----------------------------------------------------------------------------------------

_TEXT_KEYS = frozenset({"text", "content", "delta", "thinking", "partial_json", "refusal"})
MODES = ("leaf", "embed", "field", "event", "not_json", "logprobs", "split", "error")


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        yield path, node
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))
    else:
        yield path, node


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def plant(
    data: st.DataObject, docs: list[dict[str, Any]], canary: str, stream: bool, wire: str
) -> tuple[int, list[Any], str]:
    """The status and the documents (dicts, or raw strings for a broken data line) to send."""
    mode = data.draw(st.sampled_from(MODES), label="mode")
    if mode in ("event", "not_json", "split") and not stream:
        mode = "leaf"
    out: list[Any] = copy.deepcopy(docs)
    if mode in ("leaf", "embed"):
        d = data.draw(st.integers(0, len(out) - 1), label="doc")
        strings = [p for p, v in _paths(out[d]) if isinstance(v, str) and p]
        path = data.draw(st.sampled_from(strings), label="path")
        old = out[d]
        for part in path:
            old = old[part]
        # In running text the canary is a word of its own: a value glued to the words around it
        # ("HelloDE89...") is an evasion for the detectors (issue 18), not a channel.
        text = path[-1] in _TEXT_KEYS
        _set(out[d], path, (f" {canary} " if text else canary) if mode == "leaf" else f"{old} {canary} ")
    elif mode == "field":
        d = data.draw(st.integers(0, len(out) - 1), label="doc")
        dicts = [p for p, v in _paths(out[d]) if isinstance(v, dict)]
        path = data.draw(st.sampled_from(dicts), label="dict")
        target = out[d]
        for part in path:
            target = target[part]
        target[data.draw(st.sampled_from(["x_note", "annotation_text", "debug"]), label="key")] = canary
    elif mode == "event":
        at = data.draw(st.integers(1, len(out) - 1), label="at")
        new = (
            {"type": "x_provider_note", "note": canary}
            if wire == "anthropic"
            else {**out[0], "x_note": canary}
        )
        if wire == "openai" and "choices" in new:
            new["choices"] = []
        out.insert(at, new)
    elif mode == "not_json":
        out.insert(data.draw(st.integers(1, len(out) - 1), label="at"), f"note: {canary}")
    elif mode == "logprobs":
        tokens = [
            (d, p) for d, doc in enumerate(out) for p, v in _paths(doc) if p and p[-1] in ("token", "tokens")
        ]
        if tokens:
            d, path = data.draw(st.sampled_from(tokens), label="token")
            _set(out[d], path, canary if path[-1] == "token" else [canary])
        else:
            mode = "leaf"
            _set(out[0], ("x_note",), canary)
    elif mode == "split":
        cut = data.draw(st.integers(1, len(canary) - 1), label="cut")
        texts = [
            (d, p)
            for d, doc in enumerate(out)
            for p, v in _paths(doc)
            if p and p[-1] in ("content", "text", "delta") and isinstance(v, str) and v.strip()
        ]
        if len(texts) >= 2:
            i = data.draw(st.integers(0, len(texts) - 2), label="at")
            (d1, p1), (d2, p2) = texts[i], texts[i + 1]
            _set(out[d1], p1, f" {canary[:cut]}")
            _set(out[d2], p2, f"{canary[cut:]} ")
    if mode == "error":
        status = data.draw(st.sampled_from([400, 404, 422, 429, 500]), label="status")
        if wire == "anthropic":
            return (
                status,
                [{"type": "error", "error": {"type": "invalid_request_error", "message": f"bad: {canary}"}}],
                mode,
            )
        return (
            status,
            [
                {
                    "error": {
                        "message": f"Invalid value {canary}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                }
            ],
            mode,
        )
    return 200, out, mode


def _encode(docs: list[Any], stream: bool, wire: str) -> tuple[str, bytes]:
    if not stream:
        return "application/json", json.dumps(docs[0]).encode()
    lines: list[str] = []
    for doc in docs:
        if isinstance(doc, str):
            lines.append(f"data: {doc}\n\n")
            continue
        name = (
            doc.get("type")
            if wire == "anthropic" or str(doc.get("type", "")).startswith(("response.", "error"))
            else None
        )
        lines.append((f"event: {name}\n" if name else "") + f"data: {json.dumps(doc)}\n\n")
    if wire == "openai" and "response." not in "".join(lines):
        lines.append("data: [DONE]\n\n")
    return "text/event-stream", "".join(lines).encode()


def _received(response: Any) -> list[Any]:
    """What the client got, as JSON documents (and raw text where a line is not JSON)."""
    text = response.text
    if not response.headers.get("content-type", "").startswith("text/event-stream"):
        try:
            return [json.loads(text)]
        except ValueError:
            return [text]
    docs: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            try:
                docs.append(json.loads(data))
            except ValueError:
                docs.append(data)
    return docs


@settings(
    max_examples=int(os.environ.get("CHANNELS_EXAMPLES", "200")),
    deadline=None,
    derandomize="CHANNELS_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # CHANNELS_NO_SHRINK=1: report the first failure as found (a hunt's failure, unshrunk).
    phases=[Phase.generate] if "CHANNELS_NO_SHRINK" in os.environ else list(Phase),
)
@given(data=st.data())
def test_no_canary_the_user_did_not_send_reaches_the_client(
    scripted: tuple[Gateway, Scripted], data: st.DataObject
) -> None:
    gateway, provider = scripted
    client, wire = data.draw(st.sampled_from(sorted(SCENARIOS)), label="scenario")
    path, model, answer = SCENARIOS[(client, wire)]
    stream = data.draw(st.booleans(), label="stream")
    kind = data.draw(st.sampled_from(["card", "email", "iban", "aws"]), label="canary")
    canary = _canary(kind, random.Random(data.draw(st.integers(0, 2**32), label="seed")))
    status, docs, mode = plant(data, answer(stream), canary, stream, wire)
    provider.status = status
    provider.content_type, provider.body = _encode(docs, stream and status == 200, wire)
    headers = {"authorization": f"Bearer {gateway.key}", "content-type": "application/json"}
    if client == "messages":
        headers["anthropic-version"] = "2023-06-01"
    with gateway.http() as http:
        response = http.post(path, json=_request(client, model, stream), headers=headers)
    assert response.status_code != 500 or mode == "error", response.text
    where = arrived(canary, _received(response), [dict(response.headers)])
    assert where is None, (
        f"{kind} canary planted by {mode} ({client} <- {wire}, stream={stream}) arrived: "
        f"{response.text[:2000]}"
    )


def test_unreadable_events_are_dropped_and_counted_in_the_audit(scripted: tuple[Gateway, Scripted]) -> None:
    gateway, provider = scripted
    docs: list[Any] = openai_chat(True)
    docs.insert(2, "not json at all")
    docs.insert(4, "{broken")
    provider.status = 200
    provider.content_type, provider.body = _encode(docs, True, "openai")
    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json=_request("chat", "sgpt-4o", True),
            headers={"authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 200
    assert "not json" not in response.text and "{broken" not in response.text
    assert "".join(
        d["choices"][0]["delta"].get("content") or ""
        for d in _received(response)
        if isinstance(d, dict) and d.get("choices")
    ) == "".join(WORDS)
    row = gateway.audit(response.headers["x-request-id"])
    assert row["dropped_events"] == 2 and row["status"] == 200


def test_logprobs_spell_exactly_the_delivered_text(scripted: tuple[Gateway, Scripted]) -> None:
    gateway, provider = scripted
    docs = openai_chat(False)
    value = "bob.stone@corp-example.net"
    docs[0]["choices"][0]["message"]["content"] = f"Write to {value} now"
    docs[0]["choices"][0]["logprobs"]["content"] = [
        _token(t) for t in ("Write", " to", " bob", ".stone", "@corp", "-example", ".net", " now")
    ]
    provider.status, provider.content_type, provider.body = (
        200,
        "application/json",
        json.dumps(docs[0]).encode(),
    )
    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json=_request("chat", "sgpt-4o", False),
            headers={"authorization": f"Bearer {gateway.key}"},
        )
    choice = response.json()["choices"][0]
    spelled = "".join(t["token"] for t in choice["logprobs"]["content"])
    assert spelled == choice["message"]["content"] == "Write to [EMAIL_ADDRESS] now"
    assert all(bytes(t["bytes"]).decode() == t["token"] for t in choice["logprobs"]["content"])


# --- shapes an outside red-team pass found (each reached the client before it was closed) -----------

CARD, IBAN, EMAIL = "4111111111111111", "DE89370400440532013000", "jane.doe77@example-corp.com"


def _chat_whole(change: Any) -> Any:
    def build(stream: bool) -> list[dict[str, Any]]:
        docs = openai_chat(stream)
        change(docs[0] if not stream else docs[1])
        return docs

    return build


def _tool_call(doc: dict[str, Any]) -> None:
    function = {"name": "DE89-3704-0044-0532-0130-00", "arguments": "{}"}
    call = {"id": "call_abcdefgh12", "type": "function", "function": function}
    if "message" in doc["choices"][0]:
        doc["choices"][0]["message"]["tool_calls"] = [call]
    else:
        doc["choices"][0]["delta"]["tool_calls"] = [{"index": 0, **call}]


RED_TEAM: dict[str, tuple[str, Any]] = {
    "created": (CARD, lambda d: d.update(created=int(CARD))),
    "choice_index": (CARD, lambda d: d["choices"][0].update(index=int(CARD))),
    "unknown_number": (CARD, lambda d: d.update(x_note=int(CARD))),
    "usage_tokens": (CARD, lambda d: d.update(usage={"prompt_tokens": int(CARD), "completion_tokens": 1})),
    "usage_fraction": (CARD, lambda d: d.update(usage={"x_ratio": 0.4111111111111111})),
    "number_list": (CARD, lambda d: d.update(x_parts=[4111, 1111, 1111, 1111])),
    "key_card": (CARD, lambda d: d.update(x_meta={CARD: "x"})),
    "key_email": (EMAIL, lambda d: d.update(x_meta={EMAIL: 1})),
    "id_groups": (CARD, lambda d: d.update(id="chatcmpl-4111-1111-1111-1111")),
    "model_groups": (IBAN, lambda d: d.update(model="DE89-3704-0044-0532-0130-00")),
    "fingerprint_groups": (CARD, lambda d: d.update(system_fingerprint="fp_4111-1111-1111-1111")),
    "tool_name_groups": (IBAN, _tool_call),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("name", sorted(RED_TEAM))
def test_answer_shapes_found_by_red_team_do_not_arrive(
    scripted: tuple[Gateway, Scripted], name: str, stream: bool
) -> None:
    gateway, provider = scripted
    canary, change = RED_TEAM[name]
    provider.status = 200
    provider.content_type, provider.body = _encode(_chat_whole(change)(stream), stream, "openai")
    with gateway.http() as http:
        response = http.post(
            "/v1/chat/completions",
            json=_request("chat", "sgpt-4o", stream),
            headers={"authorization": f"Bearer {gateway.key}"},
        )
    assert response.status_code == 200, response.text
    assert arrived(canary, _received(response), [dict(response.headers)]) is None, response.text[:1500]


@pytest.mark.parametrize(
    ("path", "model", "error"),
    [
        ("/v1/chat/completions", "sgpt-4o", {"error": {"message": "bad", "type": "x", "code": int(CARD)}}),
        ("/v1/chat/completions", "sgpt-4o", {"error": {"message": "bad", "type": "x", CARD: 1}}),
        (
            "/v1/chat/completions",
            "sgpt-4o",
            {"error": {"message": "bad", "type": "DE89-3704-0044-0532-0130-00"}},
        ),
        (
            "/v1/chat/completions",
            "sclaude-x",
            {"type": "error", "error": {"type": "x4111-1111-1111-1111", "message": "m"}},
        ),
        (
            "/v1/messages",
            "sclaude-x",
            {"type": "error", "error": {"type": "invalid_request_error", "message": "m", EMAIL: 1}},
        ),
    ],
)
def test_error_shapes_found_by_red_team_do_not_arrive(
    scripted: tuple[Gateway, Scripted], path: str, model: str, error: dict[str, Any]
) -> None:
    gateway, provider = scripted
    provider.status, provider.content_type, provider.body = (
        400,
        "application/json",
        json.dumps(error).encode(),
    )
    client = "messages" if path == "/v1/messages" else "chat"
    headers = {"authorization": f"Bearer {gateway.key}", "anthropic-version": "2023-06-01"}
    with gateway.http() as http:
        response = http.post(path, json=_request(client, model, False), headers=headers)
    assert response.status_code == 400, response.text
    for canary in (CARD, IBAN, EMAIL):
        assert arrived(canary, _received(response), [dict(response.headers)]) is None, response.text
    row = gateway.audit(response.headers["x-request-id"])
    assert all(c not in json.dumps(row, default=str) for c in (CARD, "4111-1111", IBAN, "DE89-3704", EMAIL))
