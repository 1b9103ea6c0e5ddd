"""Who may send model traffic, and what happens to somebody guessing a key."""

from __future__ import annotations

import time
from typing import Any, Literal

from gateway.auth import create_key
from tests.e2e.conftest import Fakes, Gateway, start_gateway

ROLES: tuple[Literal["auditor", "admin"], ...] = ("auditor", "admin")
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}


def _chat(gw: Gateway, key: str) -> Any:
    return gw.http().post("/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {key}"})


def test_auditor_and_admin_keys_send_no_model_traffic(fresh_gateway: Gateway) -> None:
    gw = fresh_gateway
    keys = {role: create_key(gw.engine, user=f"{role}-1", team="security", role=role).key for role in ROLES}
    time.sleep(1.1)  # an unknown key id reloads the key cache at most once a second
    for role, key in keys.items():
        reply = _chat(gw, key)
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "role_not_allowed"
        assert role in reply.json()["error"]["message"]
    assert gw.fakes.openai.received == []
    assert _chat(gw, gw.key).status_code == 200  # a user key
    refused = [r for r in gw.audit_rows() if r["status"] == 403]
    assert sorted(r["user"] for r in refused) == ["admin-1", "auditor-1"]


def test_the_config_can_let_auditors_send(fakes: Fakes, tmp_path: Any) -> None:
    gw = start_gateway(
        fakes, f"sqlite:///{tmp_path / 'g.db'}", server={"model_traffic_roles": ["user", "auditor"]}
    )
    try:
        key = create_key(gw.engine, user="audrey", team="security", role="auditor").key
        time.sleep(1.1)
        assert _chat(gw, key).status_code == 200
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


def test_guessing_a_key_is_throttled_audited_by_key_id_and_never_locks_out_the_owner(
    fakes: Fakes, tmp_path: Any
) -> None:
    # A slow refill, so that a slow machine's pace between guesses cannot earn a guess back.
    gw = start_gateway(fakes, f"sqlite:///{tmp_path / 'g.db'}", limits={"auth_failures_per_second": 0.05})
    try:
        _guessing(gw)
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()


def _guessing(gw: Gateway) -> None:
    key_id = gw.key.split("_")[1]
    wrong = f"gwk_{key_id}_{'x' * 43}"
    statuses = [_chat(gw, wrong).status_code for _ in range(30)]
    assert statuses == [401] * 20 + [429] * 10  # the burst (limits.auth_failures_burst), then none
    throttled = _chat(gw, wrong)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) >= 1
    assert _chat(gw, gw.key).status_code == 200  # the right secret gets in all the same
    assert gw.fakes.openai.received and len(gw.fakes.openai.received) == 1
    failed = [r for r in gw.audit_rows() if r["status"] in (401, 429)]
    assert failed and all(r["key_id"] == key_id and r["user"] is None for r in failed)
    # The secret tried is nowhere in the trail; a made-up id is not recorded either.
    assert all("x" * 43 not in str(r) for r in gw.audit_rows())


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwards_it(
    fakes: Fakes, tmp_path: Any
) -> None:
    spoofed = {"x-forwarded-for": "198.51.100.66"}
    gw = start_gateway(
        fakes,
        f"sqlite:///{tmp_path / 'g.db'}",
        server={"trusted_proxies": ["127.0.0.0/8"]},
        limits={"auth_failures_per_second": 0.05},
    )
    try:
        reply = gw.http().post(
            "/v1/chat/completions",
            json=CHAT,
            headers={"authorization": f"Bearer {gw.key}", "x-forwarded-for": "1.2.3.4, 203.0.113.9"},
        )
        assert gw.audit(reply.headers["x-request-id"])["client_addr"] == "203.0.113.9"
        # Failed authentications are throttled per forwarded client, not per proxy: another client
        # behind the same proxy still gets in.
        wrong = {"authorization": "Bearer gwk_0000000000000000_" + "y" * 43, **spoofed}
        statuses = [
            gw.http().post("/v1/chat/completions", json=CHAT, headers=wrong).status_code for _ in range(25)
        ]
        assert 429 in statuses
        other = {"authorization": f"Bearer {gw.key}", "x-forwarded-for": "198.51.100.67"}
        assert gw.http().post("/v1/chat/completions", json=CHAT, headers=other).status_code == 200
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
    # Without trusted proxies the header is the client's own word: ignored.
    plain = start_gateway(fakes, f"sqlite:///{tmp_path / 'p.db'}")
    try:
        reply = plain.http().post(
            "/v1/chat/completions", json=CHAT, headers={"authorization": f"Bearer {plain.key}", **spoofed}
        )
        assert plain.audit(reply.headers["x-request-id"])["client_addr"] == "127.0.0.1"
    finally:
        plain.close_clients()
        plain.server.stop()
        plain.engine.dispose()
