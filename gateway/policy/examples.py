"""``gateway policy test``: run the ``examples:`` of policy files against the policy they belong to.

An example is decided exactly as the gateway would decide the request: scanned by the real engine,
then passed to :func:`~gateway.policy.decide.decide`.  The scan is a parameter, so this module holds
no engine and tests can give it a fake one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.endpoints import DestinationTable
from gateway.exchange import Principal
from gateway.policy.compile import Policy, Target
from gateway.policy.decide import Decision, Facts, decide
from gateway.policy.schema import Example, ExampleDestination
from gateway.policy.stage import target
from gateway.scan.engine import ScanResult
from gateway.scan.report import guess_endpoint, text_request
from gateway.scan.segments import ExtractionLimit
from gateway.settings import DestinationSettings

ScanFn = Callable[[str, dict[str, Any]], ScanResult]

EXAMPLE_KEY_ID = "example"
EXAMPLE_MODEL = "example-model"
# Examples may expect route_local without a local model in the config: the decision is the same,
# only the gateway's ability to carry it out differs.
FALLBACK_LOCAL = Target("local", "local", "LOCAL")


@dataclass(frozen=True, slots=True)
class ExampleResult:
    source: str  # the policy file the example is written in
    name: str
    passed: bool
    detail: str = ""  # why it failed; empty when it passed
    decision: Decision | None = None  # None when the example could not be run


def run_examples(
    policy: Policy,
    scan: ScanFn,
    destinations: DestinationTable | Mapping[str, DestinationSettings],
) -> list[ExampleResult]:
    """Every example of every file in ``policy``, each decided by the whole (combined) policy."""
    table = destinations if isinstance(destinations, DestinationTable) else DestinationTable(destinations)
    local_dest = table.local()
    local = target(local_dest) if local_dest is not None else FALLBACK_LOCAL
    results = []
    for source, file in zip(policy.sources, policy.files, strict=True):
        for example in file.examples:
            results.append(run_example(policy, example, scan, table, local, source=source))
    return results


def run_example(
    policy: Policy,
    example: Example,
    scan: ScanFn,
    table: DestinationTable,
    local: Target,
    *,
    source: str = "",
) -> ExampleResult:
    def failed(detail: str, decision: Decision | None = None) -> ExampleResult:
        return ExampleResult(source, example.name, False, detail, decision)

    dest = _destination(example.destination, table)
    if isinstance(dest, str):
        return failed(dest)
    endpoint, body = _request(example)
    try:
        result = scan(endpoint, body)
    except ExtractionLimit as exc:
        return failed(f"the request cannot be inspected: {exc}")
    request_model = body.get("model")
    model = example.model or (request_model if isinstance(request_model, str) and request_model else None)
    p = example.principal
    facts = Facts(
        principal=Principal(p.user, p.team, p.role, EXAMPLE_KEY_ID),
        destination=dest,
        model=model or EXAMPLE_MODEL,
        endpoint=endpoint,
        findings=result.findings,
    )
    decision = decide(policy, facts, local=local)
    expect = example.expect
    shadow = tuple(f.rule for f in decision.shadow)
    ok = (
        decision.action == expect.action
        and (expect.rules is None or set(decision.rules) == set(expect.rules))
        and (expect.shadow is None or set(shadow) == set(expect.shadow))
    )
    if ok:
        return ExampleResult(source, example.name, True, "", decision)
    wanted = _describe(expect.action, expect.rules, expect.shadow)
    got = _describe(
        decision.action,
        decision.rules,
        shadow if expect.shadow is not None or shadow else None,
    )
    return failed(f"expected {wanted}, got {got}", decision)


def _destination(spec: str | ExampleDestination, table: DestinationTable) -> Target | str:
    """The example's destination, or why there is none."""
    if isinstance(spec, ExampleDestination):
        return Target(spec.name, spec.type, spec.jurisdiction)
    for dest in table:
        if dest.name == spec:
            return target(dest)
    known = ", ".join(d.name for d in table) or "none"
    return (
        f"destination {spec!r} is not in the config's destinations ({known}); name one of them or "
        "describe it inline: {name: ..., type: ..., jurisdiction: ...}"
    )


def _request(example: Example) -> tuple[str, dict[str, Any]]:
    if example.request is not None:
        return example.endpoint or guess_endpoint(example.request), example.request
    assert example.text is not None  # the schema requires exactly one of text and request
    return text_request(example.text, example.endpoint)


def _describe(action: str, rules: Sequence[str] | None, shadow: Sequence[str] | None) -> str:
    out = action
    if rules is not None:
        out += f" [{', '.join(sorted(rules))}]"
    if shadow is not None:
        out += f" shadow [{', '.join(sorted(shadow))}]"
    return out
