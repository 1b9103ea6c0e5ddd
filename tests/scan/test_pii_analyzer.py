"""The lean analyzer answers as presidio's own, with its per-call work done once."""

from __future__ import annotations

from typing import Any

import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts

from gateway.scan.pii_analyzer import FixedRegistry, LeanAnalyzerEngine
from gateway.scan.pii_nlp import LoadedSpacyNlpEngine, ScanArtifacts

TEXT = "order 12345 for ACME, ticket 99-41 and order 777"


def _recognizers() -> list[EntityRecognizer]:
    return [
        PatternRecognizer("ORDER", name="orders", patterns=[Pattern("o", r"\b\d{3,5}\b", 0.5)]),
        PatternRecognizer("TICKET", name="tickets", patterns=[Pattern("t", r"\b\d\d-\d\d\b", 0.6)]),
        PatternRecognizer("ORG", name="firms", patterns=[Pattern("f", r"\bACME\b", 0.7)]),
    ]


class Boosting(PatternRecognizer):
    """Raises its own results when another recognizer found something: needs everyone else's."""

    seen_others: list[int]

    def enhance_using_context(
        self,
        text: str,
        raw_recognizer_results: list[RecognizerResult],
        other_raw_recognizer_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        self.seen_others.append(len(other_raw_recognizer_results))
        for result in raw_recognizer_results:
            result.score = min(1.0, result.score + 0.1 * len(other_raw_recognizer_results))
        return raw_recognizer_results


def _boosting() -> Boosting:
    recognizer = Boosting("BRAND", name="boosting", patterns=[Pattern("b", r"\bACME\b", 0.3)])
    recognizer.seen_others = []
    return recognizer


def _answers(engine: AnalyzerEngine, entities: list[str]) -> list[tuple[str, int, int, float, str]]:
    artifacts = ScanArtifacts(
        entities=[], tokens=None, tokens_indices=[], lemmas=[], nlp_engine=None, language="en"
    )
    results = engine.analyze(text=TEXT, language="en", entities=entities, nlp_artifacts=artifacts)
    return sorted(
        (r.entity_type, r.start, r.end, r.score, (r.recognition_metadata or {})["recognizer_name"])
        for r in results
    )


def _engines(recognizers: Any) -> tuple[AnalyzerEngine, AnalyzerEngine]:
    # A blank pipeline: presidio's default engine would try to download a model.
    nlp = LoadedSpacyNlpEngine(spacy.blank("en"))
    stock = AnalyzerEngine(
        registry=RecognizerRegistry(recognizers=recognizers(), supported_languages=["en"]),
        supported_languages=["en"],
        nlp_engine=nlp,
    )
    lean = LeanAnalyzerEngine(
        registry=FixedRegistry(recognizers=recognizers(), supported_languages=["en"]),
        supported_languages=["en"],
        nlp_engine=nlp,
    )
    return stock, lean


def test_same_answers_as_presidio() -> None:
    stock, lean = _engines(_recognizers)
    for entities in (["ORDER", "TICKET", "ORG"], ["ORDER"], ["ORG", "TICKET"]):
        assert _answers(lean, entities) == _answers(stock, entities)
        assert _answers(lean, entities) == _answers(lean, entities)  # the remembered choice


def test_a_recognizer_with_its_own_context_step_still_gets_everyone_elses_results() -> None:
    stock, lean = _engines(lambda: [*_recognizers(), _boosting()])
    entities = ["ORDER", "TICKET", "ORG", "BRAND"]
    expected = _answers(stock, entities)
    assert _answers(lean, entities) == expected
    boosted = [score for entity, _, _, score, _ in expected if entity == "BRAND"]
    assert boosted == [0.3 + 0.1 * 4]  # raised once for each of the 4 others' results
    boosting = list(lean.registry.recognizers)[-1]
    assert isinstance(boosting, Boosting) and boosting.seen_others == [4]


def test_fixed_registry_keeps_registration_order_and_hands_out_copies() -> None:
    orders, tickets, firms = _recognizers()
    registry = FixedRegistry(recognizers=[orders, tickets, firms], supported_languages=["en"])
    chosen = registry.get_recognizers("en", ["ORG", "ORDER"])
    assert chosen == [orders, firms]
    chosen.clear()
    assert registry.get_recognizers("en", ["ORG", "ORDER"]) == [orders, firms]
    assert registry.get_recognizers("en", ["TICKET"]) == [tickets]
