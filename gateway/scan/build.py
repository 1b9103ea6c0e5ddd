"""Assemble the detection engine from settings, once, at start-up.  Loud on any bad input file."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from gateway.scan.answer import AnswerDetector
from gateway.scan.engine import Detector, ScanEngine
from gateway.settings import ConfigError, ScanSettings


def build_engine(scan: ScanSettings, *, source: str = "<config>") -> ScanEngine:
    """The engine, built once at start-up.  Afterwards everything alive (the model, the gazetteers,
    the compiled rules) is frozen out of the garbage collector's reach: those ~200,000 objects live
    as long as the process, yet every full collection walked them all, a 0.1-0.15 s pause in
    whichever request was scanning, about once every 70 prompts scanned."""
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
    engine = ScanEngine(
        detectors,
        seam_detectors=seam,
        answer_detector=AnswerDetector(pii, secrets),
        cache_size=scan.cache_size,
    )
    gc.collect()  # the loaders' garbage first: frozen cycles are never freed
    gc.freeze()
    return engine


def _organisation_detectors(scan: ScanSettings, source: str) -> list[Detector]:
    detectors: list[Detector] = []
    if scan.terms:
        detectors.append(load_terms(scan.terms))
    if scan.fingerprints:
        from gateway.scan.recognizers.fingerprints import FingerprintDetector

        try:
            detectors.append(FingerprintDetector.from_file(scan.fingerprints))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{source}: scan.fingerprints: cannot load {scan.fingerprints}: {exc}"
            ) from None
    return detectors


def load_terms(path: str) -> Detector:
    """Term lists and regexes from YAML: ``{lists: {name: [term, ...]}, patterns: {name: regex}}``."""
    import yaml

    from gateway.scan.recognizers.terms import TermConfigError, TermListDetector

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read term lists: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else path
        raise ConfigError(f"{where}: {getattr(exc, 'problem', None) or 'invalid YAML'}") from None
    if not isinstance(data, dict) or set(data) - {"lists", "patterns"}:
        raise ConfigError(f"{path}: expected a mapping with 'lists' and/or 'patterns' only")
    lists, patterns = data.get("lists") or {}, data.get("patterns") or {}
    if not isinstance(lists, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in lists.values()
    ):
        raise ConfigError(f"{path}: lists: each list must be a list of strings")
    if not isinstance(patterns, dict) or not all(isinstance(v, str) for v in patterns.values()):
        raise ConfigError(f"{path}: patterns: each pattern must be a string (a regular expression)")
    try:
        return TermListDetector(
            {str(k): v for k, v in lists.items()}, {str(k): v for k, v in patterns.items()}
        )
    except TermConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
