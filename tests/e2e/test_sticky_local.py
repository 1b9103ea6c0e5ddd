"""A conversation that went local stays local, across turns, gateway instances and stores.

The local destination here is the OpenAI-compatible fake (as vLLM or llama-server would be); the
offshore fakes are spies that count what reached them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import redis
from sqlalchemy import func, select

from gateway.auth import create_key
from gateway.local.sticky import sticky_conversations
from tests.conftest import redis_client
from tests.e2e.conftest import Fakes, Gateway, start_gateway

REDIS_URL = "redis://127.0.0.1:6379/14"
SECRET = "CONFIDENTIAL: the board approved the merger with Northwind on Friday."
SHARED_SECRET = {"GATEWAY_SECRET": "0123456789abcdef0123456789abcdef"}


def turns(opening: str) -> tuple[list[Any], list[Any], list[Any]]:
    """Three turns of one conversation: clean, then a secret, then clean again with the secret trimmed
    from the history (as clients that keep the first and the latest messages do)."""
    system = {"role": "system", "content": "You help the strategy team."}
    first = [system, {"role": "user", "content": opening}]
    second = [*first, {"role": "assistant", "content": "Sure."}, {"role": "user", "content": SECRET}]
    third = [*first, {"role": "assistant", "content": "Sure."}, {"role": "user", "content": "And a title?"}]
    return first, second, third


def ask(gw: Gateway, messages: list[Any], **kwargs: Any) -> Any:
    return gw.openai(**kwargs).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=messages
    )


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    with redis_client(REDIS_URL) as client:
        yield client


def test_later_turns_stay_local_after_a_secret(gateway: Gateway) -> None:
    first, second, third = turns(f"Plan the offsite, take {uuid.uuid4().hex[:6]}.")
    assert "x-gateway-route" not in ask(gateway, first).headers
    assert len(gateway.fakes.openai.received) == 1
    raw = ask(gateway, second)
    assert raw.headers["x-gateway-route"] == "local; reason=confidential-stays-local"
    raw = ask(gateway, third)
    assert raw.headers["x-gateway-route"] == "local; reason=builtin:sticky-local"
    assert len(gateway.fakes.openai.received) == 1, "a turn after the secret went offshore"
    assert len(gateway.fakes.local.received) == 2
    row = gateway.audit(raw.headers["x-request-id"])
    assert (row["destination"], row["action"], row["route_reason"]) == (
        "local",
        "route_local",
        "builtin:sticky-local",
    )
    # The first turn itself, resent alone, is the same conversation: local as well.
    assert ask(gateway, first).headers["x-gateway-route"] == "local; reason=builtin:sticky-local"


def test_another_user_with_the_same_opening_is_not_affected(gateway: Gateway) -> None:
    first, second, third = turns(f"Plan the retreat, take {uuid.uuid4().hex[:6]}.")
    ask(gateway, first)
    ask(gateway, second)
    other = create_key(gateway.engine, user="bob", team="research", role="user").key
    assert "x-gateway-route" not in ask(gateway, third, api_key=other).headers
    assert len(gateway.fakes.openai.received) == 2


def test_a_named_conversation_is_sticky_whatever_its_opening(gateway: Gateway) -> None:
    name = {"x-gateway-conversation": f"thread-{uuid.uuid4().hex}"}
    ask(gateway, [{"role": "user", "content": SECRET}], default_headers=name)
    raw = ask(gateway, [{"role": "user", "content": "Now something else."}], default_headers=name)
    assert raw.headers["x-gateway-route"] == "local; reason=builtin:sticky-local"
    assert gateway.fakes.openai.received == []


def test_sticky_state_is_shared_by_gateways_on_one_database(fakes: Fakes, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = start_gateway(fakes, url)
    b = start_gateway(fakes, url)
    try:
        _, second, third = turns("Plan the board pack.")
        ask(a, second)
        raw = ask(b, third, api_key=a.key)  # the same caller, on the other gateway
        assert raw.headers["x-gateway-route"] == "local; reason=builtin:sticky-local"
        assert fakes.openai.received == []
    finally:
        for gw in (a, b):
            gw.close_clients()
            gw.server.stop()
            gw.engine.dispose()


def test_sticky_state_in_redis_is_shared_by_gateways(
    fakes: Fakes, tmp_path: Path, redis_db: redis.Redis
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    sticky = {"url": REDIS_URL, "ttl_seconds": 60}
    a = start_gateway(fakes, url, SHARED_SECRET, sticky_local=sticky)
    b = start_gateway(fakes, url, SHARED_SECRET, sticky_local=sticky)
    try:
        _, second, third = turns(f"Plan the roadmap, take {uuid.uuid4().hex[:6]}.")
        raw = ask(a, second)
        assert raw.headers["x-gateway-route"] == "local; reason=confidential-stays-local"
        keys = redis_db.keys("gw:sticky:*")
        assert len(keys) == 1 and 0 < redis_db.pttl(keys[0]) <= 60_000
        # Only a keyed hash is stored: not the conversation key, nor anything of the prompt.
        assert b"Plan" not in keys[0] and redis_db.get(keys[0]) == b"1"
        raw = ask(b, third, api_key=a.key)
        assert raw.headers["x-gateway-route"] == "local; reason=builtin:sticky-local"
        assert fakes.openai.received == []
        with a.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(sticky_conversations)).scalar() == 0
    finally:
        for key in redis_db.keys("gw:sticky:*"):
            redis_db.delete(key)
        for gw in (a, b):
            gw.close_clients()
            gw.server.stop()
            gw.engine.dispose()


def test_an_unreachable_sticky_store_refuses_the_request(fakes: Fakes, tmp_path: Path) -> None:
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'g.db'}", sticky_local={"url": "redis://127.0.0.1:9/0"})
    fakes.reset()  # the local server's readiness probe at start-up
    try:
        with pytest.raises(openai.InternalServerError) as info:
            gw.openai().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello there."}]
            )
        assert info.value.status_code == 503
        assert info.value.code == "sticky_unavailable"  # type: ignore[attr-defined]
        assert fakes.openai.received == [] and fakes.local.received == []
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
