"""The held-out half of the recall corpus is frozen: figures on it are figures on text nobody tuned for."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HELDOUT = Path(__file__).resolve().parents[1] / "bench" / "data" / "heldout"
TEST_SHA256 = "a89d18fe2ddbc7b1fb90c127480b0505d93f298aaa812e2b1fda9ab52fb83bde"


def test_test_half_is_unchanged() -> None:
    assert hashlib.sha256((HELDOUT / "test.jsonl").read_bytes()).hexdigest() == TEST_SHA256
    assert TEST_SHA256 in (HELDOUT / "README.md").read_text(encoding="utf-8")


def test_halves_are_disjoint_and_every_value_is_in_its_sample() -> None:
    halves = {
        name: [
            json.loads(line) for line in (HELDOUT / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        for name in ("dev", "test")
    }
    assert len(halves["dev"]) == len(halves["test"]) > 1000
    assert not {r["id"] for r in halves["dev"]} & {r["id"] for r in halves["test"]}
    for records in halves.values():
        for r in records:
            text = "\n".join(r["turns"])
            assert all(part in text for v in r["values"] for part in v["parts"])
            assert (r["kind"] == "clean") == (not r["values"])
