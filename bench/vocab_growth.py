"""Memory over time: RSS of a process whose PII detector reads KBs of never-seen words.

    python bench/vocab_growth.py [--kb 10000] [--every 1000]

Each KB is 170 random 4-12 character tokens (letters and digits, as IDs, keys and codes are), so
every token is new to spaCy's vocabulary: the worst case for a scanner that keeps what it has seen.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rss_mib() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kb", type=int, default=10_000, help="KB of never-seen words to scan")
    parser.add_argument("--every", type=int, default=1_000, help="report every N KB")
    args = parser.parse_args(argv)

    from gateway.scan.pii import PiiDetector

    detector = PiiDetector()
    rng = random.Random(1)
    alphabet = string.ascii_letters + string.digits
    print(f"start: {rss_mib()} MiB")
    for kb in range(1, args.kb + 1):
        detector.detect(" ".join("".join(rng.choices(alphabet, k=rng.randint(4, 12))) for _ in range(170)))
        if kb % args.every == 0:
            model = getattr(detector, "_model", None)
            reloads = f", model reloads: {model.reloads}" if model is not None else ""
            print(f"{kb} KB: {rss_mib()} MiB{reloads}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
