"""Pseudonym tokens for one request, and the map that restores them.

A token is derived from an HMAC of the server secret, the conversation key and the value, so the
same value gets the same token in every turn of a conversation and a different one elsewhere.
Two things are checked before a token is handed out, and a collision draws the next candidate
(the HMAC with a counter):

* the token must not occur in the request's own text: otherwise restoring would turn the user's
  literal text into a value;
* the token must not already stand for another value in this conversation.

Style per value (chosen by the policy rule): a typed placeholder ``<PERSON_1a2b3c4d>``, or a
realistic surrogate from :mod:`gateway.transform.surrogates`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from gateway.transform.surrogates import Surrogates

_ATTEMPTS = 64


class TokenCollision(RuntimeError):
    """No free token after many candidates (only a hostile prompt gets here)."""


class Pseudonymizer:
    def __init__(
        self,
        secret: bytes,
        conversation: str,
        *,
        avoid: str = "",
        surrogates: Surrogates | None = None,
        known: Mapping[str, str] | None = None,
    ) -> None:
        self._secret = secret
        self._conversation = conversation.encode()
        self._avoid = avoid
        self._surrogates = surrogates
        self.mapping: dict[str, str] = dict(known or {})  # token -> original value
        self._issued: dict[tuple[str, str, bool], str] = {}

    def token(self, label: str, value: str, *, surrogate: bool = False) -> str:
        key = (label, value, surrogate)
        found = self._issued.get(key)
        if found is not None:
            return found
        for attempt in range(_ATTEMPTS):
            seed = self._seed(label, value, attempt)
            candidate = None
            if surrogate and self._surrogates is not None:
                candidate = self._surrogates.make(label, value, seed)
            if candidate is None:
                candidate = f"<{label}_{seed.hex()[:8]}>"
            owner = self.mapping.get(candidate)
            if candidate == value or (owner is not None and owner != value):
                continue
            if owner is None and candidate in self._avoid:
                continue
            self.mapping[candidate] = value
            self._issued[key] = candidate
            return candidate
        raise TokenCollision("no free pseudonym token")

    def _seed(self, label: str, value: str, attempt: int) -> bytes:
        parts = (b"pseudonym", self._conversation, label.encode(), value.encode("utf-8", "surrogatepass"))
        message = b"".join(len(p).to_bytes(4, "big") + p for p in parts) + attempt.to_bytes(2, "big")
        return hmac.new(self._secret, message, hashlib.sha256).digest()
