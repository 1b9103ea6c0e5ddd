"""Detection quality: per-class precision, recall and F2, leak rate and timing on labelled sets.

    python bench/detect_eval.py [--limit N] [--json FILE] [--set NAME ...] [--full-ner | --no-ner]

Sets are registered in :data:`SETS` (one loader function each, returning an :class:`EvalSet`), so
later corpora (secrets, source code, confidentiality markers under ``bench/data/``) are one function
and one line away.  Each set says which of its gold classes are in scope and which predicted
entities are *compatible* with each class.

``presidio-research`` (``../shared/data/presidio-research/synth_dataset_v2.json``, 1,500 synthetic
sentences, MIT) uses its own class names; :data:`PRESIDIO_RESEARCH_CLASSES` maps them explicitly:

    dataset class      compatible predicted entities           note
    PERSON             PERSON
    STREET_ADDRESS     STREET_ADDRESS, LOCATION                 presidio-research maps it to LOCATION
    GPE                LOCATION, STREET_ADDRESS                 a city inside a found address is found
    ZIP_CODE           STREET_ADDRESS, LOCATION
    ORGANIZATION       ORGANIZATION
    NRP                NRP
    EMAIL_ADDRESS      EMAIL_ADDRESS
    PHONE_NUMBER       PHONE_NUMBER
    CREDIT_CARD        CREDIT_CARD
    IBAN_CODE          IBAN_CODE
    US_SSN             US_SSN
    IP_ADDRESS         IP_ADDRESS
    US_DRIVER_LICENSE  US_DRIVER_LICENSE
    DOMAIN_NAME        URL
    out of scope: TITLE ("Mr.", job titles), AGE ("65"), DATE_TIME (a bare date or weekday is not
    personal data; DATE_OF_BIRTH in context is detected and is not scored against DATE_TIME).

Matching rule.  A gold span is *found* when predicted spans of compatible entities together cover
at least half of its non-space characters (so "Vanessa" alone does not find "Vanessa P. Hertzog",
and one digit of an address does not find it).  A predicted span is a *true positive* when it
overlaps a gold span whose class accepts its entity, *ignored* when it only overlaps out-of-scope
gold spans (a PERSON over the TITLE "Dr." is neither right nor wrong), and a *false positive*
otherwise.  Precision for a class counts the predictions whose entity maps to that class first
(:data:`PRIMARY_CLASS`).  F2 weighs recall four times as much as precision.  The *leak rate* is the
share of in-scope gold characters (non-space) that no finding of any entity covers: what would
reach the provider unredacted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO = Path(__file__).resolve().parents[1]
PRESIDIO_RESEARCH = Path(
    os.environ.get(
        "GATEWAY_DEV_SET", REPO.parent / "shared" / "data" / "presidio-research" / "synth_dataset_v2.json"
    )
)

# Recall targets from the issue; printed beside the measured figures.
TARGETS: Mapping[str, float] = {
    "PERSON": 0.90,
    "EMAIL_ADDRESS": 0.99,
    "PHONE_NUMBER": 0.99,
    "CREDIT_CARD": 0.99,
    "IBAN_CODE": 0.99,
    "US_SSN": 0.99,
    "(overall)": 0.90,
}

PRESIDIO_RESEARCH_CLASSES: Mapping[str, frozenset[str]] = {
    "PERSON": frozenset({"PERSON"}),
    "STREET_ADDRESS": frozenset({"STREET_ADDRESS", "LOCATION"}),
    "GPE": frozenset({"LOCATION", "STREET_ADDRESS"}),
    "ZIP_CODE": frozenset({"STREET_ADDRESS", "LOCATION"}),
    "ORGANIZATION": frozenset({"ORGANIZATION"}),
    "NRP": frozenset({"NRP"}),
    "EMAIL_ADDRESS": frozenset({"EMAIL_ADDRESS"}),
    "PHONE_NUMBER": frozenset({"PHONE_NUMBER"}),
    "CREDIT_CARD": frozenset({"CREDIT_CARD"}),
    "IBAN_CODE": frozenset({"IBAN_CODE"}),
    "US_SSN": frozenset({"US_SSN"}),
    "IP_ADDRESS": frozenset({"IP_ADDRESS"}),
    "US_DRIVER_LICENSE": frozenset({"US_DRIVER_LICENSE"}),
    "DOMAIN_NAME": frozenset({"URL"}),
}
PRESIDIO_RESEARCH_OUT_OF_SCOPE = frozenset({"TITLE", "AGE", "DATE_TIME"})

# The class a predicted entity is charged to for precision; unlisted entities keep their own name.
PRIMARY_CLASS: Mapping[str, str] = {"LOCATION": "GPE", "URL": "DOMAIN_NAME"}


class Detector(Protocol):
    def detect_many(self, texts: list[str]) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True, slots=True)
class GoldSpan:
    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[GoldSpan, ...]


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    samples: list[Sample]
    compatible: Mapping[str, frozenset[str]]  # in-scope gold class -> predicted entities that find it
    out_of_scope: frozenset[str] = frozenset()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Predicted:
    entity: str
    start: int
    end: int


@dataclass
class ClassScore:
    gold: int = 0
    found: int = 0
    tp: int = 0
    fp: int = 0

    @property
    def recall(self) -> float | None:
        return self.found / self.gold if self.gold else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def f2(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None or p + r == 0:
            return None
        return 5 * p * r / (4 * p + r)


@dataclass
class Report:
    name: str
    samples: int
    classes: dict[str, ClassScore] = field(default_factory=dict)
    leaked_chars: int = 0
    gold_chars: int = 0
    seconds: float = 0.0
    kilobytes: float = 0.0
    out_of_scope: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def overall_recall(self) -> float:
        gold = sum(c.gold for c in self.classes.values())
        return sum(c.found for c in self.classes.values()) / gold if gold else 0.0

    @property
    def leak_rate(self) -> float:
        return self.leaked_chars / self.gold_chars if self.gold_chars else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "set": self.name,
            "samples": self.samples,
            "overall_span_recall": round(self.overall_recall, 4),
            "leak_rate": round(self.leak_rate, 4),
            "seconds": round(self.seconds, 3),
            "ms_per_kb": round(1000 * self.seconds / self.kilobytes, 3) if self.kilobytes else None,
            "out_of_scope_gold": dict(self.out_of_scope),
            "classes": {
                name: {
                    "gold": c.gold,
                    "found": c.found,
                    "tp": c.tp,
                    "fp": c.fp,
                    "precision": _round(c.precision),
                    "recall": _round(c.recall),
                    "f2": _round(c.f2),
                }
                for name, c in sorted(self.classes.items())
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- sets -------------------------------------------------------------------------------------


def presidio_research(limit: int | None = None, path: Path = PRESIDIO_RESEARCH) -> EvalSet:
    raw = json.loads(path.read_text(encoding="utf-8"))
    samples = [
        Sample(
            text=item["full_text"],
            spans=tuple(
                GoldSpan(s["entity_type"], s["start_position"], s["end_position"]) for s in item["spans"]
            ),
        )
        for item in raw[:limit]
    ]
    return EvalSet(
        name="presidio-research",
        samples=samples,
        compatible=PRESIDIO_RESEARCH_CLASSES,
        out_of_scope=PRESIDIO_RESEARCH_OUT_OF_SCOPE,
        source=str(path),
    )


# name -> loader(limit).  Add secret, code and marker corpora (bench/data/...) here.
def _corpus(name: str, label: str, limit: int | None) -> EvalSet:
    """A corpus under bench/data/<name>/: positives with spans, negatives without (clean text)."""
    folder = REPO / "bench" / "data" / name
    samples: list[Sample] = []
    for file in ("positives.jsonl", "negatives.jsonl"):
        lines = (folder / file).read_text(encoding="utf-8").splitlines()
        for line in [x for x in lines if x.strip()][:limit]:
            item = json.loads(line)
            spans = tuple(GoldSpan(label, int(s[0]), int(s[1])) for s in item.get("spans", []))
            samples.append(Sample(text=item["text"], spans=spans))
    return EvalSet(
        name=name, samples=samples, compatible={label: frozenset({label})}, source=f"bench/data/{name}"
    )


def secrets_corpus(limit: int | None = None) -> EvalSet:
    return _corpus("secrets", "SECRET", limit)


def code_corpus(limit: int | None = None) -> EvalSet:
    return _corpus("code", "SOURCE_CODE", limit)


def markers_corpus(limit: int | None = None) -> EvalSet:
    return _corpus("markers", "MARKER", limit)


SETS: dict[str, Callable[[int | None], EvalSet]] = {
    "presidio-research": presidio_research,
    "secrets": secrets_corpus,
    "code": code_corpus,
    "markers": markers_corpus,
}
# The kind of finding each corpus set is about; its predictions are relabelled to the set's one class.
CORPUS_KINDS: Mapping[str, tuple[str, str]] = {
    "secrets": ("secret", "SECRET"),
    "code": ("code", "SOURCE_CODE"),
    "markers": ("marker", "MARKER"),
}


@dataclass(frozen=True, slots=True)
class _Relabelled:
    entity: str
    start: int
    end: int


class WithoutNer:
    """The PII detector with its statistical model switched off: patterns and name lists only, to
    measure what the NER adds (``--no-ner``)."""

    def __init__(self, detector: Any) -> None:
        self._detector = detector

    def detect_many(self, texts: list[str]) -> list[list[Any]]:
        found: list[list[Any]] = self._detector.detect_many(texts, ner=False)
        return found


class KindDetector:
    """The whole detection engine (every detector, every normalised view), keeping one kind of finding
    at or above ``min_score``: detectors also report weak signals (a lowercase "confidential" in a
    sentence scores 0.3) for policies that want them; 0.5 is where a finding means "this is one"."""

    def __init__(self, engine: Any, kind: str, label: str, min_score: float = 0.5) -> None:
        self._engine = engine
        self._kind = kind
        self._label = label
        self._min_score = min_score

    def detect_many(self, texts: list[str]) -> list[list[_Relabelled]]:
        out = []
        for text in texts:
            hits = [
                loc.hit
                for loc in self._engine.scan_text(text)
                if loc.hit.kind == self._kind and loc.hit.score >= self._min_score
            ]
            out.append([_Relabelled(self._label, h.start, h.end) for h in hits])
        return out


def negatives_flagged(detector: Detector, eval_set: EvalSet) -> tuple[int, int]:
    """(negative samples with any finding, negative samples): the sample-level false-positive rate."""
    negatives = [s.text for s in eval_set.samples if not s.spans]
    flagged = sum(1 for hits in detector.detect_many(negatives) if hits)
    return flagged, len(negatives)


# --- scoring ----------------------------------------------------------------------------------


def evaluate(detector: Detector, eval_set: EvalSet, batch: int = 32, keep_examples: int = 0) -> Report:
    report = Report(name=eval_set.name, samples=len(eval_set.samples))
    for label in eval_set.compatible:
        report.classes[label] = ClassScore()
    accepts: dict[str, set[str]] = {}
    for label, entities in eval_set.compatible.items():
        for entity in entities:
            accepts.setdefault(entity, set()).add(label)
    texts = [s.text for s in eval_set.samples]
    predictions: list[list[Predicted]] = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        for hits in detector.detect_many(texts[i : i + batch]):
            predictions.append([Predicted(h.entity, h.start, h.end) for h in hits])
    report.seconds = time.perf_counter() - started
    report.kilobytes = sum(len(t.encode("utf-8")) for t in texts) / 1024
    for sample, predicted in zip(eval_set.samples, predictions, strict=True):
        _score_sample(report, eval_set, accepts, sample, predicted, keep_examples)
    return report


def _score_sample(
    report: Report,
    eval_set: EvalSet,
    accepts: Mapping[str, set[str]],
    sample: Sample,
    predicted: list[Predicted],
    keep_examples: int,
) -> None:
    text = sample.text
    in_scope = [g for g in sample.spans if g.label in eval_set.compatible]
    for g in sample.spans:
        if g.label in eval_set.out_of_scope:
            report.out_of_scope[g.label] += 1
    covered_any = _coverage(text, [(p.start, p.end) for p in predicted])
    for g in in_scope:
        score = report.classes[g.label]
        score.gold += 1
        chars = [i for i in range(g.start, g.end) if not text[i].isspace()]
        report.gold_chars += len(chars)
        report.leaked_chars += sum(1 for i in chars if i not in covered_any)
        compatible = eval_set.compatible[g.label]
        covered = _coverage(text, [(p.start, p.end) for p in predicted if p.entity in compatible])
        if chars and 2 * sum(1 for i in chars if i in covered) >= len(chars):
            score.found += 1
        elif keep_examples and len(report.examples.setdefault(f"missed {g.label}", [])) < keep_examples:
            report.examples[f"missed {g.label}"].append(repr(text[g.start : g.end]))
    for p in predicted:
        overlapping = [g for g in sample.spans if g.start < p.end and p.start < g.end]
        right = any(g.label in accepts.get(p.entity, ()) for g in overlapping)
        ignored = not right and overlapping and all(g.label in eval_set.out_of_scope for g in overlapping)
        if ignored:
            continue
        label = PRIMARY_CLASS.get(p.entity, p.entity)
        score = report.classes.setdefault(label, ClassScore())
        if right:
            score.tp += 1
        else:
            score.fp += 1
            if keep_examples and len(report.examples.setdefault(f"false {p.entity}", [])) < keep_examples:
                report.examples[f"false {p.entity}"].append(repr(text[p.start : p.end]))


def _coverage(text: str, spans: list[tuple[int, int]]) -> set[int]:
    covered: set[int] = set()
    for start, end in spans:
        covered.update(range(max(0, start), min(len(text), end)))
    return covered


# --- output -----------------------------------------------------------------------------------


def render(report: Report) -> str:
    def fmt(value: float | None) -> str:
        return "   -  " if value is None else f"{value:6.3f}"

    lines = [
        f"set: {report.name} ({report.samples} samples)",
        f"{'class':<28}{'gold':>6}{'found':>7}{'recall':>8}{'prec':>8}{'F2':>8}{'tp':>6}{'fp':>6}  target",
    ]
    for name, c in sorted(report.classes.items(), key=lambda kv: (-kv[1].gold, kv[0])):
        target = TARGETS.get(name)
        mark = (
            ""
            if target is None or c.recall is None
            else f"  >={target:.2f} {'ok' if c.recall >= target else 'MISS'}"
        )
        lines.append(
            f"{name:<28}{c.gold:>6}{c.found:>7}  {fmt(c.recall)}  {fmt(c.precision)}  {fmt(c.f2)}"
            f"{c.tp:>6}{c.fp:>6}{mark}"
        )
    overall = report.overall_recall
    lines.append(
        f"overall span recall {overall:.3f} (target >=0.90 {'ok' if overall >= 0.90 else 'MISS'}); "
        f"leak rate {report.leak_rate:.3f} "
        f"({report.leaked_chars}/{report.gold_chars} sensitive chars uncovered)"
    )
    if report.out_of_scope:
        lines.append(
            "out of scope (not scored): "
            + ", ".join(f"{k} {v}" for k, v in sorted(report.out_of_scope.items()))
        )
    if report.kilobytes:
        lines.append(
            f"time: {report.seconds:.2f} s for {report.kilobytes:.0f} KB "
            f"({1000 * report.seconds / report.kilobytes:.2f} ms/KB, "
            f"{report.samples / report.seconds:.0f} texts/s)"
        )
    for key, values in sorted(report.examples.items()):
        lines.append(f"  {key}: {', '.join(values)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N samples of each set")
    parser.add_argument("--json", metavar="FILE", help="also write the reports as JSON")
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="sets to run (default: all)")
    parser.add_argument("--full-ner", action="store_true", help="run the NER on whole texts, not windows")
    parser.add_argument("--no-ner", action="store_true", help="no NER: patterns and name lists only")
    parser.add_argument(
        "--examples", type=int, default=0, help="print up to N missed/false examples per class"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from gateway.scan.build import build_engine
    from gateway.scan.pii import PiiDetector
    from gateway.settings import ScanSettings

    started = time.perf_counter()
    detector = PiiDetector(full_ner=args.full_ner)
    engine = build_engine(ScanSettings())
    print(f"detectors built in {time.perf_counter() - started:.1f} s")
    reports = []
    for name in args.set or sorted(SETS):
        eval_set = SETS[name](args.limit)
        used: Detector = WithoutNer(detector) if args.no_ner else detector
        if name in CORPUS_KINDS:
            used = KindDetector(engine, *CORPUS_KINDS[name])
        report = evaluate(used, eval_set, keep_examples=args.examples)
        reports.append(report)
        print(render(report))
        if name in CORPUS_KINDS:
            flagged, negatives = negatives_flagged(used, eval_set)
            print(f"  clean samples flagged: {flagged}/{negatives} = {flagged / max(negatives, 1):.3f}\n")
    if args.json:
        Path(args.json).write_text(
            json.dumps([r.to_json() for r in reports], indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
