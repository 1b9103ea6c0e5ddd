"""What a change to detection did to its findings: dump the engine's findings over a corpus, then
compare two dumps character by character.

    python bench/findings_diff.py dump FILE        # the whole engine over the corpus, to FILE
    python bench/findings_diff.py compare OLD NEW  # characters covered before and not after, and back,
                                                   # and texts whose findings differ in any way

The corpus is the presidio-research dev set's sentences, each also in five evasive spellings (a
quarter of the letters that have one swapped for a Cyrillic look-alike; digits re-separated with
spaces, dashes, dots and zero-width spaces; half the digits full-width; a fifth of the words in
full-width letters; a fifth struck through with a combining mark on every character), plus the
speed benchmark's prompts: 9,024 texts.  Spellings are drawn from a fixed seed, so two dumps of the
same code are equal; run ``dump`` on each commit (a ``git worktree`` for the old one) and compare.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.scan_speed import _dev_sentences, build_prompts  # noqa: E402

_HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}
SPELLINGS = ("raw", "homoglyphs", "separators", "full-width digits", "full-width words", "struck")


def spellings(text: str, rng: random.Random) -> list[str]:
    """``text`` as written and in each evasive spelling of :data:`SPELLINGS`."""
    seps = [" ", "-", ".", "\u200b", ""]
    words = text.split(" ")
    return [
        text,
        "".join(_HOMOGLYPHS[c] if c in _HOMOGLYPHS and rng.random() < 0.25 else c for c in text),
        "".join(c + (rng.choice(seps) if c.isdigit() and rng.random() < 0.3 else "") for c in text),
        "".join(chr(ord(c) + 0xFEE0) if c.isdigit() and rng.random() < 0.5 else c for c in text),
        " ".join(
            "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in w)
            if rng.random() < 0.2
            else w
            for w in words
        ),
        " ".join("".join(c + "\u0336" for c in w) if rng.random() < 0.2 else w for w in words),
    ]


def corpus() -> list[tuple[str, str]]:
    """(spelling, text) pairs."""
    rng = random.Random(3)
    out = [(name, t) for s in _dev_sentences() for name, t in zip(SPELLINGS, spellings(s, rng), strict=True)]
    prompts = build_prompts(12)
    return out + [("prompt", t) for t in prompts["dev"] + prompts["prose"]]


def dump(path: Path) -> None:
    from gateway.scan.build import build_engine
    from gateway.settings import ScanSettings

    engine = build_engine(ScanSettings(cache_size=0))
    texts = corpus()
    started = time.perf_counter()
    found = [
        {
            "spelling": name,
            "findings": [
                [f.hit.entity, f.hit.start, f.hit.end, f.hit.score, f.hit.detector]
                for f in engine.scan_text(text)
            ],
        }
        for name, text in texts
    ]
    path.write_text(json.dumps(found), encoding="utf-8")
    count = sum(len(f["findings"]) for f in found)
    print(f"{len(texts)} texts, {count} findings, {time.perf_counter() - started:.1f} s")


def compare(old_path: Path, new_path: Path) -> None:
    old = json.loads(old_path.read_text(encoding="utf-8"))
    new = json.loads(new_path.read_text(encoding="utf-8"))
    lost: Counter[str] = Counter()
    gained: Counter[str] = Counter()
    changed = []
    for index, (a, b) in enumerate(zip(old, new, strict=True)):
        before = {c for f in a["findings"] for c in range(f[1], f[2])}
        after = {c for f in b["findings"] for c in range(f[1], f[2])}
        lost[a["spelling"]] += len(before - after)
        gained[a["spelling"]] += len(after - before)
        if before != after:
            changed.append(index)
    print(f"characters covered before, not after: {sum(lost.values())}  {dict(+lost)}")
    print(f"characters covered after, not before:  {sum(gained.values())}  {dict(+gained)}")
    print(f"texts whose coverage changed: {len(changed)}  first: {changed[:20]}")
    # Dumps from before scores were recorded hold (entity, start, end) only: compare what both hold.
    width = min((len(f) for dump in (old, new) for item in dump for f in item["findings"]), default=3)
    differ = [
        index
        for index, (a, b) in enumerate(zip(old, new, strict=True))
        if [f[:width] for f in a["findings"]] != [f[:width] for f in b["findings"]]
    ]
    fields = "entity, span, score, detector" if width >= 5 else "entity, span"
    print(f"texts whose findings ({fields}) differ at all: {len(differ)}  first: {differ[:20]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("file", type=Path)
    both = sub.add_parser("compare")
    both.add_argument("old", type=Path)
    both.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.file)
    else:
        compare(args.old, args.new)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
