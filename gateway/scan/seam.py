"""The detector run on the joints between a request's parts (the seam scan of ``ScanEngine``).

A value split across parts is a structured one -- a card, account or phone number, an e-mail address,
a key -- so the joints are read by presidio's patterns and checksums and the secret rules, without the
statistical model: across a joint, the NER mostly reads two parts' words as one name, and the engine
drops what it reports there anyway (``SEAM_UNSPLIT``).  Without it a joint costs a fraction as much,
which matters because every request with more than one part has joints.
"""

from __future__ import annotations

from typing import Protocol

from gateway.scan.findings import Hit


class _Pii(Protocol):
    def detect_many(self, texts: list[str], *, ner: bool = True) -> list[list[Hit]]: ...


class _Detector(Protocol):
    def detect(self, text: str) -> list[Hit]: ...


class SeamDetector:
    name = "seam"

    def __init__(self, pii: _Pii, secrets: _Detector) -> None:
        self._pii = pii
        self._secrets = secrets

    def detect(self, text: str) -> list[Hit]:
        hits = self._pii.detect_many([text], ner=False)[0]
        hits.extend(self._secrets.detect(text))
        return hits
