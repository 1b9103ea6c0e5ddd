"""The conversation key: what makes pseudonyms stable across the turns of one conversation.

Chat clients resend the whole history every turn, so a conversation is recognised by how it began:
the key is a digest of the principal and the turns up to and including the first user message
(system prompt, instructions, that message).  Those never change as the conversation grows, so
every later turn derives the same key and the same tokens, with no state on the server.  A client
may name its conversation instead with the ``x-gateway-conversation`` header; the key is then the
principal and that name.  Either way two users never share a key.

Stateful APIs (a Responses request naming ``previous_response_id``) carry no history; their key is
looked up in the vault (:mod:`gateway.transform.vault`) by the previous response's id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gateway.exchange import Principal

HEADER = "x-gateway-conversation"
MAX_HEADER = 200


def conversation_key(principal: Principal, endpoint: str, body: dict[str, Any], header: str | None) -> str:
    if header:
        return _digest("header", principal, header[:MAX_HEADER])
    return _digest(endpoint, principal, _opening(endpoint, body))


def _digest(kind: str, principal: Principal, opening: Any) -> str:
    text = json.dumps([kind, principal.key_id, principal.user, opening], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _opening(endpoint: str, body: dict[str, Any]) -> Any:
    """The part of the request that stays the same in every turn of one conversation."""
    if endpoint == "chat.completions":
        return _until_first_user(body.get("messages"))
    if endpoint in ("messages", "messages.count_tokens"):
        return [body.get("system"), _until_first_user(body.get("messages"))]
    if endpoint == "responses":
        items = body.get("input")
        opening = items if isinstance(items, str) else _until_first_user(items)
        return [body.get("instructions"), opening]
    if endpoint == "completions":
        return body.get("prompt")
    if endpoint == "embeddings":
        return body.get("input")
    return None


def _until_first_user(messages: Any) -> Any:
    if not isinstance(messages, list):
        return messages
    for i, message in enumerate(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return messages[: i + 1]
    return messages
