from __future__ import annotations

import random
import time
from typing import Any

import pytest

from gateway.scan.engine import ScanEngine
from gateway.scan.recognizers.terms import PatternTimeoutError, TermConfigError, TermListDetector

LISTS = {
    "codenames": ["Project Nightingale", "Bluebird"],
    "customers": ["Acme Corp", "Acme", "Nestlé", "Müller GmbH", "Straße AG", "北京银行", "Яндекс"],
}


@pytest.fixture(scope="module")
def detector() -> TermListDetector:
    return TermListDetector(LISTS, {"employee_id": r"EMP-\d{6}"})


def found(detector: TermListDetector, text: str) -> list[tuple[str, str]]:
    return [(h.entity, text[h.start : h.end]) for h in detector.detect(text)]


# -- terms ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "variant",
    [
        "Project Nightingale",
        "project-nightingale",
        "PROJECT  NIGHTINGALE",
        "Project_Nightingale",
        "project.nightingale",
        "ProjectNightingale",
        "project\nnightingale",
        "PROJECT - NIGHTINGALE",
        "Project/Nightingale",
    ],
)
def test_case_spacing_and_punctuation_insensitive(detector: TermListDetector, variant: str) -> None:
    text = f"status of {variant} please"
    assert found(detector, text) == [("TERM:codenames", variant)]


@pytest.mark.parametrize(
    "text",
    [
        "Bluebirds nest in spring.",
        "bluebird2 is a username",
        "superbluebird",
        "We finished the project. Nightingale said it went well.",
        "Project, Nightingale and others",
        "Nightingale Project",
        "project -- -- nightingale",
    ],
)
def test_whole_words_only(detector: TermListDetector, text: str) -> None:
    assert found(detector, text) == []


def test_possessive_matches(detector: TermListDetector) -> None:
    assert found(detector, "Bluebird's launch slipped") == [("TERM:codenames", "Bluebird")]
    assert found(detector, "Bluebird\u2019s launch slipped") == [("TERM:codenames", "Bluebird")]


def test_plurals_when_asked() -> None:
    detector = TermListDetector({"codenames": ["Bluebird", "Project Box"]}, plurals=True)
    assert found(detector, "two Bluebirds and the project boxes") == [
        ("TERM:codenames", "Bluebirds"),
        ("TERM:codenames", "project boxes"),
    ]


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("a deal with NESTLE", "NESTLE"),
        ("a deal with nestlé", "nestlé"),
        ("a deal with Nestle\u0301 today", "Nestle\u0301"),  # decomposed accent
        ("invoice for MULLER-GMBH", "MULLER-GMBH"),
        ("strasse ag pays late", "strasse ag"),
        ("我在北京银行工作", "北京银行"),
        (
            "\u0432\u0441\u0442\u0440\u0435\u0447\u0430 \u042f\u041d\u0414\u0415\u041a\u0421",
            "\u042f\u041d\u0414\u0415\u041a\u0421",
        ),  # Cyrillic
    ],
)
def test_unicode(detector: TermListDetector, text: str, term: str) -> None:
    assert found(detector, text) == [("TERM:customers", term)]


def test_longest_match_wins(detector: TermListDetector) -> None:
    assert found(detector, "Acme Corp and Acme") == [
        ("TERM:customers", "Acme Corp"),
        ("TERM:customers", "Acme"),
    ]


def test_a_term_in_two_lists_is_reported_for_each() -> None:
    detector = TermListDetector({"customers": ["Globex"], "competitors": ["globex"]})
    assert sorted(found(detector, "Globex")) == [("TERM:competitors", "Globex"), ("TERM:customers", "Globex")]


def test_hit_fields(detector: TermListDetector) -> None:
    [hit] = detector.detect("x Bluebird")
    assert (hit.kind, hit.entity, hit.start, hit.end, hit.detector) == (
        "term",
        "TERM:codenames",
        2,
        10,
        "terms",
    )
    assert 0 < hit.score <= 1


def test_no_lists_no_hits() -> None:
    assert TermListDetector().detect("Project Nightingale") == []


def test_five_thousand_terms_in_one_pass() -> None:
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ra", "ven", "tor", "ex", "ant", "bel", "cor", "dan", "fi", "gro", "hal"]

    def name() -> str:
        words = [
            "".join(rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(rng.randint(1, 3))
        ]
        return " ".join(words) + rng.choice(["", " Ltd", " GmbH", " Inc"])

    customers = sorted({name() for _ in range(6000)})[:5000]
    detector = TermListDetector({"customers": customers})
    planted = customers[::1000]
    filler = "The quarterly review covered revenue, churn and hiring across all regions. " * 110
    text = filler + " and ".join(planted) + "."
    assert len(text) >= 8000
    started = time.perf_counter()
    hits = detector.detect(text)
    elapsed = time.perf_counter() - started
    assert [text[h.start : h.end] for h in hits] == planted
    assert elapsed < 0.5  # about 1.3 ms here: one pass over the tokens whatever the number of terms


# -- patterns ---------------------------------------------------------------------------------------
def test_pattern_matches(detector: TermListDetector) -> None:
    assert found(detector, "badge EMP-123456 expired") == [("PATTERN:employee_id", "EMP-123456")]


def test_patterns_match_whole_words_by_default(detector: TermListDetector) -> None:
    assert found(detector, "EMP-1234567 and xEMP-123456") == []
    loose = TermListDetector(patterns={"employee_id": r"EMP-\d{6}"}, whole_word_patterns=False)
    assert found(loose, "EMP-1234567") == [("PATTERN:employee_id", "EMP-123456")]


def test_leading_inline_flags_are_kept() -> None:
    detector = TermListDetector(patterns={"customer_id": r"(?i)cust-[a-z0-9]{4}"})
    assert found(detector, "see CUST-ab12 and cust-XY34") == [
        ("PATTERN:customer_id", "CUST-ab12"),
        ("PATTERN:customer_id", "cust-XY34"),
    ]


@pytest.mark.parametrize(
    ("patterns", "message"),
    [
        ({"broken": r"EMP-(\d{6}"}, "pattern 'broken': invalid regular expression"),
        ({"empty": r"x*"}, "pattern 'empty': matches the empty string"),
        ({"blank": ""}, "pattern 'blank': expected a non-empty regular expression"),
        ({"": r"\d+"}, "pattern name '' must be a non-empty string"),
    ],
)
def test_bad_patterns_are_refused_by_name(patterns: dict[str, str], message: str) -> None:
    with pytest.raises(TermConfigError, match=message):
        TermListDetector(patterns=patterns)


@pytest.mark.parametrize(
    ("lists", "message"),
    [
        ({"codenames": "Bluebird"}, "list 'codenames': expected a sequence of terms"),
        ({"codenames": ["---"]}, "list 'codenames': term '---' has no letters or digits"),
        ({"codenames": [42]}, "list 'codenames': term 42 is not a string"),
        ({" ": ["x"]}, "list name ' ' must be a non-empty string"),
    ],
)
def test_bad_lists_are_refused_by_name(lists: dict[str, Any], message: str) -> None:
    with pytest.raises(TermConfigError, match=message):
        TermListDetector(lists)


CATASTROPHIC = {"slow": r"(a|aa)+$"}
SLOW_TEXT = "a" * 60 + "b"


def test_runaway_pattern_times_out_loudly() -> None:
    detector = TermListDetector(patterns=CATASTROPHIC, timeout_s=0.05)
    started = time.perf_counter()
    with pytest.raises(PatternTimeoutError, match=r"pattern 'slow' ran past 0\.05s"):
        detector.detect(SLOW_TEXT)
    assert time.perf_counter() - started < 2.0


def test_timeout_becomes_scan_failed_in_the_engine() -> None:
    engine = ScanEngine([TermListDetector(patterns=CATASTROPHIC, timeout_s=0.05)])
    result = engine.scan("chat.completions", {"messages": [{"role": "user", "content": SLOW_TEXT}]})
    assert result.failed
    assert any(f.kind == "scan_failed" and f.detector == "terms" for f in result.findings)
