from __future__ import annotations

from gateway.audit.record import audit_row
from gateway.endpoints import ENDPOINTS_BY_PATH
from gateway.exchange import Exchange, Principal


def test_client_controlled_strings_are_bounded_and_printable() -> None:
    ex = Exchange(method="UNSUBSCRIBE", path="/v1/chat/completions", headers={}, client_addr="1.2.3.4")
    ex.endpoint = ENDPOINTS_BY_PATH["/v1/chat/completions"]
    ex.model = "m\n" + "x" * 5000
    ex.model_checked = True  # as if it had passed its checks: stored, bounded
    ex.error = "e" * 1000
    ex.principal = Principal("u" * 300, None, "user", "k")
    row = audit_row(ex, b"k" * 32)
    assert row["method"] == "OTHER"
    assert len(row["requested_model"]) == 200 and "\n" not in row["requested_model"]
    assert len(row["error"]) == 100 and len(row["user"]) == 200
    assert row["status"] == 500  # never answered: recorded as a failure, not left empty


def test_unknown_paths_are_not_recorded() -> None:
    ex = Exchange(method="GET", path="/v1/users/jane.doe@example.com", headers={}, client_addr=None)
    row = audit_row(ex, b"k" * 32)
    assert row["endpoint"] == "unknown" and "jane" not in repr(row)


def test_a_model_name_is_stored_only_once_it_passed_its_checks() -> None:
    ex = Exchange(method="POST", path="/v1/chat/completions", headers={}, client_addr=None)
    ex.endpoint = ENDPOINTS_BY_PATH["/v1/chat/completions"]
    ex.model = "gpt-4o jane.doe@example.com"
    row = audit_row(ex, b"k" * 32)
    assert row["requested_model"].startswith("hmac:") and "jane" not in repr(row)
    assert audit_row(ex, b"k" * 32)["requested_model"] == row["requested_model"]  # keyed, stable
    assert audit_row(ex, b"j" * 32)["requested_model"] != row["requested_model"]
    ex.model, ex.model_checked = "gpt-4o-mini", True
    assert audit_row(ex, b"k" * 32)["requested_model"] == "gpt-4o-mini"


def test_a_record_from_before_the_dropped_events_column_still_hashes_the_same() -> None:
    from gateway.audit.chain import canonical

    row = {"request_id": "req_1", "status": 200}
    assert canonical(row) == canonical({**row, "dropped_events": None})
    assert canonical(row) != canonical({**row, "dropped_events": 2})
