"""High-entropy tokens near a secret word: the net under the vendor rules.

A token counts when a word such as ``token`` or ``key`` precedes it closely, no word that
marks a hash or an identifier (``sha256``, ``commit``, ``public key``) stands between them,
and the token itself looks random (see :func:`secrets_checks.entropy_token`).
"""

from __future__ import annotations

import re

from gateway.scan.recognizers.secrets_stats import entropy_token

TRIGGERS = ("key", "token", "secret", "passw", "pwd", "credential", "auth", "bearer")
_WINDOW = 40

_CANDIDATE = r"(?<![A-Za-z0-9+/=_\-~])[A-Za-z0-9+/_\-~]{20,256}={0,2}(?![A-Za-z0-9+/=_\-~.])"
_STRONG = (
    r"secret|token|passw|pwd|credential|api[ _\-.]?key|apikey|auth[ _\-.]?(?:code|key)|authorization|bearer"
    r"|private[ _\-.]?key|access[ _\-.]?key|signing[ _\-.]?key|encryption[ _\-.]?key|master[ _\-.]?key"
)
# "auth" alone also names modules and services ("auth module"), so it is weak like "key".
_WEAK = r"key(?!word|board|note|stone|frame|chain|pad|stroke|space|ring)|auth(?!or)"
# Words that say the token is a digest or an identifier, not a credential.
_NEGATIVE = (
    r"public[ _\-.]?key|pubkey|certificate|x509|cipher|(?<![a-z])sha(?:-?\d+)?(?![a-z])|md5|hash|checksum"
    r"|digest|commit|fingerprint|integrity|etag|uuid|guid"
    r"|nonce|-----begin|ssh-|ecdsa|revision|build|version|image|trace|span[ _\-]?id|request[ _\-]?id"
    r"|correlation|session[ _\-]?id|transaction|wallet|address|idempotency|cache|primary|partition"
    r"|foreign|sort[ _\-]?key|key[ _\-]?id|keyid|object[ _\-]?key|(?<![a-z])kid(?![a-z])|x-amz-|signature"
)


class EntropyScanner:
    """Finds random-looking tokens in the context of secret words; built once."""

    def __init__(self) -> None:
        self._candidate = re.compile(_CANDIDATE)
        self._negative = re.compile(_NEGATIVE)
        self._strong = re.compile(_STRONG)
        self._weak = re.compile(_WEAK)

    def spans(self, text: str, lowered: str) -> list[tuple[int, int]]:
        found: list[tuple[int, int]] = []
        for m in self._candidate.finditer(text):
            start = m.start()
            strength = self._strength(lowered, max(0, start - _WINDOW), start)
            if strength and entropy_token(m.group(), strong_context=strength == 2):
                found.append((start, m.end()))
        return found

    def _strength(self, lowered: str, lo: int, hi: int) -> int:
        """2 strong, 1 weak, 0 none.

        Searched separately so overlapping words all count ("api_key_id" holds the strong
        "api_key" and the negative "key_id").  A negative word cancels a strong word that starts
        before it ("token sha256: ...") and any weak word at all ("cache key"), since "key"
        alone is too common to outvote it.
        """
        negative = max((m.start() for m in self._negative.finditer(lowered, lo, hi)), default=-1)
        strong = max((m.start() for m in self._strong.finditer(lowered, lo, hi)), default=-1)
        if strong > negative:
            return 2
        return 1 if negative == -1 and self._weak.search(lowered, lo, hi) else 0
