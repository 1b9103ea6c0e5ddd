"""A term list edit reloads with the policy (what SIGHUP and the file watch call), changes the policy
version on the audit record, and a bad edit is refused with the last good set kept and its problem
on the trail."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import DEFAULT_POLICY, Fakes, Gateway, start_gateway

TERMS = "lists:\n  projects:\n    - Bluebird\n"
PROMPT = "Summarise the status of project saltmarsh for the board."


def _ask(gw: Gateway) -> tuple[str, str]:
    raw = gw.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )
    return raw.headers["x-request-id"], raw.headers["x-gateway-policy-version"]


def test_a_code_name_added_to_a_term_list_takes_effect_on_reload(fakes: Fakes, tmp_path: Path) -> None:
    terms = tmp_path / "terms.yaml"
    terms.write_text(TERMS)
    gw = start_gateway(
        fakes,
        f"sqlite:///{tmp_path / 'g.db'}",
        policies=[DEFAULT_POLICY],
        scan={"terms": str(terms)},
        policy_watch_interval=0,
    )
    try:
        first_id, first = _ask(gw)
        assert [r.json["messages"][0]["content"] for r in fakes.openai.received] == [PROMPT]
        # Twice: the second answer comes from the scan cache, which must not outlive the edit.
        _ask(gw)
        fakes.openai.received.clear()

        terms.write_text(TERMS + "    - saltmarsh\n")
        event = gw.app.runtime.policies.reload()
        assert event is not None and event.kind == "policy.reloaded"
        second_id, second = _ask(gw)
        assert second != first
        assert fakes.openai.received == []  # company terms stay local (the default policy)
        assert fakes.local.received and PROMPT in str(fakes.local.received[-1].json)
        row = gw.audit(second_id)
        assert (row["policy_version"], row["action"]) == (second, "route_local")
        assert gw.audit(first_id)["policy_version"] == first

        # A bad edit: refused, the last good set stays, the trail says why (file and line).
        terms.write_text(TERMS + "    - saltmarsh\n  broken: 42\n")
        rejected = gw.app.runtime.policies.reload()
        assert rejected is not None and rejected.kind == "policy.rejected"
        _, third = _ask(gw)
        assert third == second and fakes.openai.received == []
        events = [r for r in gw.audit_rows() if r["endpoint"] == "policy.rejected"]
        assert len(events) == 1 and events[0]["error"] == "policy_invalid"
        assert f"{terms}:5: list 'broken'" in events[0]["detail"]
        assert "saltmarsh" not in events[0]["detail"]
    finally:
        gw.close_clients()
        gw.server.stop()
        gw.engine.dispose()
