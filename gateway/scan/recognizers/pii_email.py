"""E-mail addresses with presidio's pattern, validated against the *bundled* public suffix list.

Presidio's ``EmailRecognizer.validate_result`` calls ``tldextract.extract``, whose default extractor
fetches the public suffix list over HTTPS on first use (and writes a cache under ``~/.cache``).
Detection must never touch the network, so this subclass validates with a ``TLDExtract`` that has
no URLs to fetch and no cache directory: it reads the snapshot shipped inside the tldextract wheel.
The pattern runs only on the whitespace-free runs of text holding an ``@`` (see ``pii_scoped``).
"""

from __future__ import annotations

import re

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from gateway.scan.recognizers.pii_scoped import RunScoped


class OfflineEmailRecognizer(RunScoped, EmailRecognizer):
    trigger = re.compile("@")  # every address the pattern takes has one

    def __init__(self) -> None:
        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
        super().__init__(name="EmailRecognizer")

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""
