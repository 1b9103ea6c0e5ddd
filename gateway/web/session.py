"""The review session cookie: the key id and an expiry, signed with a key derived from the server secret.

The cookie never holds the gateway key itself.  Each request re-checks that the key is still active and
still has a reviewer role (gateway/web/guard.py), so revoking a key ends its sessions at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

COOKIE = "gw_audit_session"
LIFETIME_S = 8 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    key_id: str
    expires: int  # Unix time


class SessionSigner:
    def __init__(self, secret: bytes, lifetime_s: int = LIFETIME_S) -> None:
        # Derived, so a cookie signature can never double as any other keyed hash of the server secret.
        self._key = hmac.new(secret, b"audit-ui-session-v1", hashlib.sha256).digest()
        self.lifetime_s = lifetime_s

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, key_id: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.lifetime_s)
        payload = _b64(json.dumps({"k": key_id, "e": expires}, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def verify(self, value: str, now: float | None = None) -> Session | None:
        """The session in ``value``, or None when it is malformed, forged or expired."""
        payload, sep, mac = value.partition(".")
        if not sep or not value.isascii() or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        key_id, expires = data.get("k"), data.get("e")
        if not isinstance(key_id, str) or not isinstance(expires, int):
            return None
        if expires <= (time.time() if now is None else now):
            return None
        return Session(key_id, expires)
