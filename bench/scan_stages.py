"""Where the scan's time goes: CPU ms per KB in each stage, for the PII detector alone or the whole engine.

    python bench/scan_stages.py [--kind dev|prose] [--prompts N] [--rounds R] [--engine]

The same prompts as ``bench/scan_speed.py``.  Each stage is wrapped in a timer (thread CPU time, which
leaves out waits for a core on a shared machine): the NER (``pii_nlp.run_ner``), presidio's analysis
(every recognizer, and each recognizer on its own), the other detectors, and the rest of the PII
detector (tokenising, choosing what to read, merging).  Timers cost a little; read the shares.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scan_speed import build_prompts  # noqa: E402


def _timed(counter: Counter[str], label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            counter[label] += time.thread_time() - started

    return timed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=("dev", "prose"), default="dev")
    parser.add_argument("--prompts", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", action="store_true", help="the whole engine, not the PII detector alone")
    args = parser.parse_args(argv)

    from gateway.scan import pii
    from gateway.scan.build import build_engine
    from gateway.scan.pii import PiiDetector
    from gateway.settings import ScanSettings

    engine = build_engine(ScanSettings(cache_size=0))
    detector = next(d for d in engine._detectors if isinstance(d, PiiDetector))
    spent: Counter[str] = Counter()
    for recognizer in detector._analyzer.registry.recognizers:
        recognizer.analyze = _timed(spent, f"  recognizer {type(recognizer).__name__}", recognizer.analyze)
    detector._analyzer.analyze = _timed(
        spent, "presidio analysis (all recognizers)", detector._analyzer.analyze
    )
    detector._detect = _timed(spent, "PII detector, all stages", detector._detect)
    pii.run_ner = _timed(spent, "NER", pii.run_ner)  # type: ignore[attr-defined]
    for other in engine._detectors:
        if other is not detector:
            other.detect = _timed(spent, f"detector {other.name}", other.detect)  # type: ignore[method-assign]
    scan = engine.scan_text if args.engine else detector.detect

    prompts = build_prompts(args.prompts)[args.kind]
    for text in prompts[:2]:
        scan(text)
    spent.clear()
    gc.collect()
    gc.freeze()
    kib = args.rounds * sum(len(text.encode()) for text in prompts) / 1024
    started = time.thread_time()
    for _ in range(args.rounds):
        for text in prompts:
            scan(text)
    total = time.thread_time() - started
    what = "engine" if args.engine else "PII detector"
    print(f"{what} on {args.kind} prompts: {1000 * total / kib:.2f} ms/KB")
    for label, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if 1000 * seconds / kib >= 0.05:
            print(f"{1000 * seconds / kib:8.2f}  {label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
