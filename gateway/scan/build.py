"""Assemble the detection engine from settings, once, at start-up.  Loud on any bad input file."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from gateway.scan.answer import AnswerDetector, seam_detector
from gateway.scan.engine import Detector, ScanEngine
from gateway.settings import ConfigError, ScanSettings


def build_engine(scan: ScanSettings, *, source: str = "<config>") -> ScanEngine:
    """The engine, built once at start-up, without the organisation's lists (``scan.terms`` and
    ``scan.fingerprints``): those come and go with the policy (gateway.rules) and are handed to each
    scan (``ScanEngine.with_lists``).  Afterwards everything alive (the model, the gazetteers,
    the compiled rules) is frozen out of the garbage collector's reach: those ~200,000 objects live
    as long as the process, yet every full collection walked them all, a 0.1-0.15 s pause in
    whichever request was scanning, about once every 70 prompts scanned."""
    from gateway.scan.opaque import EncodingDetector
    from gateway.scan.pii import PiiDetector
    from gateway.scan.recognizers.code import SourceCodeDetector
    from gateway.scan.recognizers.markers import ConfidentialityMarkerDetector
    from gateway.scan.recognizers.secrets import SecretDetector
    from gateway.scan.recognizers.secrets_bare import BareKeyDetector
    from gateway.scan.spelled_numbers import GluedNumberDetector, SpelledNumberDetector
    from gateway.scan.spelt_names import SpeltNameDetector

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
    detectors: list[Detector] = [
        pii,
        secrets,
        BareKeyDetector(),
        SourceCodeDetector(),
        ConfidentialityMarkerDetector(),
        EncodingDetector(),
        SpelledNumberDetector(),
        GluedNumberDetector(),
        SpeltNameDetector(pii.names),
    ]
    seam: list[Detector] = [seam_detector(pii, secrets)]
    engine = ScanEngine(
        detectors,
        seam_detectors=seam,
        answer_detector=AnswerDetector(pii, secrets),
        cache_size=scan.cache_size,
        max_text_chars=scan.max_text_chars,
    )
    engine.warm_up(WARM_UP)
    gc.collect()  # the loaders' garbage first: frozen cycles are never freed
    gc.freeze()
    return engine


# Made-up values of the kinds whose recognizers initialise lazily (the e-mail validator's suffix
# list, phonenumbers' per-region patterns, spaCy's lexemes), scanned once at start-up so that the
# first requests do not pay for it: ~30 ms each on the first two requests otherwise.
WARM_UP = (
    "Hi, I am Zo\u00eb Lindqvist, write to zoe.l@example.org or call +46 8 123 456 78 / (415) 555-0134. "
    "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. I live at 12 R\u00faa Nova, Santiago.",
    "Hello, M\u00e1rta Kov\u00e1cs here: marta.k@example.net, phone +36 1 234 5678 or 020 7946 0958, "
    "+33 1 23 45 67 89, 06 12 34 56 78, +49 30 123456. Card 5500 0000 0000 0004, IBAN GB82 WEST 1234 "
    "5698 7654 32. Address 9 Rue de Rivoli, Paris. SSN 078-05-1120, born 1980-01-02, 192.0.2.10.",
)
