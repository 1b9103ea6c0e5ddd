"""Scoped pattern recognizers find exactly what presidio's whole-text run finds."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from presidio_analyzer import PatternRecognizer, RecognizerResult

from gateway.scan.pii import TRIGGERS
from gateway.scan.pii_nlp import ScanArtifacts
from gateway.scan.recognizers import pii_scoped
from gateway.scan.recognizers.pii_email import OfflineEmailRecognizer
from gateway.scan.recognizers.pii_scoped import (
    RunScoped,
    ScopedIpRecognizer,
    ScopedUrlRecognizer,
    ScopedUsBankRecognizer,
    ScopedUsPassportRecognizer,
    runs_holding,
)

DEV_SAMPLE = Path(__file__).parent / "data" / "presidio_research_sample.json"

# Edges where a scoped run could differ from a whole-text one: punctuation, quotes and brackets at
# both ends, tabs and newlines, non-ASCII spaces and separators (not run boundaries), upper case,
# doubled dots, IPv6 forms with and without digits beside the colons, addresses inside URLs.
TRICKY = [
    "see https://example.com/a/b?c=d, then (www.example.org) and 'http://x.io/p' \"docs.python.org\"",
    "mail:ana.p+tag@sub.example.co.uk;bob@example.com\tcarol@EXAMPLE.ORG\nx@y",
    "a..com b.-com c.COM\u00a0d.net\x1ce.org\u2028f.info\u3000g.dev",
    "1.2.3.4 256.1.1.1 10.0.0.1/24 ::1 :: fe80::1%eth0 ::ffff:192.0.2.1 1:2:3:4:5:6:7:8",
    "DEAD:BEEF:CAFE:BABE:DEAD:BEEF:CAFE:BABE abcd:ef01::2 Note: time 10:30, ratio 3:4.",
    "user@host:port https://user:pw@db.example.com:5432/x mailto:me@example.com?subject=hi",
    "https://ex.com/p\x1cq/r https://ex.com/p\x85q https://ex.com/p\u00a0q/r",
    "licence A1234567 DL:B12345678 T22000129 L01X00T47 AB1234567 BX1234563 123456789 12345678901",
    "12-345-6789X 1A 9X 0123456789012345 X1234567L Z-1234567-L 44051401458 811228-9874 131052-308T",
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
    " bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "Steuer-ID 86095742719, (47036892816) x65929970489 57549285017.\n25768131411-",
    "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669 (A123)"
    " AB\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
    "\u2019quote\u2019 www.\u212a.com x.\u017fa e.g. i.e. U.S.A. v1.2.3 file.py a.b.c.d",
]
# The detector's trigger for licences (four digits) is narrower than presidio's weakest licence
# patterns ("A123"); a known gap, not this module's, so not asserted here.
GATING_GAPS = frozenset({"US_DRIVER_LICENSE"})
ALPHABET = "ab.:@/-_'\"() \t\n\u00a01209fFeETXLZ3456789"


def _texts() -> list[str]:
    data = json.loads(DEV_SAMPLE.read_text(encoding="utf-8"))
    texts = [item["full_text"] for item in data] + TRICKY
    rng = random.Random(3)
    texts += ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(5, 60))) for _ in range(400)]
    pieces = [*TRICKY, "com", "www.", "@example.org", "192.168", ".1", "::", "https://"]
    texts += [" ".join(rng.sample(pieces, 4)) for _ in range(200)]
    return texts


def _key(results: list[RecognizerResult]) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, r.score) for r in results)


def _scoped() -> list[RunScoped]:
    # Every scoped recognizer there is (the e-mail one included), in its default language.
    return [cls() for cls in RunScoped.__subclasses__()]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


@pytest.mark.parametrize("recognizer", _scoped(), ids=lambda r: r.name)
def test_scoped_recognizer_matches_whole_text_run(recognizer: RunScoped, texts: list[str]) -> None:
    entity = recognizer.supported_entities[0]
    trigger = re.compile(TRIGGERS[entity])
    found_any = 0
    for text in texts:
        whole = _key(PatternRecognizer.analyze(recognizer, text, [entity]))
        assert _key(recognizer.analyze(text, [entity])) == whole, text
        # The detector asks for the entity only when its trigger occurs: never when it would be found.
        if whole:
            found_any += 1
            assert entity in GATING_GAPS or trigger.search(text), text
    assert found_any >= 3  # the corpus exercises the patterns, not just their absence


def test_scoped_recognizers_keep_presidios_names() -> None:
    assert ScopedUrlRecognizer().name == "UrlRecognizer"
    assert ScopedIpRecognizer().name == "IpRecognizer"
    assert OfflineEmailRecognizer().name == "EmailRecognizer"


def test_runs_are_whole_whitespace_free_runs_holding_the_trigger() -> None:
    text = "to: (ana@x.org), bob @ c\td@e\n@ ab@@cd\u00a0e@ x"
    runs = [text[start:end] for start, end in runs_holding(re.compile("@"), text)]
    assert runs == ["(ana@x.org),", "@", "d@e", "@", "ab@@cd\u00a0e@"]
    assert runs_holding(re.compile("@"), "no trigger here") == []
    assert runs_holding(re.compile("@"), "@") == [(0, 1)]


def test_recognizers_sharing_a_trigger_share_its_runs_within_one_analysis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "passport 912803456 and account 12345678901, born 1990, see example.com"
    bank, passport = ScopedUsBankRecognizer(), ScopedUsPassportRecognizer()
    assert bank.trigger is passport.trigger
    alone = [_key(r.analyze(text, r.supported_entities)) for r in (bank, passport)]
    calls: list[str] = []
    real = pii_scoped.runs_holding

    def counted(trigger: re.Pattern[str], text: str) -> list[tuple[int, int]]:
        calls.append(trigger.pattern)
        return real(trigger, text)

    monkeypatch.setattr(pii_scoped, "runs_holding", counted)
    artifacts = ScanArtifacts(
        entities=[], tokens=None, tokens_indices=[], lemmas=[], nlp_engine=None, language="en"
    )
    shared = [_key(r.analyze(text, r.supported_entities, artifacts)) for r in (bank, passport)]
    assert shared == alone and any(alone)
    assert calls == [bank.trigger.pattern]  # once for both
    url = ScopedUrlRecognizer()
    url.analyze(text, url.supported_entities, artifacts)
    assert calls == [bank.trigger.pattern, url.trigger.pattern]  # another trigger: its own runs
