"""Assemble the detection engine from settings, once, at start-up.  Loud on any bad input file."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.scan.engine import Detector, ScanEngine
from gateway.settings import ConfigError, ScanSettings


def build_engine(scan: ScanSettings, *, source: str = "<config>") -> ScanEngine:
    from gateway.scan.pii import PiiDetector
    from gateway.scan.recognizers.code import SourceCodeDetector
    from gateway.scan.recognizers.markers import ConfidentialityMarkerDetector
    from gateway.scan.recognizers.secrets import SecretDetector

    hashes = None
    if scan.spacy_model_hashes:
        try:
            hashes = json.loads(Path(scan.spacy_model_hashes).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{source}: scan.spacy_model_hashes: cannot read {scan.spacy_model_hashes}: {exc}"
            ) from None
    pii = PiiDetector(model_path=scan.spacy_model_path, model_hashes=hashes)
    secrets = SecretDetector()
    detectors: list[Detector] = [pii, secrets, SourceCodeDetector(), ConfidentialityMarkerDetector()]
    seam: list[Detector] = [pii, secrets]
    detectors.extend(_organisation_detectors(scan, source))
    return ScanEngine(detectors, seam_detectors=seam, cache_size=scan.cache_size)


def _organisation_detectors(scan: ScanSettings, source: str) -> list[Detector]:
    return []
