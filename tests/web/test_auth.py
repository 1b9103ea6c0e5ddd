"""Who gets in: reviewers with a valid session; everyone else is sent to log in or refused."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from gateway.auth import api_keys, revoke_key
from gateway.web.session import COOKIE, SessionSigner
from tests.web.conftest import ORIGIN, SECRET, Review

PAGES = ["/audit/records", "/audit/dashboard", "/audit/records/req_clean"]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_every_page_sends_to_login(review: Review, path: str) -> None:
    response = review.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/audit/login"


def test_the_root_leads_to_the_records(review: Review) -> None:
    for path in ("/audit", "/audit/"):
        response = review.client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/audit/records")


def test_an_auditor_logs_in_and_sees_the_pages(review: Review) -> None:
    response = review.client.post(
        "/audit/login", data={"key": review.auditor}, headers={"origin": ORIGIN}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/audit/records"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/audit", "Max-Age=28800"):
        assert attribute.lower() in cookie.lower(), attribute
    assert "secure" not in cookie.lower()  # plain http here; see the https test
    assert review.auditor not in cookie  # the key itself is never in the cookie
    for path in PAGES:
        page = review.client.get(path)
        assert page.status_code == 200, path
        assert "audrey (auditor)" in page.text


def test_an_admin_may_review(review: Review) -> None:
    assert review.login(review.admin) == 303
    assert review.client.get("/audit/records").status_code == 200


def test_a_user_key_is_refused(review: Review) -> None:
    response = review.client.post(
        "/audit/login", data={"key": review.user}, headers={"origin": ORIGIN}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert "auditor or admin role" in response.text
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 303


def test_a_session_of_a_key_that_lost_its_role_is_refused(review: Review) -> None:
    assert review.login(review.auditor) == 303
    with review.engine.begin() as conn:
        conn.execute(update(api_keys).where(api_keys.c.key_id == review.auditor_id).values(role="user"))
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 403


@pytest.mark.parametrize("key", ["", "gwk_nope_nope", "not-a-key"])
def test_a_wrong_key_is_refused(review: Review, key: str) -> None:
    response = review.client.post(
        "/audit/login", data={"key": key}, headers={"origin": ORIGIN}, follow_redirects=False
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_a_tampered_session_is_refused_and_cleared(review: Review) -> None:
    assert review.login(review.auditor) == 303
    value = review.client.cookies[COOKIE]
    payload, mac = value.split(".")
    review.client.cookies.clear()
    review.client.cookies.set(
        COOKIE, payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:], path="/audit"
    )
    response = review.client.get("/audit/records", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/audit/login"
    assert "max-age=0" in response.headers["set-cookie"].lower()


def test_an_expired_session_is_refused(review: Review) -> None:
    expired = SessionSigner(SECRET).sign(review.auditor_id, now=time.time() - 9 * 3600)
    review.client.cookies.set(COOKIE, expired, path="/audit")
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 303


def test_a_session_signed_with_another_secret_is_refused(review: Review) -> None:
    forged = SessionSigner(b"another-secret-entirely-32-bytes").sign(review.auditor_id)
    review.client.cookies.set(COOKIE, forged, path="/audit")
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 303
    valid = SessionSigner(SECRET).sign(review.auditor_id)
    review.client.cookies.set(COOKIE, valid, path="/audit")
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 200


def test_revoking_the_key_ends_its_sessions(review: Review) -> None:
    assert review.login(review.auditor) == 303
    assert review.client.get("/audit/records").status_code == 200
    assert revoke_key(review.engine, review.auditor_id)
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 303


def test_logout_clears_the_session(review: Review) -> None:
    assert review.login(review.auditor) == 303
    response = review.client.post("/audit/logout", headers={"origin": ORIGIN}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/audit/login"
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"referer": "http://evil.example/audit/login"},
    ],
)
def test_cross_site_posts_are_refused(review: Review, headers: dict[str, str]) -> None:
    response = review.client.post(
        "/audit/login", data={"key": review.auditor}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert review.login(review.auditor) == 303
    logout = review.client.post("/audit/logout", headers=headers, follow_redirects=False)
    assert logout.status_code == 403
    assert review.client.get("/audit/records", follow_redirects=False).status_code == 200


def test_a_same_origin_referer_is_enough_without_origin(review: Review) -> None:
    response = review.client.post(
        "/audit/login",
        data={"key": review.auditor},
        headers={"referer": f"{ORIGIN}/audit/login"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_the_cookie_is_secure_over_https(review: Review) -> None:
    response = review.client.post(
        "https://testserver/audit/login",
        data={"key": review.auditor},
        headers={"origin": "https://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


def test_security_headers(review: Review) -> None:
    for path in ("/audit/login", "/audit/records"):
        response = review.client.get(path, follow_redirects=False)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert review.login(review.auditor) == 303
    assert review.client.get("/audit/records/req_clean").headers["cache-control"] == "no-store"


def test_the_stylesheet_is_served_from_the_package(review: Review) -> None:
    response = review.client.get("/audit/static/audit.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "svg.chart" in response.text


@pytest.mark.parametrize(
    "path", ["/audit/nope", "/audit/static/missing.css", "/audit/records/a/b", "/audit/admin"]
)
def test_unknown_paths_are_404(review: Review, path: str) -> None:
    assert review.login(review.auditor) == 303
    assert review.client.get(path, follow_redirects=False).status_code == 404


def test_wrong_methods_are_405(review: Review) -> None:
    assert review.client.get("/audit/logout").status_code == 405
    assert review.client.post("/audit/records", headers={"origin": ORIGIN}).status_code == 405


def test_an_oversized_login_form_is_refused(review: Review) -> None:
    response = review.client.post(
        "/audit/login",
        content=b"key=" + b"x" * 20000,
        headers={"origin": ORIGIN, "content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 413
