"""presidio's ``AnalyzerEngine`` without its per-call bookkeeping, for many calls on short texts.

The PII detector calls ``analyze`` once per text and once per region of a normalised view that it
reads (``pii_focus``): on entity-dense text that is a dozen calls per message, many on a few hundred
characters, where presidio's fixed cost per call (choosing the recognizers for the entities asked,
and sorting results by recognizer before the context step) outweighs the recognizers' own work.
Both classes here give the same answers as presidio's, with that fixed cost paid once or not at all.
"""

from __future__ import annotations

from typing import Any

from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


class FixedRegistry(RecognizerRegistry):
    """A registry whose recognizers are set once: which of them serve a set of entities is worked
    out once per set (a handful of sets, given by the trigger patterns) instead of on every call,
    and they come in the order they were registered.  Add no recognizer after the first
    ``get_recognizers`` call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chosen: dict[tuple[str, tuple[str, ...] | None, bool], list[EntityRecognizer]] = {}

    def get_recognizers(
        self,
        language: str,
        entities: list[str] | None = None,
        all_fields: bool = False,
        ad_hoc_recognizers: list[EntityRecognizer] | None = None,
    ) -> list[EntityRecognizer]:
        if ad_hoc_recognizers:
            return super().get_recognizers(language, entities, all_fields, ad_hoc_recognizers)
        key = (language, None if entities is None else tuple(entities), all_fields)
        chosen = self._chosen.get(key)
        if chosen is None:
            # presidio returns them in the order of a set of objects, so in an order that changes with
            # memory layout: of two equal findings, which recognizer is named would vary from run to run.
            wanted = set(super().get_recognizers(language, entities, all_fields))
            chosen = self._chosen[key] = [r for r in self.recognizers if r in wanted]
        return list(chosen)  # a copy: presidio's callers may change the list they are given


class LeanAnalyzerEngine(AnalyzerEngine):
    """``AnalyzerEngine`` whose context step sorts the results by recognizer in one pass.

    presidio's step hands each recognizer its own results and everyone else's, built by two scans
    of all results per recognizer (quadratic on dense text), although a recognizer that keeps
    ``EntityRecognizer``'s own ``enhance_using_context`` returns its results untouched.  Here the
    results are grouped once, and "everyone else's" is built only for a recognizer that needs it."""

    def _enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
        by_recognizer: dict[str, list[RecognizerResult]] = {}
        for result in raw_results:
            by_recognizer.setdefault(result.recognition_metadata[key], []).append(result)
        results: list[RecognizerResult] = []
        for recognizer in recognizers:
            own = by_recognizer.get(recognizer.id, [])
            if type(recognizer).enhance_using_context is not EntityRecognizer.enhance_using_context:
                others = [r for r in raw_results if r.recognition_metadata[key] != recognizer.id]
                own = recognizer.enhance_using_context(
                    text=text,
                    raw_recognizer_results=own,
                    other_raw_recognizer_results=others,
                    nlp_artifacts=nlp_artifacts,
                    context=context,
                )
            results.extend(own)
        enhanced: list[RecognizerResult] = self.context_aware_enhancer.enhance_using_context(
            text=text,
            raw_results=results,
            nlp_artifacts=nlp_artifacts,
            recognizers=recognizers,
            context=context,
        )
        return enhanced
