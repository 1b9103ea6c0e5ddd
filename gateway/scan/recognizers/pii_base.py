"""Shared helpers for our presidio recognizers: one result constructor and typed context lookups."""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult


class OwnRecognizer(LocalRecognizer):
    """A presidio recognizer of ours: nothing to load, results carry our name for the ``Hit``."""

    name: str  # set by presidio's ``EntityRecognizer.__init__``, which leaves it unannotated

    def load(self) -> None:
        """Patterns are compiled at class definition; there is nothing to load."""

    def result(self, entity: str, start: int, end: int, score: float, why: str) -> RecognizerResult:
        return RecognizerResult(
            entity_type=entity,
            start=start,
            end=end,
            score=min(1.0, score),
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation=why
            ),
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                # Our recognizers weigh their own context; presidio's enhancer must not add to it.
                RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True,
            },
        )


def context_before(text: str, start: int, pattern: re.Pattern[str], chars: int = 40) -> bool:
    """Whether ``pattern`` matches in the ``chars`` characters before ``start``."""
    return pattern.search(text, max(0, start - chars), start) is not None


def context_after(text: str, end: int, pattern: re.Pattern[str], chars: int = 20) -> bool:
    """Whether ``pattern`` matches right at ``end`` (``match``: a ``^`` would not anchor at ``pos``)."""
    return pattern.match(text, end, min(len(text), end + chars)) is not None
