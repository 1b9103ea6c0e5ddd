"""The secret rule table, part 2: formats that say "this is a credential" by their structure.

JWTs, passwords in URLs and connection strings, ``key = value`` assignments, command-line
flags and HTTP auth headers.  Tier 2 (see ``secrets_rules``), except JWTs, which identify
themselves.  Validators in ``secrets_checks`` reject placeholders and code expressions.
"""

from __future__ import annotations

from typing import Final

from gateway.scan.recognizers import secrets_checks as chk
from gateway.scan.recognizers.secrets_rules import SecretRule

_B64 = r"A-Za-z0-9+/"

# key = value, in every syntax we meet: env files, YAML, JSON (also JSON inside a JSON string),
# TOML, INI, code, HTTP headers.  Matched from the key's last word (see the anchors below),
# the validator reads the whole key back from the text.
# A quoted key followed by a comma is a call's (name, value) pair: define('DB_PASSWORD', '...').
_SEP = (
    r"""(?:(?:\\?["'])?[ \t]{0,8}(?P<op>:=|=>|=(?![=~>])|:(?![:/=]))|["'][ \t]{0,3}(?P<comma>,))[ \t]{0,8}"""
)
_VALUE = (
    r"""(?:\\?"(?P<s>[^"\\\r\n]{1,256})\\?"|'(?P<s2>[^'\r\n]{1,256})'"""
    # Unquoted: "&" ends the value only where a URL query's next "name=" starts.
    r"""|(?P<s3>(?:[^\s"'`,;&(){}\[\]<>|\\]|&(?![A-Za-z_][\w\-]{0,30}=)){1,256}))"""
)
_PW_WORDS = r"(?P<k>passw(?:or)?d|passphrase|(?<![A-Za-z])(?:pass|pwd|pw))"
_KEY_WORDS = r"(?P<k>key|secret|token|credentials?)"
_CLI = 0.85

GENERIC_RULES: Final[tuple[SecretRule, ...]] = (
    SecretRule(
        "JWT",
        r"(?<![A-Za-z0-9_\-])(?P<s>eyJ[A-Za-z0-9_\-]{10,4000}\.[A-Za-z0-9_\-]{2,16000}\.[A-Za-z0-9_\-]{0,4000})"
        r"(?![A-Za-z0-9_\-])",
        0.9,
        ("eyj",),
        chk.jwt,
    ),
    SecretRule(
        "URL_PASSWORD",
        r"://(?P<u>[^\s:/?#\[\]\"'<>]{0,128}):(?P<s>[^\s/?#\"'<>]{1,128})@(?=[A-Za-z0-9\[_\-])",
        0.9,
        ("://",),
        chk.url_password,
        tier=2,
    ),
    SecretRule(
        "CONNECTION_STRING_PASSWORD",
        r"(?i:(?<![A-Za-z0-9_])(?:password|pwd))[ \t]{0,3}=[ \t]{0,3}"
        r"(?:\{(?P<s>[^}\r\n]{1,128})\}|(?P<s2>[^;\r\n\"'{]{1,128}?))[ \t]{0,3}(?=;|$|\"|')",
        0.85,
        ("password", "pwd"),
        chk.conn_string,
        tier=2,
        anchors=("password", "pwd"),
    ),
    SecretRule(
        "PASSWORD",
        rf"(?i:{_PW_WORDS}){_SEP}{_VALUE}",
        0.75,
        ("pass", "pw"),
        chk.assignment,
        tier=2,
        anchors=("pass", "pw"),
    ),
    SecretRule(
        "GENERIC_SECRET",
        rf"(?i:{_KEY_WORDS}){_SEP}{_VALUE}",
        0.7,
        ("key", "secret", "token", "credential"),
        chk.assignment,
        tier=2,
        anchors=("key", "secret", "token", "credential"),
    ),
    # PowerShell: ConvertTo-SecureString "..." -AsPlainText.
    SecretRule(
        "PASSWORD",
        r"""(?i:convertto-securestring)[ \t]+(?:-string[ \t]+)?["'](?P<s>[^"'\r\n]{1,128})["']""",
        _CLI,
        ("convertto-securestring",),
        chk.not_placeholder,
        tier=2,
    ),
    # Chat and tickets: "the password for the staging db is ...", "password Tr0ub4dor&3".
    SecretRule(
        "PASSWORD",
        r"(?i:(?<![A-Za-z0-9_\-.])(?:password|passphrase)) {1,2}(?P<s>[^\s\"'`]{8,128})",
        0.7,
        ("pass",),
        chk.bare_prose_password,
        trim=".,;:",
        tier=2,
        anchors=("pass",),
    ),
    SecretRule(
        "PASSWORD",
        r"(?i:(?<![A-Za-z])(?:password|passwd|passcode|passphrase|pwd))(?:[ \t]+[^\s]{1,40}){0,5}?"
        r"[ \t]+(?i:is|was)[ \t]+[\"'`]?(?P<s>[^\s\"'`]{4,128})",
        0.7,
        ("pass", "pwd"),
        chk.prose_password,
        trim=".,;:",
        tier=2,
        anchors=("pass", "pwd"),
    ),
    # SQL: CREATE ROLE ... WITH PASSWORD '...', MySQL IDENTIFIED BY '...'.
    SecretRule(
        "PASSWORD",
        r"(?i:(?<![A-Za-z])(?:with(?:[ \t]+encrypted)?[ \t]+password|identified[ \t]+by))"
        r"[ \t]+'(?P<s>[^'\r\n]{1,128})'",
        0.85,
        ("password", "identified"),
        chk.not_placeholder,
        tier=2,
        anchors=("with", "identified"),
    ),
    # Command lines: curl -u user:pass, mysql -pPASS, --password=..., sshpass, docker login -p, redis-cli -a.
    SecretRule(
        "PASSWORD",
        r"(?<![\w\-])(?:-u|--user)[ \t]+[\"']?(?P<u>[^\s:\"'$]{1,64}):(?P<s>[^\s\"']{1,128}?)[\"']?(?=\s|$)",
        _CLI,
        ("curl", "wget", "http "),
        chk.cli_password,
        trim=".,;:",
        context=("curl", "wget", "http "),
        window=200,
        tier=2,
        anchors=("-u", "--user"),
    ),
    SecretRule(
        "PASSWORD",
        r"(?<![\w\-])mysql(?:dump|admin)?[ \t][^\n]{0,200}?[ \t]-p(?P<s>[^\s\"'\-][^\s\"']{2,127})",
        _CLI,
        ("mysql",),
        chk.cli_password,
        trim=".,;:",
        tier=2,
        anchors=("mysql",),
    ),
    SecretRule(
        "PASSWORD",
        r"(?<![\w\-])(?:--(?:[a-z]{1,20}-)?pass(?:word)?(?:=|[ \t]+)|sshpass[ \t]+-p[ \t]*)"
        r"[\"']?(?P<s>[^\s\"']{1,128})",
        _CLI,
        ("-pass", "sshpass"),
        chk.cli_password,
        trim=".,;:",
        tier=2,
        anchors=("--", "sshpass"),
    ),
    SecretRule(
        "PASSWORD",
        r"(?<![\w\-])(?:docker|podman|helm|oras|skopeo)[ \t][^\n]{0,200}?[ \t]-p[ \t]+"
        r"[\"']?(?P<s>[^\s\"']{1,128})",
        _CLI,
        ("login",),
        chk.cli_password,
        trim=".,;:",
        tier=2,
        anchors=("docker", "podman", "helm", "oras", "skopeo"),
    ),
    SecretRule(
        "PASSWORD",
        r"(?<![\w\-])redis-cli[ \t][^\n]{0,200}?[ \t](?:-a|--pass)[ \t]+[\"']?(?P<s>[^\s\"']{1,128})",
        _CLI,
        ("redis-cli",),
        chk.cli_password,
        trim=".,;:",
        tier=2,
        anchors=("redis-cli",),
    ),
    # .netrc: "machine HOST login USER password PASS", on one line or several.
    SecretRule(
        "PASSWORD",
        r"(?<![A-Za-z])login[ \t\r\n]{1,16}[^\s]{1,128}[ \t\r\n]{1,16}password[ \t]{1,8}(?P<s>[^\s]{1,128})",
        _CLI,
        ("machine",),
        chk.not_placeholder,
        trim=".,;:",
        context=("machine",),
        window=200,
        tier=2,
        anchors=("login",),
    ),
    # HTTP: Basic (RFC 7617) carries user:password in base64; so do docker's and npm's "auth".
    SecretRule(
        "BASIC_AUTH_CREDENTIALS",
        rf"(?i:(?<![A-Za-z])basic)[ \t]+(?P<s>[{_B64}]{{6,512}}={{0,2}})(?![{_B64}=])",
        0.85,
        ("basic",),
        chk.basic_auth,
        tier=2,
        anchors=("basic",),
    ),
    SecretRule(
        "BASIC_AUTH_CREDENTIALS",
        rf"(?:\"auth\"[ \t]{{0,3}}:[ \t]{{0,3}}\"|_auth[ \t]{{0,3}}=[ \t]{{0,3}})"
        rf"(?P<s>[{_B64}]{{8,512}}={{0,2}})",
        0.85,
        ('"auth"', "_auth"),
        chk.basic_auth,
        tier=2,
    ),
    SecretRule(
        "BEARER_TOKEN",
        r"(?i:(?<![A-Za-z])bearer)[ \t]+(?P<s>[A-Za-z0-9\-._~+/]{16,4096}=*)",
        0.8,
        ("bearer",),
        chk.bearer,
        tier=2,
        anchors=("bearer",),
    ),
)
