"""Leaks on the held-out corpus, end to end: what reaches the offshore provider through a real gateway.

    python -m bench.heldout_eval [--half test|dev] [--limit N] [--json FILE] [--show N]

Starts loopback fake providers (an offshore OpenAI-format provider and the local model, the test
suite's fakes speaking the real wire format) and a real gateway in this process with the default
policy (``policies/default.yaml``), then sends every sample of ``bench/data/heldout/<half>.jsonl``
(``bench/heldout_make.py``) to ``/v1/chat/completions``, one request each, the user's turns with
an assistant "OK." between them.  Then, from what the offshore provider received (every string in
the bodies, JSON-decoded):

- a value *leaked* when the share ``leaks_with`` of its parts arrived verbatim (all of them; half the
  lines of a piece of code); a part that starts or ends with a letter or digit must stand alone there
  ("Ana" in "Analysis" is not "Ana");
- a clean prompt was *over-actioned* when the provider did not get it unchanged (changed, blocked, or
  routed to the local model);
- *restore*: each answer that came back 200 must read ``echo: `` and the user's last turn as sent: the
  fakes echo it, and the gateway restores what it pseudonymized.

Prints the leak rate of sensitive values per kind, class and evasive form, over-action and restore,
against the issue's targets (values at most 2% leaked, evasive forms at most 5%, over-action at most
2%, restore 100%).  Tune on ``--half dev``; report ``--half test``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "bench" / "data" / "heldout"
TARGETS = {"values": 0.02, "evasive": 0.05, "over-action": 0.02}


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def arrived(part: str, received: str) -> bool:
    head = r"(?<![^\W_])" if part[0].isalnum() else ""
    tail = r"(?![^\W_])" if part[-1].isalnum() else ""
    return re.search(head + re.escape(part) + tail, received) is not None


@dataclass
class Outcome:
    record: dict[str, Any]
    status: int
    destination: str
    leaked: list[bool]  # per value
    unchanged: bool  # the offshore provider got the turns exactly as sent
    restored: bool | None  # None: no answer to check


@dataclass
class Tally:
    leaked: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)

    def add(self, key: str, leaked: bool) -> None:
        self.total[key] += 1
        self.leaked[key] += leaked

    def rate(self, key: str) -> float:
        return self.leaked[key] / self.total[key] if self.total[key] else 0.0


@contextmanager
def gateway() -> Iterator[Any]:
    sys.path.insert(0, str(REPO))
    from tests.e2e.conftest import ANTHROPIC_KEY, LOCAL_KEY, LOCAL_MODEL, OPENAI_KEY, Fakes, start_gateway
    from tests.fakes.providers import FakeAnthropic, FakeOpenAI
    from tests.fakes.server import ThreadedServer

    fake_openai = FakeOpenAI(api_key=OPENAI_KEY)
    fake_anthropic = FakeAnthropic(api_key=ANTHROPIC_KEY)
    fake_local = FakeOpenAI(api_key=LOCAL_KEY, models=[LOCAL_MODEL])
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        urls = [stack.enter_context(ThreadedServer(f)) for f in (fake_openai, fake_anthropic, fake_local)]
        fakes = Fakes(fake_openai, fake_anthropic, urls[0], urls[1], fake_local, urls[2])
        # One client sends everything as fast as it can: the per-key rate limit is not under test.
        gw = start_gateway(fakes, f"sqlite:///{tmp}/heldout.db", limits={"per_key_rate": None})
        try:
            yield gw
        finally:
            gw.close_clients()
            gw.server.stop()
            gw.engine.dispose()


def send(gw: Any, client: Any, record: dict[str, Any]) -> Outcome:
    gw.fakes.reset()
    messages: list[dict[str, str]] = []
    for i, turn in enumerate(record["turns"]):
        if i:
            messages.append({"role": "assistant", "content": "OK."})
        messages.append({"role": "user", "content": turn})
    response = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": messages},
        headers={"authorization": f"Bearer {gw.key}"},
    )
    bodies = [r.json for r in gw.fakes.openai.received if r.path.endswith("/chat/completions")]
    received = "\n".join(s for body in bodies for s in strings(body))
    leaked = []
    for value in record["values"]:
        parts = value["parts"]
        got = sum(arrived(part, received) for part in parts)
        leaked.append(bool(bodies) and got >= value["leaks_with"] * len(parts))
    sent_users = [
        m.get("content") for body in bodies for m in body.get("messages", []) if m.get("role") == "user"
    ]
    unchanged = sent_users == record["turns"]
    restored = None
    if response.status_code == 200:
        content = response.json()["choices"][0]["message"]["content"]
        restored = content == "echo: " + record["turns"][-1]
    destination = response.headers.get("x-gateway-destination", "")
    return Outcome(record, response.status_code, destination, leaked, unchanged, restored)


def report(outcomes: list[Outcome], show: int) -> dict[str, Any]:
    by = Tally()
    over = Tally()
    restore = Tally()
    leaks: list[tuple[str, str, str, str]] = []
    overs: list[tuple[str, str]] = []
    for o in outcomes:
        r = o.record
        if o.restored is not None:
            restore.add("all", not o.restored)
        if r["kind"] == "clean":
            over.add("clean", not o.unchanged)
            if not o.unchanged:
                overs.append((r["id"], r["template"]))
            continue
        evasive = r["form"] != "plain"
        for value, leaked in zip(r["values"], o.leaked, strict=True):
            by.add("all values", leaked)
            by.add("evasive forms" if evasive else "plain forms", leaked)
            by.add(f"kind {r['kind']}", leaked)
            by.add(f"class {r['cls']}", leaked)
            by.add(f"form {r['form']}", leaked)
            if not evasive:
                by.add(f"template {r['cls']}/{r['template']}", leaked)
            if leaked:
                leaks.append((r["id"], r["cls"], r["form"], " | ".join(value["parts"])[:100]))
    print(f"{'':44} {'leaked':>8} {'of':>6} {'rate':>7}")
    for key in sorted(by.total, key=lambda k: (k.split()[0] != "all", k.split()[0], k)):
        print(f"{key:44} {by.leaked[key]:8d} {by.total[key]:6d} {by.rate(key):7.1%}")
    for label, tally, key in (
        ("over-action on clean prompts", over, "clean"),
        ("answers not restored exactly", restore, "all"),
    ):
        print(f"{label:44} {tally.leaked[key]:8d} {tally.total[key]:6d} {tally.rate(key):7.1%}")
    statuses = Counter(o.status for o in outcomes)
    print("statuses:", dict(statuses), " destinations:", dict(Counter(o.destination for o in outcomes)))
    print(
        f"targets: values {by.rate('all values'):.1%} (<= {TARGETS['values']:.0%}), evasive "
        f"{by.rate('evasive forms'):.1%} (<= {TARGETS['evasive']:.0%}), over-action "
        f"{over.rate('clean'):.1%} (<= {TARGETS['over-action']:.0%}), restore "
        f"{1 - restore.rate('all'):.1%} (100%)"
    )
    for leak in leaks[:show]:
        print("LEAK", *leak)
    for item in overs[:show]:
        print("OVER", *item)
    return {
        "rates": {k: {"leaked": by.leaked[k], "total": by.total[k]} for k in by.total},
        "over_action": {"flagged": over.leaked["clean"], "total": over.total["clean"]},
        "not_restored": {"count": restore.leaked["all"], "total": restore.total["all"]},
        "statuses": dict(statuses),
        "leaks": [list(x) for x in leaks],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=["dev", "test"], default="dev")
    parser.add_argument("--file", type=Path, help="another corpus file (more tuning data from another seed)")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--show", type=int, default=0, help="print the first N leaked values (dev only)")
    args = parser.parse_args(argv)
    if args.show and args.half == "test":
        parser.error("--show is for the dev half: the test half's leaks are not for tuning on")
    lines = (args.file or HELDOUT / f"{args.half}.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines[: args.limit]]
    started = time.monotonic()
    with gateway() as gw:
        client = gw.http()
        outcomes = [send(gw, client, r) for r in records]
    print(f"{args.half} half: {len(records)} samples in {time.monotonic() - started:.1f} s")
    shed = [o.record["id"] for o in outcomes if o.status in (429, 503)]
    if shed:  # a refusal for load says nothing about detection
        print(f"{len(shed)} samples were refused for load ({shed[:5]}...): no figures", file=sys.stderr)
        return 1
    result = report(outcomes, args.show)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
