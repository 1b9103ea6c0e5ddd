"""Validators for the secret rules: pure functions of a regex match, no I/O, no network.

A rule's pattern finds the shape; its validator rejects what has the shape but is not a
secret (placeholders, identifiers, hashes, type names).  Each validator gets the
:class:`re.Match` so it can look at the surrounding line when the value alone is not
enough (an unquoted ``password = user_password`` is code, ``DB_PASSWORD=hunter2`` is not).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from gateway.scan.recognizers.secrets_stats import (
    camel_share,
    class_changes,
    is_hex,
    is_placeholder,
    is_stopword,
    shannon_entropy,
    wordlike_share,
)

SPAN_GROUPS = ("s", "s2", "s3")

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION = re.compile(r"[\^~><=v]{0,3}\d+(?:\.[\dx*]+){1,3}(?:[\-+][\w.\-]{1,30})?")
_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
# Punctuation that ends a sentence or an expression after an unquoted value.
_TRAILING_PUNCT = ".,;:!?)]}'\"`"


def span_of(m: re.Match[str]) -> tuple[int, int]:
    """The secret's offsets: the first span group that took part, else the whole match."""
    index = m.re.groupindex
    for name in SPAN_GROUPS:
        if name in index and m.start(name) != -1:
            return m.start(name), m.end(name)
    return m.start(), m.end()


def value_of(m: re.Match[str]) -> str:
    start, end = span_of(m)
    return m.string[start:end]


def not_degenerate(m: re.Match[str]) -> bool:
    """Vendor-format tokens filled with ``x`` or ``0`` in docs are placeholders."""
    v = value_of(m)
    return len(set(v)) >= 8 and shannon_entropy(v) >= 3.0 and "xxxxxxxx" not in v.lower()


def mixed_alnum(m: re.Match[str]) -> bool:
    """Upper, lower and digit present: random base62 of 30+ chars nearly always has all three."""
    v = value_of(m)
    return (
        any(c.isupper() for c in v)
        and any(c.islower() for c in v)
        and any(c.isdigit() for c in v)
        and not_degenerate(m)
    )


def openai_key(m: re.Match[str]) -> bool:
    v = value_of(m)
    # The legacy and project key formats embed base64("OpenAI") as a marker.
    return "T3BlbkFJ" in v or mixed_alnum(m)


def aws_secret(m: re.Match[str]) -> bool:
    v = value_of(m)
    if is_hex(v) or wordlike_share(v) > 0.4:
        return False
    return any(c.isupper() for c in v) and any(c.islower() for c in v) and not_degenerate(m)


def digits_hex(m: re.Match[str]) -> bool:
    """A hex value that is not a run of zeros or a keyboard pattern."""
    v = value_of(m)
    return any(c.isdigit() for c in v) and any(c.isalpha() for c in v) and shannon_entropy(v) >= 2.8


def jwt(m: re.Match[str]) -> bool:
    """The header of a real JWT is base64url JSON naming its algorithm."""
    header = value_of(m).split(".", 1)[0]
    decoded = _b64decode(header)
    if decoded is None:
        return False
    try:
        obj = json.loads(decoded)
    except ValueError:
        return False
    return isinstance(obj, dict) and "alg" in obj


def discord_bot(m: re.Match[str]) -> bool:
    """A bot token starts with the bot's user id (a 17-20 digit snowflake) in base64."""
    first = value_of(m).split(".", 1)[0]
    decoded = _b64decode(first)
    return decoded is not None and decoded.isdigit() and 15 <= len(decoded) <= 21


def basic_auth(m: re.Match[str]) -> bool:
    decoded = _b64decode(value_of(m))
    if decoded is None or ":" not in decoded or not decoded.isprintable():
        return False
    user, _, password = decoded.partition(":")
    return bool(user and password) and (len(password) < 4 or not is_placeholder(password))


def _b64decode(part: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(part.replace("+", "-").replace("/", "_") + "=" * (-len(part) % 4))
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def not_placeholder(m: re.Match[str]) -> bool:
    return not is_placeholder(value_of(m))


def url_password(m: re.Match[str]) -> bool:
    """``scheme://user:pass@host``: the scheme must be real and ``host:port@`` is not a password."""
    text, start = m.string, m.start()
    if start == 0 or not text[start - 1].isalnum():
        return False
    pw = value_of(m)
    user = m.group("u") or ""
    if pw.isdigit() and len(pw) <= 5 and "." in user:
        return False
    return not is_placeholder(pw) or (len(pw) < 4 and pw.isalnum() and not is_stopword(pw))


def conn_string(m: re.Match[str]) -> bool:
    """``Password=`` counts when the line is a connection string: other ``Key=value;`` pairs."""
    text = m.string
    line_start = text.rfind("\n", 0, m.start()) + 1
    line_end = text.find("\n", m.end())
    line = text[line_start : line_end if line_end != -1 else len(text)]
    if line.count(";") < 1 or not _CONN_KEYS.search(line):
        return False
    return not_placeholder(m)


_CONN_KEYS = re.compile(
    r"(?i)(?:server|data source|host|user id|uid|user|username|database|initial catalog|port|dsn|driver)\s*="
)


def cli_password(m: re.Match[str]) -> bool:
    v = value_of(m).rstrip(".,;:!?").strip("\"'`")
    if "u" in m.re.groupindex and m.group("u") == v:
        return False  # -u www-data:www-data is a user and group
    if len(v) < 4:  # short ones pass the placeholder test by length; take plain alphanumerics
        return len(v) == 3 and v.isalnum() and not is_stopword(v)
    return not is_placeholder(v)


def prose_password(m: re.Match[str]) -> bool:
    """``the password is X``: X must look like a password, not like the next English word."""
    v = value_of(m).rstrip(_TRAILING_PUNCT)
    if len(v) < 6 or is_placeholder(v):
        return False
    classes = sum((any(c.isalpha() for c in v), any(c.isdigit() for c in v), any(not c.isalnum() for c in v)))
    return classes >= 2 or (v.isdigit() and len(v) >= 6)


def bare_prose_password(m: re.Match[str]) -> bool:
    """``password Tr0ub4dor&3`` with no verb: only a value with letters, digits and a symbol."""
    v = value_of(m).rstrip(".,;:!?")
    classes = (any(c.isalpha() for c in v), any(c.isdigit() for c in v), any(not c.isalnum() for c in v))
    if re.match(r"\w+=", v):
        return False  # the next key=value field of a log line
    return all(classes) and len(v) >= 8 and not is_placeholder(v) and not _VERSION.fullmatch(v)


def assignment(m: re.Match[str]) -> bool:
    """``key = value`` with a secret-sounding key: accept literals, reject code expressions."""
    text = m.string
    start, end = span_of(m)
    value = text[start:end]
    if m.group("s3") is not None:
        value = value.rstrip(_TRAILING_PUNCT) or value  # prose: "Password: required."
    key_start, key = _key_around(text, m.start())
    if _KEY_STOP.search(key) or key == "PWD":  # $PWD is the working directory
        return False
    if " " in value and m.group("k").lower() in value.lower():
        return False  # 'Password used to generate key' describes the value
    if value.startswith(("/", "./", "~/")) and value.count("/") >= 2:
        return False  # a path to a secrets file (or a directory), not the secret
    if m.group("k").lower() == "key" and not _SECRET_KEY_NAME.search(key):
        return False  # a bare "key" is a dict key, a sort key, a YAML mapping key...
    if m.group("comma") is not None and not _call_pair(m, text, key_start, value):
        return False
    if _VERSION.fullmatch(value):
        return False  # "jsonwebtoken": "^9.0.2" names a package, not a token
    if is_placeholder(value) or _ENV_NAME.fullmatch(value):
        return False
    # Compare the value with the key's own words: ``password = password`` is code.
    bare = re.sub(r"[^a-z0-9]", "", value.lower())
    if bare and (bare in re.sub(r"[^a-z0-9]", "", key.lower()) or bare.endswith(_key_word(m))):
        return False
    if (value.isdigit() and len(value) < 6) or _COLOR.fullmatch(value):
        return False
    if text[max(0, start - 64) : m.start()].rstrip().endswith("lambda"):
        return False  # ``lambda token: "x"`` is a parameter
    if not _is_password_key(m) and not _keylike(value):
        return False
    if m.group("s3") is None:  # quoted: a literal, unless code goes on building a string from it
        after = text[end + 1 : end + 10].lstrip()
        return not value.isspace() and not after.startswith((".format", "%", "+", ".replace", ".join"))
    return _unquoted_literal(m, text, value, end)


def _call_pair(m: re.Match[str], text: str, key_start: int, value: str) -> bool:
    """``define('DB_PASSWORD', 'x')``: a quoted name opening a call's arguments, then a quoted value.

    The same shape inside a list (``('pass', 'return', ...)``) is a list of words.
    """
    if m.group("s3") is not None or text[max(0, key_start - 1) : key_start] not in ("'", '"'):
        return False
    if not text[max(0, key_start - 8) : key_start - 1].rstrip().endswith("("):
        return False
    closing = text[m.end() : m.end() + 8].lstrip()
    if not closing.startswith((")", ",")):
        return False
    return not (_IDENT.fullmatch(value) and not any(c.isdigit() for c in value))


def _is_password_key(m: re.Match[str]) -> bool:
    return m.group("k").lower().startswith(("pass", "pw"))


def _keylike(value: str) -> bool:
    """Tokens and API keys have digits or mixed case; ``"_sa_default"`` and ``"bearer"`` are names."""
    if any(c.isdigit() for c in value):
        return True
    return any(c.isupper() for c in value) and any(c.islower() for c in value) and camel_share(value) < 0.6


def _unquoted_literal(m: re.Match[str], text: str, value: str, end: int) -> bool:
    after = text[end : end + 1]
    if after in ("(", "[", "{", ".") or _DOTTED_NAME.fullmatch(value) or value[0] in "&*!@|%":
        return False
    rest = text[end : (text.find("\n", end) + 1 or len(text))].strip()
    if _IDENT.fullmatch(value):
        # A bare identifier followed by more code is a variable: ``f(password=pw, ...)``; but
        # ``-e DB_PASSWORD=x9Kq_2 -d`` on a command line is a value, told apart by its randomness.
        random_looking = any(c.isdigit() for c in value) and class_changes(value) >= 0.3
        if after in (",", ")") or (rest and not rest.startswith(("#", ";", "//")) and not random_looking):
            return False
        if m.group("op") == ":" and value[0].isupper() and not random_looking:
            return False  # ``password: SecretStr``, a type annotation
        if (
            m.group("op") in ("=", ":=")
            and " " in text[m.end("k") : m.start("s3")]
            and not any(c.isdigit() for c in value)
        ):
            # ``self.passwd = password_mgr``: spaced ``=`` and a name without digits is code;
            # INI files that space their ``=`` mostly hold passwords with digits.
            return False
    return True


_SECRET_KEY_NAME = re.compile(
    r"(?i)(?:api|secret|access|private|signing|encryption|master|app|account|auth|license|client|consumer"
    r"|webhook)[_\-.]?key$"
)
# Keys that describe a secret rather than hold one: ``existingSecret: my-db``, ``show_password: on``.
# The prefix must end a word (separator or camelCase hump), so ``user_password`` still counts.
_KEY_STOP = re.compile(
    r"^(?i:existing|use|enable|enabled|disable|is|has|show|require|required|generate|no|skip|allow|public"
    r"|forgot|reset|min|max|hide|remember|rotate|validate|verify|check|needs?)(?:[_\-.]|(?<=[a-z])(?=[A-Z]))"
)


def _key_around(text: str, start: int) -> tuple[int, str]:
    """The whole identifier the secret keyword ends, e.g. ``existingSecret`` for ``Secret``."""
    i = start
    limit = max(0, start - 64)
    while i > limit and (text[i - 1].isalnum() or text[i - 1] in "_-."):
        i -= 1
    j = start
    while j < len(text) and j < start + 64 and (text[j].isalnum() or text[j] in "_-."):
        j += 1
    return i, text[i:j]


def _key_word(m: re.Match[str]) -> str:
    return re.sub(r"[^a-z0-9]", "", m.group("k").lower()) or "\0"


def bearer(m: re.Match[str]) -> bool:
    v = value_of(m).rstrip(".")
    if is_placeholder(v) or _ENV_NAME.fullmatch(v):
        return False
    return any(c.isdigit() for c in v) and any(c.isalpha() for c in v) and shannon_entropy(v) >= 3.0
