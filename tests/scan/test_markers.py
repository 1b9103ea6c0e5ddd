from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.scan.recognizers.markers import (
    CLASSIFICATION,
    CONFIDENTIALITY,
    PRIVILEGE,
    RULES,
    STRONG,
    ConfidentialityMarkerDetector,
    MarkerRule,
)

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "markers"


@pytest.fixture(scope="module")
def detector() -> ConfidentialityMarkerDetector:
    return ConfidentialityMarkerDetector()


def load(name: str) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def strong(detector: ConfidentialityMarkerDetector, text: str) -> list[tuple[str, str]]:
    return [(h.entity, text[h.start : h.end]) for h in detector.detect(text) if h.score >= STRONG]


# -- corpus ---------------------------------------------------------------------------------------
def test_corpus_recall_and_entities(detector: ConfidentialityMarkerDetector) -> None:
    positives = load("positives.jsonl")
    assert len(positives) >= 60
    spans = found = right_entity = 0
    for record in positives:
        hits = [h for h in detector.detect(record["text"]) if h.score >= STRONG]
        for start, end, entity in record["spans"]:
            spans += 1
            overlapping = [h for h in hits if h.start < end and h.end > start]
            found += bool(overlapping)
            right_entity += any(h.entity == entity for h in overlapping)
    assert found / spans >= 0.95
    assert right_entity / spans >= 0.95


def test_corpus_false_positives(detector: ConfidentialityMarkerDetector) -> None:
    negatives = load("negatives.jsonl")
    assert len(negatives) >= 150
    flagged = [r["id"] for r in negatives if strong(detector, r["text"])]
    assert len(flagged) / len(negatives) <= 0.02, flagged


# -- literal cases --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "entity", "marking"),
    [
        ("CONFIDENTIAL\nQ3 numbers", CONFIDENTIALITY, "CONFIDENTIAL"),
        ("STRICTLY CONFIDENTIAL - board only", CONFIDENTIALITY, "STRICTLY CONFIDENTIAL"),
        ("Deck (INTERNAL ONLY)", CONFIDENTIALITY, "INTERNAL ONLY"),
        ("INTERNAL USE ONLY", CONFIDENTIALITY, "INTERNAL USE ONLY"),
        ("FOR INTERNAL USE\nPrice list", CONFIDENTIALITY, "FOR INTERNAL USE"),
        ("PROPRIETARY\nProcess sheet", CONFIDENTIALITY, "PROPRIETARY"),
        ("This file holds a TRADE SECRET.", CONFIDENTIALITY, "TRADE SECRET"),
        ("DO NOT DISTRIBUTE", CONFIDENTIALITY, "DO NOT DISTRIBUTE"),
        ("Draft - NOT FOR DISTRIBUTION", CONFIDENTIALITY, "NOT FOR DISTRIBUTION"),
        ("Attorney-Client Privileged", PRIVILEGE, "Attorney-Client Privileged"),
        ("Privileged & Confidential", PRIVILEGE, "Privileged & Confidential"),
        ("Attorney Work Product", PRIVILEGE, "Attorney Work Product"),
        ("NDA\nDesign notes", CONFIDENTIALITY, "NDA"),
        ("We are under NDA with them.", CONFIDENTIALITY, "under NDA"),
        ("RESTRICTED\nSite plan", CLASSIFICATION, "RESTRICTED"),
        ("SECRET\nAssessment", CLASSIFICATION, "SECRET"),
        ("TOP SECRET\nAnnex", CLASSIFICATION, "TOP SECRET"),
        ("TLP:RED - IR team only", CLASSIFICATION, "TLP:RED"),
        ("[TLP:AMBER] indicators", CLASSIFICATION, "TLP:AMBER"),
        ("CLASSIFICATION: RESTRICTED", CLASSIFICATION, "CLASSIFICATION: RESTRICTED"),
        ("TOP SECRET//SI//NOFORN", CLASSIFICATION, "TOP SECRET//SI//NOFORN"),
        ("COMPANY CONFIDENTIAL - DO NOT FORWARD", CONFIDENTIALITY, "COMPANY CONFIDENTIAL"),
        (
            "This is the Confidential Information of Acme Corp.",
            CONFIDENTIALITY,
            "Confidential Information of",
        ),
        ("VERTRAULICH", CONFIDENTIALITY, "VERTRAULICH"),
        ("Streng vertraulich: Übernahme", CONFIDENTIALITY, "Streng vertraulich"),
        ("CONFIDENTIEL\nPlan", CONFIDENTIALITY, "CONFIDENTIEL"),
        ("Confidencial\nInforme", CONFIDENTIALITY, "Confidencial"),
        ("Acme Corp Confidential - Page 3 of 12", CONFIDENTIALITY, "Confidential"),
        ("Page 2 | Initech Proprietary", CONFIDENTIALITY, "Proprietary"),
        ("**Confidential**\n\nMerger notes", CONFIDENTIALITY, "Confidential"),
        (
            "This email and any attachments are confidential.",
            CONFIDENTIALITY,
            "This email and any attachments are confidential",
        ),
    ],
)
def test_markings(detector: ConfidentialityMarkerDetector, text: str, entity: str, marking: str) -> None:
    assert (entity, marking) in strong(detector, text)


@pytest.mark.parametrize(
    "text",
    [
        "The secret to good bread is a long, slow fermentation.",
        "Are you doing Secret Santa this year?",
        "SECRET SANTA GIFT IDEAS",
        "THE SECRET TO GOOD BREAD IS TIME",
        "Parking is restricted to residents after 6 pm.",
        "RESTRICTED AREA signs are posted at the gate.",
        "We use a proprietary file format.",
        "PROPRIETARY SOFTWARE VS OPEN SOURCE",
        "Please sign the confidentiality agreement.",
        "Azure Confidential Computing runs workloads in enclaves.",
        "Confidential informants helped the police.",
        "Store the client secret in the vault.",
        "NDAs are common in tech.",
        "nda is the name of our date module",
        "TLP:CLEAR - share freely",
        "UNCLASSIFIED",
        "Please do not share your password with anyone.",
        "Keep it simple.",
    ],
)
def test_ordinary_words_do_not_fire(detector: ConfidentialityMarkerDetector, text: str) -> None:
    assert detector.detect(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Patient records are kept confidential by law.",
        "We signed an NDA with the supplier last week.",
        "The top secret to success is consistency.",
        "Le rapport confidentiel a fuité.",
    ],
)
def test_words_in_sentences_are_weak(detector: ConfidentialityMarkerDetector, text: str) -> None:
    hits = detector.detect(text)
    assert hits
    assert all(0 < h.score < STRONG for h in hits)


def test_assertions_in_sentences_are_strong(detector: ConfidentialityMarkerDetector) -> None:
    text = "Can you keep this confidential between us? I'm thinking about leaving."
    [hit] = detector.detect(text)
    assert text[hit.start : hit.end] == "keep this confidential between us"
    assert STRONG <= hit.score < 0.7


def test_caps_scores_higher_than_prose(detector: ConfidentialityMarkerDetector) -> None:
    [caps] = detector.detect("THIS DECK IS CONFIDENTIAL, THANKS")
    [prose] = detector.detect("this deck is confidential, thanks")
    assert caps.score > prose.score


def test_hit_fields(detector: ConfidentialityMarkerDetector) -> None:
    [hit] = detector.detect("x\nCONFIDENTIAL\ny")
    assert (hit.kind, hit.entity, hit.start, hit.end, hit.detector) == (
        "marker",
        CONFIDENTIALITY,
        2,
        14,
        "markers",
    )


def test_min_score_and_custom_rules() -> None:
    assert ConfidentialityMarkerDetector(min_score=STRONG).detect("kept confidential by law") == []
    rule = MarkerRule(CONFIDENTIALITY, r"eyes\s+of\s+acme", caps=0.9, banner=0.9, prose=0.6)
    detector = ConfidentialityMarkerDetector(name="acme-markers", rules=(rule, *RULES))
    [hit] = detector.detect("for the eyes of Acme staff")
    assert (hit.score, hit.detector) == (0.6, "acme-markers")


def test_long_input_is_linear(detector: ConfidentialityMarkerDetector) -> None:
    text = ("confidential " * 20_000) + ("SECRET " * 20_000) + ("a - " * 50_000)
    started = time.perf_counter()
    detector.detect(text)
    assert time.perf_counter() - started < 5.0


def test_anchor_prefilter_finds_what_the_full_pattern_finds(detector: ConfidentialityMarkerDetector) -> None:
    everywhere = ConfidentialityMarkerDetector(anchors=("",))  # "" occurs everywhere: no prefilter
    texts = [r["text"] for r in load("positives.jsonl") + load("negatives.jsonl")]
    texts.append("line one\nThis e-mail and any attachments\nare confidential.\nSECRET//NOFORN\n(TS//SCI) x")
    for text in texts:
        assert detector.detect(text) == everywhere.detect(text)


def test_text_whose_lowercase_changes_length() -> None:
    text = "\u0130stanbul office\nCONFIDENTIAL"  # "İ" lowercases to two characters
    [hit] = ConfidentialityMarkerDetector().detect(text)
    assert text[hit.start : hit.end] == "CONFIDENTIAL"
