"""Over-action of the seam scan on clean multi-part requests: how many findings, and how many requests
with any, come only from joints (views ``seam:``/``seam+:``), on text with no sensitive value.

Conversations are built from the clean (negative) samples of the marker, code and secrets corpora:
consecutive samples as alternating user/assistant turns, as content parts, as ``stop`` items and as a
completions prompt list.  A joint finding on them is over-action the seam scan adds.

    python -m bench.seam_overaction            # this checkout
    (cd /tmp/old && PYTHONPATH=/tmp/old python /work/main/bench/seam_overaction.py)   # another one
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from gateway.scan.build import build_engine
from gateway.settings import ScanSettings

DATA = Path(__file__).resolve().parent / "data"


def _texts() -> list[str]:
    texts: list[str] = []
    for name in ("markers", "code", "secrets"):
        for line in (DATA / name / "negatives.jsonl").read_text(encoding="utf-8").splitlines():
            texts.append(json.loads(line)["text"])
    return texts


def _bodies(texts: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for i in range(0, len(texts) - 3, 4):
        a, b, c, d = texts[i : i + 4]
        roles = ["user", "assistant", "user", "assistant"]
        out.append(("chat.completions", {"model": "gpt-4o-mini", "messages": [
            {"role": r, "content": t} for r, t in zip(roles, (a, b, c, d), strict=True)]}))  # fmt: skip
        out.append(("chat.completions", {"model": "gpt-4o-mini", "messages": [
            {"role": "user", "content": [{"type": "text", "text": t} for t in (a, b)]}],
            "stop": [c[:20], d[:20]]}))  # fmt: skip
        out.append(("completions", {"model": "gpt-3.5-turbo-instruct", "prompt": [a, b, c, d]}))
    return out


def main() -> None:
    engine = build_engine(ScanSettings())
    bodies = _bodies(_texts())
    flagged = 0
    entities: Counter[str] = Counter()
    for endpoint, body in bodies:
        seams = [f for f in engine.scan(endpoint, body).findings if f.view.startswith("seam")]
        flagged += bool(seams)
        entities.update(f.entity for f in seams if f.view.startswith("seam:"))
    print(
        f"{len(bodies)} clean multi-part requests: {flagged} with a joint finding "
        f"({flagged / len(bodies):.1%}); joint values by entity: {dict(entities)}"
    )


if __name__ == "__main__":
    sys.exit(main())
