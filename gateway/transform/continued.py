"""Conversations continued by reference: the text a new turn continues, for the seam scan.

A Responses call with ``previous_response_id`` (or a ``conversation`` id) continues text the
destination already holds, so a value split between the stored turn and the new one is never in one
request.  After each Responses call the gateway keeps the tail of what it sent -- the last
:data:`~gateway.scan.engine.SEAM` characters of the request's text, carried over from the turn
before -- encrypted in the pseudonym vault for the vault's TTL, under the caller's key id and the
answer's id (and the conversation id).  The next call that names it is scanned with that tail in front
(``ScanEngine.scan(context=...)``): only the pieces in the new call can be rewritten, so a value that
straddles the two has its new piece pseudonymized, and it never arrives whole.  Nothing else is kept:
no full turns, no answers.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from gateway.exchange import Exchange
from gateway.scan.engine import SEAM, ScanResult
from gateway.transform.vault import Vault, VaultUnavailable

log = logging.getLogger("gateway.transform")

_TAIL = "\x00tail"  # the one "token" of a tail entry in the vault


def references(ex: Exchange, body: dict[str, Any]) -> list[str]:
    """The stored turns this request continues, as vault keys of this caller (empty: none)."""
    if ex.endpoint is None or ex.endpoint.name != "responses" or ex.principal is None:
        return []
    refs: list[str] = []
    previous = body.get("previous_response_id")
    if isinstance(previous, str) and previous:
        refs.append(_key(ex, "response", previous))
    conversation = body.get("conversation")
    if isinstance(conversation, dict):
        conversation = conversation.get("id")
    if isinstance(conversation, str) and conversation:
        refs.append(_key(ex, "conversation", conversation))
    return refs


async def load_context(ex: Exchange, body: dict[str, Any], vault: Vault | None) -> str:
    """The tail of the text this request continues; "" when it continues nothing (or nothing is kept).
    A vault that cannot answer raises VaultUnavailable: the caller fails closed."""
    if vault is None:
        return ""
    for ref in references(ex, body):
        found = (await vault.load(ref)).get(_TAIL)
        if found:
            return found
    return ""


def tail_of(context: str, scan: ScanResult | None) -> str:
    """What the next turn continues: the last SEAM characters of this request's text (model name and
    map keys aside), after the tail it continued itself."""
    if scan is None:
        return context[-SEAM:]
    texts = [s.text for s in scan.extracted.segments if not s.is_key and s.path != ("model",)]
    return (context + "".join(texts))[-SEAM:]


async def save_tail(
    ex: Exchange, body: dict[str, Any], vault: Vault | None, response_id: str, tail: str
) -> None:
    """Keep ``tail`` for the calls that will continue this one (by its answer id or its conversation)."""
    if vault is None or not tail or ex.principal is None:
        return
    keys = [_key(ex, "response", response_id)]
    keys.extend(ref for ref in references(ex, body) if ref.startswith("tail:conversation:"))
    try:
        for key in keys:
            await vault.save(key, {_TAIL: tail})
    except VaultUnavailable:
        # The answer is on its way; only a value split into the next turn could go unseen.  Say so loudly.
        log.error("request %s: vault unavailable, the tail for the next turn was not kept", ex.request_id)


def _key(ex: Exchange, kind: str, ref: str) -> str:
    # Per caller, like the vault's links: an id someone else obtained leads nowhere.  Hashed, so the
    # vault's key column stays bounded and shows no provider ids.
    assert ex.principal is not None
    digest = hashlib.sha256(f"{ex.principal.key_id}\x00{ref}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"tail:{kind}:{digest}"
