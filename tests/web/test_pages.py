"""The records list, filters, pagination, a record's page and the dashboard, as HTML."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.audit.test_query import insert_rows, make_row
from tests.web.conftest import Review


@pytest.fixture
def signed_in(review: Review) -> Review:
    assert review.login(review.auditor) == 303
    return review


def shown(html: str) -> list[str]:
    """Request ids of the records listed, in order."""
    return re.findall(r'href="/audit/records/([^"?]+)"', html)


def test_the_list_shows_one_row_per_request(signed_in: Review) -> None:
    page = signed_in.client.get("/audit/records")
    assert page.status_code == 200
    assert shown(page.text) == ["req_running", "req_block", "req_local", "req_email", "req_clean"]
    assert "5 records" in page.text
    assert "EMAIL_ADDRESS \u00d72" in page.text
    assert "policy.reload" not in page.text  # events are on the dashboard


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("destination=local", ["req_local"]),
        ("jurisdiction=CN", ["req_block"]),
        ("action=pseudonymize", ["req_email"]),
        ("user=bob", ["req_block", "req_local"]),
        ("team=research", ["req_running", "req_email", "req_clean"]),
        ("data_class=personal_data", ["req_email"]),
        ("data_class=AWS_ACCESS_KEY_ID", ["req_block"]),
        ("status=incomplete", ["req_running"]),
        ("since=2026-03-02", ["req_running", "req_block", "req_local"]),
        ("until=2026-03-01", ["req_email", "req_clean"]),
        ("user=nobody", []),
    ],
)
def test_filters(signed_in: Review, query: str, expected: list[str]) -> None:
    page = signed_in.client.get(f"/audit/records?{query}")
    assert page.status_code == 200
    assert shown(page.text) == expected
    # The form shows what was asked for.
    value = query.split("=")[1]
    assert f'value="{value}"' in page.text or f"<option selected>{value}</option>" in page.text


@pytest.mark.parametrize("query", ["since=last+week", "until=31/12/2026", "status=sideways"])
def test_a_bad_filter_says_so(signed_in: Review, query: str) -> None:
    page = signed_in.client.get(f"/audit/records?{query}")
    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert shown(page.text) == []


def test_pages_of_fifty(signed_in: Review) -> None:
    insert_rows(signed_in.engine, [make_row(f"bulk_{i:03d}", user="bulk") for i in range(120)])
    first = signed_in.client.get("/audit/records?user=bulk")
    assert "120 records, page 1 of 3" in first.text
    assert len(shown(first.text)) == 50
    assert 'rel="prev"' not in first.text
    older = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert older is not None
    second = signed_in.client.get(unescape(older.group(1)))
    assert "page 2 of 3" in second.text
    assert not set(shown(first.text)) & set(shown(second.text))
    last = signed_in.client.get("/audit/records?user=bulk&page=3")
    assert len(shown(last.text)) == 20 and 'rel="next"' not in last.text
    # A silly page number is page 1, not an error.
    assert "page 1 of 3" in signed_in.client.get("/audit/records?user=bulk&page=-4").text


def test_a_record_page_shows_the_whole_record(signed_in: Review) -> None:
    page = signed_in.client.get("/audit/records/req_email")
    assert page.status_code == 200
    for text in (
        "req_email",
        "alice",
        "research",
        "gpt-4o-mini",
        "pseudonymize",
        "personal-data-pseudonymized",
        "EMAIL_ADDRESS",
        "contact, personal_data",
        "ab" * 32,
    ):
        assert text in page.text, text


def test_an_incomplete_record_says_so(signed_in: Review) -> None:
    page = signed_in.client.get("/audit/records/req_running")
    assert page.status_code == 200
    assert "Incomplete" in page.text and '<dd class="status">incomplete</dd>' in page.text


def test_an_unknown_record_is_404(signed_in: Review) -> None:
    assert signed_in.client.get("/audit/records/req_nope").status_code == 404


def test_names_are_escaped_never_markup(signed_in: Review) -> None:
    evil = '<script>alert("x")</script>'
    insert_rows(
        signed_in.engine,
        [
            make_row(
                "req_evil",
                user=evil,
                team='"><img src=x>',
                requested_model="<b>m</b>",
                data_classes={"TERM:<i>x</i>": 1},
                findings=1,
            )
        ],
    )
    for path in ("/audit/records", "/audit/records/req_evil", "/audit/dashboard?since=2026-01-01"):
        page = signed_in.client.get(path)
        assert page.status_code == 200, path
        assert "<script>" not in page.text and "<img" not in page.text and "<b>m" not in page.text, path
        assert "<i>x" not in page.text, path
    assert "&lt;script&gt;" in signed_in.client.get("/audit/records/req_evil").text


def test_the_dashboard_draws_its_charts(signed_in: Review) -> None:
    page = signed_in.client.get("/audit/dashboard?since=2026-03-01&until=2026-03-02")
    assert page.status_code == 200
    charts = re.findall(r'<section id="([a-z-]+)">.*?</section>', page.text, re.S)
    assert charts == ["traffic", "outcomes", "data-classes", "users", "events"]
    for section in ("traffic", "outcomes", "data-classes", "users"):
        body = re.search(rf'<section id="{section}">(.*?)</section>', page.text, re.S)
        assert body is not None
        assert len(re.findall(r'<rect class="bar"', body.group(1))) > 0, section
    # Two days: one bar per destination and hour with traffic.
    traffic = re.search(r'<section id="traffic">(.*?)</section>', page.text, re.S)
    assert traffic is not None
    assert "openai (US)" in traffic.group(1) and "deepseek (CN)" in traffic.group(1)
    assert "2026-03-01 09" in traffic.group(1)
    assert "policy.reload" in page.text


def test_the_dashboard_defaults_to_recent_days(signed_in: Review) -> None:
    # The sample trail is from 2026-03-01; the default window is the last 14 days of today.
    page = signed_in.client.get("/audit/dashboard")
    assert page.status_code == 200
    assert "No data in this period." in page.text


def test_the_dashboard_refuses_a_bad_date(signed_in: Review) -> None:
    assert signed_in.client.get("/audit/dashboard?since=soon").status_code == 400


def test_the_dashboard_says_why_a_policy_change_was_refused(signed_in: Review) -> None:
    from gateway.audit.record import event_row

    problems = "policies/team.yaml:7: rules.0.action: Input should be 'allow'\nterms.yaml:4: list 'x' <b>"
    insert_rows(
        signed_in.engine,
        [event_row("policy.rejected", policy_version="v1", error="policy_invalid", detail=problems)],
    )
    page = signed_in.client.get("/audit/dashboard")
    events = re.search(r'<section id="events">(.*?)</section>', page.text, re.S)
    assert events is not None
    assert "policy_invalid" in events.group(1)
    assert "policies/team.yaml:7: rules.0.action:" in unescape(events.group(1))
    assert "terms.yaml:4: list &#39;x&#39; &lt;b&gt;" in events.group(1)  # escaped, never markup
