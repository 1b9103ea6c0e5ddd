"""The audit review pages in real headless Chromium, against the real gateway after real SDK traffic.

Uses the system's Chromium (Debian package `chromium`) through Playwright: no browser is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.auth import create_key
from tests.e2e.conftest import Gateway

CHROMIUM = Path("/usr/bin/chromium")
EMAIL = "maria.gonzalez@example.org"


@dataclass(frozen=True)
class Traffic:
    clean: str
    email: str
    local: str
    auditor_key: str


@pytest.fixture(scope="module")
def traffic(gateway: Gateway) -> Traffic:
    """Three requests through the gateway with the openai SDK, and an auditor's key."""
    client = gateway.openai()
    ids = []
    for text in (
        "What is the capital of France?",
        f"Write a short reply to {EMAIL} about her invoice.",
        "CONFIDENTIAL - Q3 revenue plan: summarise the attached numbers.",
    ):
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
        ids.append(raw.headers["x-request-id"])
    clean, email, local = (gateway.audit(i) for i in ids)
    assert (clean["action"], email["action"], local["action"]) == ("allow", "pseudonymize", "route_local")
    assert local["destination"] == "local"
    auditor = create_key(gateway.engine, user="audrey", team="security", role="auditor")
    return Traffic(ids[0], ids[1], ids[2], auditor.key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium with "
            "'apt-get install -y --no-install-recommends chromium' (the browser tests drive it through "
            "Playwright; no browser is downloaded)",
            pytrace=False,
        )
    with sync_playwright() as p:
        # --no-sandbox: the CI machines run the tests as root, where Chromium's sandbox cannot start.
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    # A Content-Security-Policy violation shows up as a console error; a missing asset as a 404.
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    # The browser asks for /favicon.ico on its own; the gateway has none (deny by default).
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status == 404 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    yield page
    context.close()
    assert problems == []


def log_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/audit/records")
    expect(page).to_have_url(f"{url}/audit/login")
    page.fill("#key", key)
    page.click("button[type=submit]")


def test_a_user_key_cannot_log_in(gateway: Gateway, traffic: Traffic, page: Page) -> None:
    log_in(page, gateway.url, gateway.key)  # alice's key has the role "user"
    expect(page.get_by_role("alert")).to_contain_text("auditor or admin role")
    page.goto(f"{gateway.url}/audit/records")
    expect(page).to_have_url(f"{gateway.url}/audit/login")


def test_an_auditor_reviews_filters_and_opens_a_record(
    gateway: Gateway, traffic: Traffic, page: Page
) -> None:
    log_in(page, gateway.url, traffic.auditor_key)
    expect(page).to_have_url(f"{gateway.url}/audit/records")
    expect(page.locator("header .who")).to_have_text("audrey (auditor)")
    rows = page.locator("table.records tbody tr")
    for request_id in (traffic.clean, traffic.email, traffic.local):
        expect(page.locator(f'a[href="/audit/records/{request_id}"]')).to_have_count(1)
    # The stylesheet from the package applied (no inline styles are allowed by the CSP).
    assert page.locator("header.top").evaluate("e => getComputedStyle(e).display") == "flex"
    # The e-mail address was pseudonymized: the class and count are shown, never the value.
    assert EMAIL not in page.content()
    expect(page.locator("table.records")).to_contain_text("EMAIL_ADDRESS")

    page.select_option("select[name=destination]", "local")
    page.click("form.search button[type=submit]")
    expect(page).to_have_url(re.compile(r"/audit/records\?.*destination=local"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("route_local")

    page.select_option("select[name=destination]", "")
    page.select_option("select[name=action]", "pseudonymize")
    page.click("form.search button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("EMAIL_ADDRESS")

    rows.first.locator("a.record-link").click()
    expect(page).to_have_url(f"{gateway.url}/audit/records/{traffic.email}")
    expect(page.locator("h1")).to_contain_text(traffic.email)
    expect(page.locator("dd.action")).to_have_text("pseudonymize")
    expect(page.locator("main")).to_contain_text("personal-data-pseudonymized")
    expect(page.locator("table.classes")).to_contain_text("contact, personal_data")
    assert EMAIL not in page.content()

    page.click("header button[type=submit]")  # log out
    expect(page).to_have_url(f"{gateway.url}/audit/login")
    page.goto(f"{gateway.url}/audit/dashboard")
    expect(page).to_have_url(f"{gateway.url}/audit/login")


def test_the_dashboard_draws_charts(gateway: Gateway, traffic: Traffic, page: Page) -> None:
    log_in(page, gateway.url, traffic.auditor_key)
    page.goto(f"{gateway.url}/audit/dashboard")
    for section in ("traffic", "outcomes", "data-classes", "users"):
        svg = page.locator(f"#{section} svg.chart")
        expect(svg).to_have_count(1)
        bars = svg.locator("rect.bar")
        assert bars.count() > 0, section
        box = bars.first.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, section
    traffic_chart = page.locator("#traffic")
    expect(traffic_chart).to_contain_text("openai (US)")
    expect(traffic_chart).to_contain_text("local (LOCAL)")
    expect(page.locator("#data-classes")).to_contain_text("EMAIL_ADDRESS")
    expect(page.locator("#users")).to_contain_text("alice")


def test_the_review_surface_denies_by_default(gateway: Gateway, traffic: Traffic) -> None:
    http = gateway.http()
    assert http.get("/audit/nope").status_code == 404
    assert http.get("/audit/static/nope.css").status_code == 404
    assert http.get("/audit/records", follow_redirects=False).status_code == 303
    assert http.get("/audit/static/audit.css").status_code == 200
    response = http.post("/audit/login", data={"key": traffic.auditor_key}, follow_redirects=False)
    assert response.status_code == 403  # no Origin: not from the login page
