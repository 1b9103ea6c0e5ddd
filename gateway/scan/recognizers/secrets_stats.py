"""Statistics of candidate secret values: entropy, character classes, placeholders.

Pure functions of a string, shared by the rule validators (``secrets_checks``) and the
entropy scanner.  The thresholds in :func:`entropy_token` were set on random tokens (so
that under 2% of 20-character base62/base64 tokens are rejected) against identifiers,
digests and slugs that sit next to the word "key" in ordinary code.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Literal

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = frozenset("0123456789abcdefABCDEF")
# Map ASCII letters and digits to one symbol per class, so class runs are regex runs.
_CLASS_OF = str.maketrans(
    string.ascii_uppercase + string.ascii_lowercase + string.digits, "A" * 26 + "a" * 26 + "0" * 10
)
_CLASS_RUNS = re.compile(r"A+|a+|0+|[^Aa0]+")
_WORDS3 = re.compile(r"[A-Za-z][a-z]{2,}")
_WORDS4 = re.compile(r"[A-Za-z][a-z]{3,}")
# Values that only say where the real secret lives, or that a human should fill it in.
_PLACEHOLDER_MARKS = re.compile(
    r"\$\{|\$\(|\{\{|\}\}|#\{|%\(|%[sd]\b|^\$[A-Za-z_]|^%[A-Za-z_]+%$|^<.*>$|^\[.*\]$|^\{[\w.\-]*\}$"
    r"|\{\w{0,30}\}|\*{4,}|^x{3,}$|x{6,}|&#x?[0-9a-f]{1,6};|&[a-z]{2,6};|\.{3}|…|^[•·]+$|^(?:process\.env|os\.environ|env\.|secrets\.|vars\.|var\.)"
    r"|^(?:vault|ref\+|op|sm|awssm|gcpsm|azkv|arn:aws:secretsmanager|ENC\[)[:/\[]"
    r"|your[_\-. ]?|example|placeholder|redacted|dummy|changeme|change[_\-]me|replace[_\-]?me|insert[_\-]"
    r"|^my[_\-]?(?:password|secret|token|key|api[_\-]?key|pass)\d*$|^(?:fake|sample|test|demo)[_\-]",
    re.IGNORECASE,
)
# Whitespace-separated: words that fill a secret's place in configs and code.
_STOPWORD_TEXT = """
none null nil true false yes no on off undefined empty required optional string str bytes number
int integer bool boolean any object text varchar char secret secrets password passwd pass pwd token
tokens key apikey api_key value values default test testing sample dummy todo fixme tbd n/a na
include same-origin omit inherit hidden masked redacted unset changeit admin1 env environ getenv
bearer basic digest oauth jwt header query body cookie form secretstr optional[str] str|none
string|null string|undefined self this params props config settings options opts args kwargs read
write read-write readonly read-only write-all read-all
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` taken as a sample of its own alphabet."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def class_changes(value: str) -> float:
    """Share of neighbouring characters whose class (upper, lower, digit, other) differs.

    Random tokens switch class at about 60% of positions; camelCase identifiers and words
    at under 30%, which is what separates ``sha256WithRSAEncryption`` from a key.
    """
    if len(value) < 2:
        return 0.0
    runs = len(_CLASS_RUNS.findall(value.translate(_CLASS_OF)))
    return (runs - 1) / (len(value) - 1)


def wordlike_share(value: str) -> float:
    """Share of characters inside lowercase runs of 4+ letters (words in an identifier)."""
    return sum(len(run) for run in re.findall(r"[a-z]{4,}", value)) / max(len(value), 1)


def camel_share(value: str, min_word: Literal[3, 4] = 3) -> float:
    """Share of characters in capitalised or lower-case words of ``min_word``+ letters."""
    words = _WORDS3 if min_word == 3 else _WORDS4
    return sum(len(w) for w in words.findall(value)) / max(len(value), 1)


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def is_hex(value: str) -> bool:
    return bool(value) and all(ch in _HEX for ch in value)


def is_stopword(value: str) -> bool:
    """Words that fill a secret's place in config and code: ``none``, ``required``, ``string``..."""
    return value.lower() in _STOPWORDS


def is_placeholder(value: str) -> bool:
    """True for values that stand for a secret rather than being one."""
    v = value.strip().strip("'\"`")
    if len(v) < 4 or v.lower() in _STOPWORDS or not v.strip("*xX.#-_ •·"):
        return True
    if _PLACEHOLDER_MARKS.search(v):
        return True
    # A value that is one character repeated, or nearly so, is a mask, not a secret.
    return len(set(v.lower())) <= 2 and len(v) >= 4


def entropy_token(token: str, strong_context: bool) -> bool:
    """Whether a 20+ character token near a secret word looks random enough to be a secret.

    Tuned on random base62 (rejects under 1% of 20-character tokens) against identifiers
    such as ``BetaClearToolUses20250919EditParam`` and ``sha256WithRSAEncryption``.
    """
    core = token.rstrip("=")
    if len(core) < 20 or is_uuid(core) or core.startswith(("AAAA", "sha", "SHA")):
        return False
    if "/" in core and any(len(seg) >= 4 and seg.isalpha() and seg.islower() for seg in core.split("/")):
        return False  # a path
    upper = any(c.isupper() for c in core)
    lower = any(c.islower() for c in core)
    digit = any(c.isdigit() for c in core)
    alnum = re.sub(r"[^A-Za-z0-9]", "", core)
    if is_hex(alnum) and not (upper and lower):
        # Hex is what hashes and ids look like; only a strong word like "token" makes it a secret.
        return digit and strong_context and len(alnum) >= 24 and shannon_entropy(alnum) >= 3.0
    if not (upper and lower):
        # Single-case base36 is rare for keys and common for slugs: strong context only.
        if not (digit and strong_context and len(alnum) >= 24):
            return False
    elif not digit and (camel_share(core, 4) > 0.4 or class_changes(alnum) < 0.4):
        return False  # letters only: identifiers unless the case flips constantly
    if wordlike_share(core) > 0.5 or camel_share(core, 4) > 0.7 or class_changes(alnum) < 0.3:
        return False
    return shannon_entropy(core) >= (3.5 if len(core) < 32 else 3.8)


# Encodings of files and compressed data (PNG, JPEG, GIF, PDF, zip, gzip, WebP/RIFF, a DER sequence):
# base64 of a file, not a key.
# "AAAA" starts the base64 of an SSH public key's length-prefixed type.
_FILE_MAGIC = ("iVBOR", "/9j/", "R0lGOD", "JVBER", "UEsDB", "H4sI", "UklGR", "MII", "eyJ", "AAAA")
_DIGEST_NAMES = ("sha", "md5", "blake", "xxh", "crc")  # "sha512-..." in a lock file is a digest


def bare_key(token: str) -> bool:
    """Whether a 32+ character token is a key with no word to say so.

    The bars sit under random base64 (of seeded random tokens with both cases and two digits,
    2.8% of 32-character ones, 2.0% of 40 and 0.5% of 64 fail them) and over camelCase
    identifiers, paths and words, which change class far less often.  Hex is a digest's
    alphabet and needs a word (see :func:`entropy_token`).
    """
    core = token.rstrip("=")
    if len(core) < 32 or core.startswith(_FILE_MAGIC) or core.lower().startswith(_DIGEST_NAMES):
        return False
    if is_hex(core) or not (any(c.isupper() for c in core) and any(c.islower() for c in core)):
        return False
    if sum(c.isdigit() for c in core) < 2:
        return False  # letters alone
    if sum(len(seg) >= 3 and seg.isalpha() and seg.islower() for seg in core.split("/")) >= 2:
        return False  # a path: words between the slashes (a key's "/" falls anywhere)
    alnum = re.sub(r"[^A-Za-z0-9]", "", core)
    if class_changes(alnum) < 0.4 or wordlike_share(core) > 0.3:
        return False
    return shannon_entropy(core) >= (4.05 if len(core) < 40 else 4.35)
