"""E-mail addresses with presidio's pattern, validated against the *bundled* public suffix list.

Presidio's ``EmailRecognizer.validate_result`` calls ``tldextract.extract``, whose default extractor
fetches the public suffix list over HTTPS on first use (and writes a cache under ``~/.cache``).
Detection must never touch the network, so this subclass validates with a ``TLDExtract`` that has
no URLs to fetch and no cache directory: it reads the snapshot shipped inside the tldextract wheel.
"""

from __future__ import annotations

import tldextract
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer


class OfflineEmailRecognizer(EmailRecognizer):
    def __init__(self) -> None:
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        super().__init__(name="EmailRecognizer")

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        if "@" not in text:  # every address the pattern takes has one: skip the scan of most text
            return []
        result: list[RecognizerResult] = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return result

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""
