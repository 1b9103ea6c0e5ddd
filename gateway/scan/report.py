"""``gateway scan``: findings for a text or a request body, and the policy decision for them, for
people (default) or scripts (``--json``).

Matched values are masked unless ``--show-values`` is given: the output of a scan
is exactly where a secret should not be copied to by accident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.policy.compile import Policy
from gateway.policy.decide import Decision, Fired
from gateway.scan.engine import ScanResult
from gateway.scan.findings import Finding
from gateway.scan.segments import FIELD_NAMES, Extracted

ENDPOINTS = (
    "chat.completions",
    "completions",
    "embeddings",
    "responses",
    "messages",
    "messages.count_tokens",
)


def as_request(raw: str, endpoint: str | None) -> tuple[str, dict[str, Any]]:
    """The (endpoint, body) to scan: a request body as given, or plain text as one user message."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and any(k in body for k in ("messages", "input", "prompt", "system")):
        return endpoint or guess_endpoint(body), body
    return text_request(raw, endpoint)


def text_request(text: str, endpoint: str | None = None) -> tuple[str, dict[str, Any]]:
    """Plain text as the request an endpoint would carry it in (default: one chat.completions user
    message), so endpoint-specific extraction and ``endpoints:`` policy conditions see a real shape."""
    endpoint = endpoint or "chat.completions"
    if endpoint == "completions":
        return endpoint, {"prompt": text}
    if endpoint in ("embeddings", "responses"):
        return endpoint, {"input": text}
    return endpoint, {"messages": [{"role": "user", "content": text}]}


def guess_endpoint(body: dict[str, Any]) -> str:
    if "prompt" in body:
        return "completions"
    if "input" in body:
        return "embeddings" if str(body.get("model", "")).startswith("text-embedding") else "responses"
    if "system" in body or _has_anthropic_blocks(body.get("messages")):
        return "messages"
    return "chat.completions"


def _has_anthropic_blocks(messages: Any) -> bool:
    """Anthropic-only content blocks: tool_use/tool_result, documents, and images with a ``source``."""
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            kind = block.get("type") if isinstance(block, dict) else None
            if kind in ("tool_use", "tool_result", "document") or (kind == "image" and "source" in block):
                return True
    return False


def _path(path: Sequence[str | int], *, show_values: bool) -> str:
    """A JSON path for people.  Keys that are not API field names (user-chosen metadata keys, tool
    argument names) can themselves be sensitive, so they are masked like values."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if show_values or part in FIELD_NAMES else "<key>"
        out += f".{name}" if out else name
    return out or "<body>"


def _mask(value: str) -> str:
    # Short values are masked whole: showing four characters of a six-character PIN shows most of it.
    if len(value) <= 12:
        return f"<{len(value)} chars>"
    return f"{value[:2]}…{value[-2:]} ({len(value)} chars)"


def _value(extracted: Extracted, finding: Finding) -> str | None:
    if finding.segment < 0 or finding.segment >= len(extracted.segments):
        return None
    return extracted.segments[finding.segment].text[finding.start : finding.end]


def to_json(endpoint: str, result: ScanResult, *, show_values: bool) -> dict[str, Any]:
    items = []
    for finding in result.findings:
        segment = result.extracted.segments[finding.segment] if finding.segment >= 0 else None
        value = _value(result.extracted, finding)
        items.append(
            {
                "kind": finding.kind,
                "entity": finding.entity,
                "path": _path(segment.path, show_values=show_values) if segment else None,
                "role": segment.role if segment else None,
                "start": finding.start,
                "end": finding.end,
                "score": round(finding.score, 3),
                "detector": finding.detector,
                "view": finding.view,
                "value": (value if show_values else _mask(value)) if value is not None else None,
            }
        )
    unscannable = [
        {"path": _path(u.path, show_values=show_values), "media": u.media, "size": u.size}
        for u in result.extracted.unscannable
    ]
    return {
        "endpoint": endpoint,
        "segments": len(result.extracted.segments),
        "findings": items,
        "unscannable": unscannable,
        "counts": result.counts(),
        "failed": result.failed,
    }


def to_text(endpoint: str, result: ScanResult, *, show_values: bool) -> str:
    report = to_json(endpoint, result, show_values=show_values)
    lines = [f"scanned {report['segments']} text segments of a {endpoint} request"]
    for item in report["findings"]:
        where = item["path"] or "<request>"
        role = f" ({item['role']})" if item["role"] else ""
        value = f"  {item['value']}" if item["value"] else ""
        lines.append(
            f"  {item['kind']:<11} {item['entity']:<28} {where}{role} [{item['start']}:{item['end']}] "
            f"score {item['score']:.2f} by {item['detector']} in {item['view']} view{value}"
        )
    for item in report["unscannable"]:
        lines.append(f"  unscannable {item['media']:<28} {item['path']} ({item['size']} bytes)")
    if report["failed"]:
        lines.append("SCAN FAILED: the request could not be fully inspected and would not be forwarded.")
    counts = ", ".join(f"{k} x{v}" for k, v in sorted(report["counts"].items()))
    lines.append(f"{len(report['findings'])} findings" + (f": {counts}" if counts else ""))
    return "\n".join(lines)


def decision_to_json(
    decision: Decision, policy: Policy, *, destination: str, model: str, local: str | None
) -> dict[str, Any]:
    """The decision as ``gateway scan --json`` prints it.  ``local``: the configured local destination."""
    where = {rule.id: rule.where for rule in policy.rules}

    def fired(f: Fired) -> dict[str, Any]:
        # Built-in guards (scan failed, unchangeable content) are in no file: where is None.
        return {
            "id": f.rule,
            "action": f.action,
            "where": where.get(f.rule),
            "count": f.count,
            "classes": list(f.classes),
        }

    return {
        "action": decision.action,
        "policy": policy.label,
        "policy_version": decision.policy_version,
        "destination": destination,
        "model": model,
        "rules": [fired(f) for f in decision.fired],
        "shadow": [fired(f) for f in decision.shadow],
        "shadow_action": decision.shadow_action,
        "local": decision.local,
        "local_destination": local if decision.local else None,
        "message": decision.message,
    }


def decision_to_text(report: dict[str, Any]) -> str:
    """People's view of :func:`decision_to_json`."""
    model = f", model {report['model']}" if report["model"] else ""
    lines = [
        f"decision: {report['action']} for destination {report['destination']}{model} "
        f"(policy {report['policy']}, version {report['policy_version']})"
    ]
    for kind, rules in (("", report["rules"]), ("shadow ", report["shadow"])):
        for rule in rules:
            count = (
                f"{rule['count']} value{'s' if rule['count'] != 1 else ''}" if rule["count"] else "request"
            )
            classes = f" ({', '.join(rule['classes'])})" if rule["classes"] else ""
            lines.append(
                f"  {kind}{rule['action']:<12} {rule['id']}  at {rule['where'] or 'built-in'}: "
                f"{count}{classes}"
            )
    if report["shadow"] and report["shadow_action"] != report["action"]:
        lines.append(f"  with shadow rules enforced the decision would be {report['shadow_action']}")
    if report["local"]:
        if report["local_destination"]:
            lines.append(
                f"  the request would be sent to the local destination {report['local_destination']!r} "
                "instead"
            )
        else:
            lines.append(
                "  no local destination is configured, so the gateway would refuse the request (503); it "
                "never falls back to the requested destination"
            )
    if report["message"]:
        lines.append(f"  message: {report['message']}")
    return "\n".join(lines)
