"""Encoded blobs the gateway cannot read: ``suspicious_encoding`` findings.

The decoding views (:mod:`gateway.scan.decode`) turn a base64 or hex run into the text it holds,
compressed or not.  A run they cannot turn into text hides what it holds from every detector, yet
not from whoever receives it: an encrypted value, a stream in a format not opened here (zstd,
brotli, a zip archive), text XOR-ed with a key.  Such a run of at least :data:`MIN_BYTES` decoded
bytes is a ``SUSPICIOUS_ENCODING`` hit spanning the run, for policy to decide on.

Not such a run (over-action matters as much as recall; see ``tests/scan/test_opaque.py``):

* anything under :data:`MIN_BYTES`: digests (SHA-512 is 64 bytes), git ids, UUIDs, nonces, ids,
  signatures of elliptic-curve keys (at most 72 bytes), provider API keys.  A blob that short is
  indistinguishable by its shape from those, and hides at most a few words;
* a run that is not random-looking encoding: base64 without upper-case letters, lower-case letters
  and digits all present (a long identifier or path), hex without both digits and letters (a long
  number); a run of hex digits is read only as hex, never as the base64 it also spells;
* media by its magic number or its ``data:`` URI (image, audio, video, font): what a model reads
  from those is no hidden text, and as a media part the same payload is ``unscannable`` already;
* public key material: DER certificates, keys and requests (a SEQUENCE starting with a SEQUENCE and
  ending exactly at the end of the blob; a private key's first element is its version, an INTEGER),
  SSH public keys, PEM/PGP-armoured blocks with a public label, and a JWT's signature.

This is a different class from ``unscannable``: that one is a whole media part of the request, kept
out of the text segments; this one is a span inside a text segment that could be rewritten.
"""

from __future__ import annotations

import re

from gateway.scan.decode import (
    MAX_DECODED_BYTES,
    MAX_DECODED_RUNS,
    Budget,
    b64_bytes,
    candidates,
    is_text,
    opened,
)
from gateway.scan.findings import Hit
from gateway.scan.only_views import OnlyViews

ENTITY = "SUSPICIOUS_ENCODING"
# Decoded bytes from which an unreadable blob is reported: past every common digest (SHA-512, 64
# bytes), signature of an elliptic-curve key (a DER ECDSA P-256 one is at most 72) and id, with
# room for a salt and a hash side by side (PBKDF2: 16 + 64).  That is 128 base64 or 192 hex digits.
MIN_BYTES = 96
_MIN_CHARS = (MIN_BYTES * 4 + 2) // 3  # the shortest base64 run that can hold MIN_BYTES
_SCORE = 0.9

_HEX = frozenset("0123456789abcdefABCDEF")
# Media and font files by their first bytes (RIFF: WAVE, WEBP, AVI; ftyp at 4: MP4, MOV, HEIC, AVIF).
_MEDIA_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"RIFF",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x01\x00",
    b"BM",
    b"ID3",
    b"\xff\xfb",
    b"\xff\xf3",
    b"\xff\xf2",
    b"OggS",
    b"fLaC",
    b"\x1aE\xdf\xa3",
    b"wOFF",
    b"wOF2",
    b"OTTO",
    b"\x00\x01\x00\x00\x00",
)
_DATA_URI = re.compile(r"data:(?:image|audio|video|font)/[\w.+-]+(?:;[\w.+-]+(?:=[^;,\s]*)?)*,\Z", re.I)
# Armour labels of public material; a private key is the secrets detector's, an encrypted
# message ("PGP MESSAGE", "ENCRYPTED ...") is exactly what this module reports.
_PUBLIC_ARMOUR = frozenset(
    {
        "CERTIFICATE",
        "TRUSTED CERTIFICATE",
        "CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST",
        "X509 CRL",
        "PUBLIC KEY",
        "RSA PUBLIC KEY",
        "EC PARAMETERS",
        "DH PARAMETERS",
        "PGP PUBLIC KEY BLOCK",
        "PGP SIGNATURE",
        "SSH2 PUBLIC KEY",
    }
)
_ARMOUR = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n((?:[\w-]+: [^\n]*\n)*)\s*\Z")
_ARMOUR_REACH = 512  # how far before a block its BEGIN line may be (armour headers between)
_JWT_REACH = 16_384  # how far before a signature its header and payload may start
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_.-]*")  # a JWT's characters, read backwards from its signature
# A value named as public material: a JWK's modulus "n" or chain "x5c", a public key, a signature
# (JSON, YAML, code), or an XML-DSig element.
_PUBLIC_NAME = re.compile(
    r"""(?:["']?\b(?:n|x5c|modulus|public_?key|pub_?key|certificate|cert|signature|sig)["']?\s*[:=]\s*\[?\s*["']?"""
    r"""|<(?:\w+:)?(?:SignatureValue|X509Certificate|Modulus)>\s*)\Z""",
    re.I,
)
# Wrapped encodings (PEM and PGP: 64 characters a line, MIME 76, `xxd -p` 60) have wide lines; a
# list of ids or digests one a line, which the decoding views also join, has narrow ones or lines
# exactly a hex digest long (SHA-256, -384, -512): those are read line by line.
_MIN_WRAP = 60
_DIGEST_WIDTHS = frozenset({64, 96, 128})
_SSH_KEY_TYPE = re.compile(rb"(?:ssh|ecdsa|sk)-[\w@.-]+")


def _blob_bytes(run: str) -> bytes | None:
    """The bytes ``run`` encodes: a run of hex digits as hex (odd: None), anything else as base64."""
    body = run[2:] if run[:2] in ("0x", "0X") else run
    if _HEX.issuperset(body):
        return bytes.fromhex(body) if len(body) % 2 == 0 else None
    return b64_bytes(run)


def _looks_encoded(run: str) -> bool:
    """Whether ``run`` has the character mix of encoded bytes rather than of a name or a number."""
    if _HEX.issuperset(run[2:] if run[:2] in ("0x", "0X") else run):
        return any(c.isdigit() for c in run) and any(c.isalpha() for c in run)
    return any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)


def _der(raw: bytes) -> bool:
    """A DER SEQUENCE whose length ends exactly at the end of ``raw`` and whose first element is a
    SEQUENCE: a certificate, a public key, a request, a CRL."""
    if len(raw) < 4 or raw[0] != 0x30:
        return False
    if raw[1] < 0x80:
        head, size = 2, raw[1]
    elif 0x81 <= raw[1] <= 0x83:
        head = 2 + (raw[1] & 0x7F)
        size = int.from_bytes(raw[2:head])
    else:
        return False
    return head + size == len(raw) and raw[head : head + 1] == b"\x30"


def _ssh_key(raw: bytes) -> bool:
    """An SSH public key blob: a length-prefixed key type ("ssh-rsa", "ecdsa-sha2-nistp256") first."""
    size = int.from_bytes(raw[:4])
    return 7 <= size <= 64 and _SSH_KEY_TYPE.fullmatch(raw[4 : 4 + size]) is not None


def _public(raw: bytes) -> bool:
    return raw.startswith(_MEDIA_MAGIC) or raw[4:8] == b"ftyp" or _der(raw) or _ssh_key(raw)


def _declared(text: str, start: int) -> bool:
    """Whether what comes before ``text[start:]`` says the blob is media or public material."""
    before = text[max(0, start - 200) : start]
    if _DATA_URI.search(before) is not None or _PUBLIC_NAME.search(before[-48:]) is not None:
        return True
    head = text[max(0, start - _ARMOUR_REACH) : start]
    begin = head.rfind("-----BEGIN ")
    if begin >= 0 and (armour := _ARMOUR.match(head, begin)) is not None:
        return armour[1] in _PUBLIC_ARMOUR
    if text[max(0, start - 2) : start] == "}.":  # a JWT's signature after the decoded header, payload
        return True
    if start > 0 and text[start - 1] == ".":  # a JWT's signature follows "header.payload."
        reach = text[max(0, start - _JWT_REACH) : start]
        token = _TOKEN_CHARS.match(reach[::-1])
        parts = reach[len(reach) - (token.end() if token else 0) :].split(".")
        return len(parts) == 3 and parts[0].startswith("eyJ") and parts[2] == ""
    return False


def opaque(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` holding base64 or hex blobs of at least :data:`MIN_BYTES` bytes that no
    decoding view reads as text and that are no media or public key material.  Raises
    :class:`~gateway.scan.decode.NormalizationLimit` where the decoding views would."""
    budget = Budget(MAX_DECODED_RUNS, MAX_DECODED_BYTES)
    spans: list[tuple[int, int]] = []
    for block in candidates(text):
        lines = [block] if len(block) == 1 or _wrapped(text, block) else [[line] for line in block]
        spans += (span for piece in lines if (span := _unreadable(text, piece, budget)) is not None)
    return spans


def _wrapped(text: str, block: list[tuple[int, int]]) -> bool:
    """Whether a block of runs a line apart is one encoding wrapped (PEM, MIME, ``xxd -p``): wide
    lines, not a hex digest's width, and the last line ending its line."""
    (a, b), end = block[0], block[-1][1]
    digests = b - a in _DIGEST_WIDTHS and _HEX.issuperset(text[a:b])
    return b - a >= _MIN_WRAP and not digests and text[end : end + 1] in ("", "\n", "\r")


def _unreadable(text: str, lines: list[tuple[int, int]], budget: Budget) -> tuple[int, int] | None:
    """The span of ``lines`` (one run, or a wrapped block's lines) if it is a suspicious blob."""
    start, end = lines[0][0], lines[-1][1]
    if end - start < _MIN_CHARS:
        return None
    run = "".join(text[a:b] for a, b in lines)
    raw = _blob_bytes(run)
    if raw is None or len(raw) < MIN_BYTES or not _looks_encoded(run.rstrip("=")):
        return None
    if is_text(raw) or _public(raw) or _declared(text, start) or _cut_text(run, start, end, len(text)):
        return None
    if opened(raw, budget, whole=False) is not None:  # the decoding views read it
        return None
    return start, end


def _cut_text(run: str, start: int, end: int, size: int) -> bool:
    """Whether a run at an edge of the text is text cut short there: the engine reads a long text
    in windows, and one may start or end inside an encoded run (which it also decodes whole).  Cut
    at its start, a run is read from each offset the encoding's grid may have had; cut at its end,
    its last character may be cut in two."""
    if start > 0 and end < size:
        return False
    hexed = _HEX.issuperset(run)
    shifts = (0,) if start > 0 else (0, 1) if hexed else (0, 1, 2, 3)
    for shift in shifts:
        piece = run[shift:]
        raw = (
            bytes.fromhex(piece[: len(piece) // 2 * 2]) if hexed else b64_bytes(piece[: len(piece) // 4 * 4])
        )
        if raw is not None and is_text(raw, whole=False):
            return True
    return False


class EncodingDetector:
    """Reports unreadable encoded blobs (:func:`opaque`) as ``SUSPICIOUS_ENCODING`` hits."""

    name = "encoding"
    entity = ENTITY
    # The spellings views (rot13, reversed, leet...) turn a random blob into another and a readable one
    # into noise, and ``digits`` glues digit groups into runs nobody wrote.  These keep blobs as they
    # were written, or show them whole (invisibles, look-alikes, JSON escapes, %xx, HTML entities
    # undone), or show what decoding left encoded (a blob nested in another).
    skip_views = OnlyViews("raw", "clean", "nfkc", "skeleton", "base64", "hex", "percent", "json", "entities")

    def detect(self, text: str) -> list[Hit]:
        return [Hit("suspicious_encoding", ENTITY, a, b, _SCORE, self.name) for a, b in opaque(text)]
