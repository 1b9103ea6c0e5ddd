"""Stages 6 and 9 for one exchange: change the request's values, and prepare the answer's filter.

Stage 6 (:func:`transform_request`) applies the decision's value actions.  Pseudonyms are keyed by
the conversation (:mod:`gateway.transform.conversation`); a Responses request that continues a
stored conversation (``previous_response_id``) takes that conversation's key and earlier tokens
from the vault, and this turn's tokens are saved before anything leaves, so a later turn can still
restore them.  A vault that cannot answer fails the request (503): the gateway never sends a
request whose answer it could not restore.

Stage 9 (:func:`answer_filter`) builds what the relay runs on the answer: the restore map and the
output guard, which knows the user's own values (anything found in the request) and leaves those alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.errors import GatewayError, PolicyBlocked
from gateway.exchange import Exchange
from gateway.policy.compile import Policy
from gateway.policy.decide import Facts, decide_answer
from gateway.scan.answer import AnswerDetector
from gateway.scan.engine import ScanEngine
from gateway.scan.findings import Finding, Hit
from gateway.transform import continued
from gateway.transform.answer import AnswerFilter
from gateway.transform.answer_guard import Inspect, Replacement
from gateway.transform.apply import Replacer, apply_values
from gateway.transform.conversation import HEADER, conversation_key
from gateway.transform.surrogates import Surrogates
from gateway.transform.tokens import Pseudonymizer, TokenCollision
from gateway.transform.vault import Vault, VaultUnavailable

log = logging.getLogger("gateway.transform")

_NON_ALNUM = re.compile(r"[\W_]+")


class VaultError(GatewayError):
    status = 503
    default_code = "vault_unavailable"


class AnswerScanFailed(GatewayError):
    status = 503
    default_code = "answer_scan_failed"


@dataclass(slots=True)
class Transformed:
    """What stage 6 leaves for stage 9 and for the vault link after the answer."""

    conversation: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    stateful: bool = False  # a Responses conversation the vault follows


async def transform_request(
    ex: Exchange, secret: bytes, surrogates: Surrogates, vault: Vault | None
) -> Transformed:
    assert ex.body is not None and ex.principal is not None and ex.endpoint is not None
    decision, scan = ex.decision, ex.scan
    out = Transformed()
    if decision is None or scan is None:
        return out
    pseudonymizes = any(a == "pseudonymize" for a in decision.values.values())
    continues = ex.endpoint.name == "responses" and isinstance(ex.body.get("previous_response_id"), str)
    known: dict[str, str] = {}
    if pseudonymizes or continues:
        out.conversation = conversation_key(ex.principal, ex.endpoint.name, ex.body, ex.headers.get(HEADER))
    if continues and vault is not None:
        try:
            previous = await vault.conversation_of(_link_id(ex, ex.body["previous_response_id"]))
            if previous is not None:
                out.conversation = previous
                known = await vault.load(previous)
        except VaultUnavailable:
            raise _vault_error(ex) from None
        out.stateful = True
    if not decision.values:
        out.mapping = known
        return out
    pseudonyms = None
    if out.conversation is not None:
        avoid = "\n".join(s.text for s in scan.extracted.segments)
        pseudonyms = Pseudonymizer(secret, out.conversation, avoid=avoid, surrogates=surrogates, known=known)
    try:
        apply_values(
            ex.body,
            scan.extracted,
            scan.findings,
            decision.values,
            Replacer(secret, pseudonyms),
            surrogates=decision.surrogates,
        )
    except TokenCollision:
        raise GatewayError(
            "The gateway could not pseudonymize this request; nothing was sent.", code="pseudonym_collision"
        ) from None
    ex.rewritten = True
    if pseudonyms is not None:
        out.mapping = pseudonyms.mapping
        ex.pseudonyms = len(pseudonyms.mapping) - len(known)
    if ex.endpoint.name == "responses" and vault is not None and pseudonyms is not None:
        out.stateful = True
        try:
            await vault.save(out.conversation or "", out.mapping)
        except VaultUnavailable:
            raise _vault_error(ex) from None
    return out


async def link_response(
    ex: Exchange, done: Transformed, vault: Vault | None, tail: str, response_id: str
) -> None:
    """Before a Responses answer's id reaches the client: that id leads the next turn here, to this
    turn's pseudonyms (when it had any) and to the tail of its text (``tail``, for the seam scan)."""
    assert ex.body is not None
    await continued.save_tail(ex, ex.body, vault, response_id, tail)
    if vault is None or not done.stateful or done.conversation is None:
        return
    try:
        await vault.link(_link_id(ex, response_id), done.conversation)
    except VaultUnavailable:
        # This turn's answer is still restored (its map is in memory); only a later turn continuing from
        # it will find no link and show tokens, never another user's values.  Say so loudly.
        log.error("request %s: vault link failed; the next turn cannot restore earlier tokens", ex.request_id)


async def continued_context(ex: Exchange, body: dict[str, Any], vault: Vault | None) -> str:
    """The tail of the stored turn this request continues ("" for none); 503 when the vault cannot say."""
    try:
        return await continued.load_context(ex, body, vault)
    except VaultUnavailable:
        raise _vault_error(ex) from None


def _link_id(ex: Exchange, response_id: str) -> str:
    """Links are per caller: a response id someone else obtained leads to none of their conversation's
    values (the id is not a secret: it appears in logs, URLs and shared transcripts)."""
    assert ex.principal is not None
    return f"{ex.principal.key_id}:{response_id}"


def _vault_error(ex: Exchange) -> VaultError:
    return VaultError(
        "The gateway's pseudonym vault is unavailable, so the request was not sent. "
        f"Request id: {ex.request_id}."
    )


def answer_filter(
    ex: Exchange, done: Transformed, engine: ScanEngine | None, policy: Policy, secret: bytes
) -> AnswerFilter | None:
    """The filter for this exchange's answer, or ``None`` when nothing needs doing."""
    inspect = strict = None
    scans = engine is not None and engine.scans_answers
    if engine is not None and scans and ex.endpoint is not None:
        strict = _inspector(ex, done, engine.scan_answer, policy, secret, exempt_known=False)
        if ex.endpoint.name != "embeddings":
            inspect = _inspector(ex, done, engine.scan_answer, policy, secret)
    answer = AnswerFilter(done.mapping, inspect, AnswerDetector.worth, strict=strict)
    return answer if answer.active or strict is not None else None


def _inspector(
    ex: Exchange,
    done: Transformed,
    detect: Callable[[str], list[Hit]],
    policy: Policy,
    secret: bytes,
    *,
    exempt_known: bool = True,
) -> Inspect:
    """``exempt_known``: values the user sent are theirs to get back (an answer); without it every
    value found is handled (a destination's error message must not echo the prompt)."""
    assert ex.principal is not None and ex.route is not None and ex.endpoint is not None
    from gateway.policy.stage import target

    known = _known_values(ex, done) if exempt_known else ""
    base = Facts(ex.principal, target(ex.route.destination), ex.model or "", ex.endpoint.name, ())
    replacer = Replacer(secret)
    request_id = ex.request_id

    def inspect(text: str) -> Sequence[Replacement]:
        try:
            hits = detect(text)
        except Exception as exc:  # an unscanned answer is not released
            log.error("request %s: answer scan failed: %s", request_id, type(exc).__name__)
            raise AnswerScanFailed(
                f"The gateway could not inspect the answer, so it was stopped. Request id: {request_id}."
            ) from None
        findings = [
            Finding(h.kind, h.entity, 0, h.start, h.end, h.score, h.detector)
            for h in hits
            if h.end > h.start and not (exempt_known and _is_known(text[h.start : h.end], known))
        ]
        if not findings:
            return []
        decision = decide_answer(policy, replace(base, findings=findings))
        if decision.action == "block":
            raise PolicyBlocked(f"{decision.message} Request id: {request_id}.")
        out: list[Replacement] = []
        for index, action in sorted(decision.values.items(), key=lambda kv: findings[kv[0]].start):
            f = findings[index]
            if out and f.start < out[-1].end:
                last = out[-1]
                out[-1] = Replacement(last.start, max(last.end, f.end), last.text)
                continue
            out.append(Replacement(f.start, f.end, replacer(action, f.entity, text[f.start : f.end])))
        return out

    return inspect


def _known_values(ex: Exchange, done: Transformed) -> str:
    """The user's own text, normalised: a value found in the answer that occurs in it was sent by the
    user (found by a detector in the request or not), so it is theirs to get back."""
    parts = [_norm(v) for v in done.mapping.values()]
    if ex.scan is not None:
        parts.extend(_norm(s.text) for s in ex.scan.extracted.segments)
    return "\x00".join(parts)


def _is_known(value: str, known: str) -> bool:
    norm = _norm(value)
    return not norm or norm in known


def _norm(value: str) -> str:
    return _NON_ALNUM.sub("", value).casefold()
