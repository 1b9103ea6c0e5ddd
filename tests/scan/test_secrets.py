"""Secret detector: corpus quality gates, one literal case per family, spans, placeholders, speed.

Key-shaped values are assembled at run time from a seeded generator, so this file holds no
string that a repository secret scanner would take for a live credential.
"""

from __future__ import annotations

import base64
import json
import random
import socket
import string
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.scan.findings import Hit
from gateway.scan.recognizers.secrets import SecretDetector
from gateway.scan.recognizers.secrets_rules import FAMILIES, FAMILY_OF

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "secrets"
B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


@pytest.fixture(scope="module")
def detector() -> SecretDetector:
    return SecretDetector()


def _load(name: str) -> list[dict[str, Any]]:
    with (CORPUS / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _found(hits: list[Hit], start: int, end: int, entity: str) -> bool:
    """Some hit of the span's family covers at least half of it."""
    family = FAMILY_OF[entity]
    return any(
        FAMILY_OF[h.entity] == family and min(end, h.end) - max(start, h.start) >= 0.5 * (end - start)
        for h in hits
    )


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    while True:
        v = "".join(rng.choice(alphabet) for _ in range(n))
        if alphabet != B62 or (
            any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)
        ):
            return v


# --- corpus gates ---------------------------------------------------------------------------


def test_recall_on_positives(detector: SecretDetector) -> None:
    rows = _load("positives.jsonl")
    spans = [(row["text"], s, e, ent) for row in rows for s, e, ent in row["spans"]]
    assert len(rows) >= 150
    missed = [
        (text[s:e][:40], ent) for text, s, e, ent in spans if not _found(detector.detect(text), s, e, ent)
    ]
    recall = 1 - len(missed) / len(spans)
    assert recall >= 0.98, missed


def test_false_positive_rate_on_negatives(detector: SecretDetector) -> None:
    rows = _load("negatives.jsonl")
    assert len(rows) >= 300
    flagged = [
        (row["text"][:60], [h.entity for h in hits]) for row in rows if (hits := detector.detect(row["text"]))
    ]
    assert len(flagged) / len(rows) <= 0.02, flagged


def test_corpus_covers_every_family() -> None:
    seen: dict[str, int] = {}
    for row in _load("positives.jsonl"):
        for _, _, entity in row["spans"]:
            assert entity in FAMILY_OF, entity
            seen[FAMILY_OF[entity]] = seen.get(FAMILY_OF[entity], 0) + 1
    thin = {
        family: seen.get(family, 0) for family in FAMILIES if seen.get(family, 0) < 3 and family != "sentry"
    }
    assert not thin


def test_corpus_spans_are_in_bounds() -> None:
    for row in _load("positives.jsonl"):
        assert row["spans"] and row["source"]
        for start, end, _ in row["spans"]:
            assert 0 <= start < end <= len(row["text"])


# --- one literal case per family --------------------------------------------------------------


def _family_cases() -> list[tuple[str, str, str]]:
    """(text, secret value, entity): the value must be reported with that entity's family."""
    r = random.Random(7)
    pw = _rand(r, B62, 12) + "!"
    sid = "AC" + _rand(r, HEX, 32)
    discord_id = base64.urlsafe_b64encode(b"112233445566778899").decode().rstrip("=")
    jwt_header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    jwt_payload = base64.urlsafe_b64encode(b'{"sub":"42"}').decode().rstrip("=")
    jwt_value = f"{jwt_header}.{jwt_payload}.{_rand(r, B62, 43)}"
    cases = [
        (
            "aws_access_key_id = {}",
            "AKIA" + _rand(r, string.ascii_uppercase + "234567", 16),
            "AWS_ACCESS_KEY_ID",
        ),
        ("AWS_SECRET_ACCESS_KEY={}", _rand(r, B62, 38) + "/+", "AWS_SECRET_ACCESS_KEY"),
        (
            '{{"type": "service_account", "private_key_id": "{}"}}',
            _rand(r, HEX, 40),
            "GCP_SERVICE_ACCOUNT_KEY",
        ),
        ("maps?key={}&v=3", "AIza" + _rand(r, B62, 35), "GCP_API_KEY"),
        (
            "AccountName=acct;AccountKey={};EndpointSuffix=core.windows.net",
            _rand(r, B62, 86) + "==",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ),
        ("AZURE_CLIENT_SECRET={}", _rand(r, B62, 3) + "8Q~" + _rand(r, B62, 34), "AZURE_CLIENT_SECRET"),
        ("token: {}", "ghp_" + _rand(r, B62, 36), "GITHUB_TOKEN"),
        ("PRIVATE-TOKEN: {}", "glpat-" + _rand(r, B62, 20), "GITLAB_TOKEN"),
        (
            "SLACK_BOT_TOKEN={}",
            f"xoxb-{_rand(r, string.digits, 12)}-{_rand(r, string.digits, 13)}-{_rand(r, B62, 24)}",
            "SLACK_TOKEN",
        ),
        (
            "url: {}",
            f"https://hooks.slack.com/services/T{_rand(r, B62, 10)}/B{_rand(r, B62, 10)}/{_rand(r, B62, 24)}",
            "SLACK_WEBHOOK_URL",
        ),
        ("stripe.api_key = '{}'", "sk_" + "live_" + _rand(r, B62, 24), "STRIPE_SECRET_KEY"),
        (
            "OPENAI_API_KEY={}",
            "sk-proj-" + _rand(r, B62, 40) + "T3BlbkFJ" + _rand(r, B62, 40),
            "OPENAI_API_KEY",
        ),
        ("x-api-key: {}", "sk-ant-api03-" + _rand(r, B62, 93) + "AA", "ANTHROPIC_API_KEY"),
        ("account_sid = '{}'", sid, "TWILIO_ACCOUNT_SID"),
        ("SENDGRID_API_KEY={}", f"SG.{_rand(r, B62, 22)}.{_rand(r, B62, 43)}", "SENDGRID_API_KEY"),
        (
            "mailgun api key: {}",
            "key-" + _rand(r, string.ascii_lowercase + string.digits, 32),
            "MAILGUN_API_KEY",
        ),
        ("//registry.npmjs.org/:_authToken={}", "npm_" + _rand(r, B62, 36), "NPM_TOKEN"),
        ("password = {}", "pypi-AgEIcHlwaS5vcmc" + _rand(r, B62, 60), "PYPI_TOKEN"),
        ("HF_TOKEN={}", "hf_" + _rand(r, B62, 34), "HUGGINGFACE_TOKEN"),
        ("client.run('{}')", f"{discord_id}.{_rand(r, B62, 6)}.{_rand(r, B62, 38)}", "DISCORD_BOT_TOKEN"),
        (
            "https://api.telegram.org/bot{}/getMe",
            f"{_rand(r, string.digits, 10)}:AA{_rand(r, B62, 33)}",
            "TELEGRAM_BOT_TOKEN",
        ),
        ("X-Shopify-Access-Token: {}", "shpat_" + _rand(r, HEX, 32), "SHOPIFY_ACCESS_TOKEN"),
        ("doctl auth init -t {}", "dop_v1_" + _rand(r, HEX, 64), "DIGITALOCEAN_TOKEN"),
        ("DD_API_KEY={}", _rand(r, HEX, 30) + "a1", "DATADOG_API_KEY"),
        ("HEROKU_API_KEY={}", "0f8c2e6a-1b3d-4c5e-9f7a-2b4d6e8f0a1c", "HEROKU_API_KEY"),
        ("Authorization: Bearer {}", jwt_value, "JWT"),
        ("dsn = 'https://{}@o1.ingest.sentry.io/2'", _rand(r, HEX, 32), "SENTRY_DSN"),
        (
            "key.pem:\n{}\n",
            "-----BEGIN EC PRIVATE KEY-----\n" + _rand(r, B62, 64) + "\n-----END EC PRIVATE KEY-----",
            "PRIVATE_KEY",
        ),
        ("DB_PASSWORD={}", pw, "PASSWORD"),
        ("the api token is {} fyi", _rand(r, B62, 32), "GENERIC_HIGH_ENTROPY_SECRET"),
    ]
    return [(template.format(value), value, entity) for template, value, entity in cases]


FAMILY_CASES = _family_cases()


@pytest.mark.parametrize(
    ("text", "value", "entity"), FAMILY_CASES, ids=[entity for _, _, entity in FAMILY_CASES]
)
def test_family_literal(detector: SecretDetector, text: str, value: str, entity: str) -> None:
    start = text.index(value)
    assert _found(detector.detect(text), start, start + len(value), entity)


def test_every_rule_family_has_a_literal_case() -> None:
    covered = {FAMILY_OF[entity] for _, _, entity in FAMILY_CASES}
    assert covered == set(FAMILIES)


# --- spans ------------------------------------------------------------------------------------


def _spans(detector: SecretDetector, text: str) -> list[tuple[str, str]]:
    return [(h.entity, text[h.start : h.end]) for h in detector.detect(text)]


def test_url_password_spans_only_the_password(detector: SecretDetector) -> None:
    text = "DATABASE_URL=postgres://app:S3cr3t-Pw9@db.internal:5432/app"
    assert _spans(detector, text) == [("URL_PASSWORD", "S3cr3t-Pw9")]


def test_url_password_with_at_sign_in_password(detector: SecretDetector) -> None:
    assert _spans(detector, "redis://:p@ss-W0rd@cache:6379/0") == [("URL_PASSWORD", "p@ss-W0rd")]


def test_url_without_password_is_clean(detector: SecretDetector) -> None:
    for text in (
        "https://user@example.com/x",
        "ssh://git@github.com:22/a/b.git",
        "https://example.com:8443/@admin",
    ):
        assert detector.detect(text) == []


def test_private_key_span_covers_the_whole_block(detector: SecretDetector) -> None:
    r = random.Random(3)
    body = "\n".join(_rand(r, B62 + "+/", 64) for _ in range(6))
    block = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    text = f"here is the key:\n{block}\nthanks"
    assert _spans(detector, text) == [("PRIVATE_KEY", block)]


def test_truncated_private_key_covers_begin_and_body(detector: SecretDetector) -> None:
    r = random.Random(4)
    fragment = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(_rand(r, B62, 70) for _ in range(2))
    text = fragment + "\n\nwhy does ssh reject this?"
    assert _spans(detector, text) == [("PRIVATE_KEY", fragment)]


def test_private_key_in_json_string(detector: SecretDetector) -> None:
    r = random.Random(5)
    block = "-----BEGIN EC PRIVATE KEY-----\\n" + _rand(r, B62, 64) + "\\n-----END EC PRIVATE KEY-----"
    assert _spans(detector, json.dumps({"pem": "x"}).replace("x", block)) == [("PRIVATE_KEY", block)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('password = "Tr0ub4dor&3"', "Tr0ub4dor&3"),
        ("password: Tr0ub4dor&3\n", "Tr0ub4dor&3"),
        ('{"password": "Tr0ub4dor&3"}', "Tr0ub4dor&3"),
        ("'password' => 'Tr0ub4dor&3',", "Tr0ub4dor&3"),
        ("Server=db;User Id=app;Password=Tr0ub4dor&3;", "Tr0ub4dor&3"),
        ("Driver={x};Server=db;UID=app;PWD={Tr0ub4dor&3};", "Tr0ub4dor&3"),
        ("mysql -u root -pTr0ub4dor3 shop", "Tr0ub4dor3"),
        ("curl -u admin:Tr0ub4dor3 https://ci.example", "Tr0ub4dor3"),
        ("the staging db password is Tr0ub4dor&3, keep it safe", "Tr0ub4dor&3"),
        ("define('DB_PASSWORD', 'Tr0ub4dor&3');", "Tr0ub4dor&3"),
        ('user_password = "Tr0ub4dor&3"', "Tr0ub4dor&3"),
        ("DEFAULT_ADMIN_PASSWORD=Tr0ub4dor&3", "Tr0ub4dor&3"),
    ],
)
def test_password_spans_the_value(detector: SecretDetector, text: str, value: str) -> None:
    spans = _spans(detector, text)
    assert len(spans) == 1 and spans[0][1] == value and FAMILY_OF[spans[0][0]] == "password", spans


def test_specific_rule_wins_over_generic(detector: SecretDetector) -> None:
    key = "sk-proj-" + _rand(random.Random(6), B62, 40) + "T3BlbkFJ" + _rand(random.Random(8), B62, 40)
    assert _spans(detector, f'api_key = "{key}"') == [("OPENAI_API_KEY", key)]


def test_offsets_survive_case_folding_that_changes_length(detector: SecretDetector) -> None:
    text = "İstanbul office: İİİ password = Tr0ub4dor&3x"
    assert _spans(detector, text) == [("PASSWORD", "Tr0ub4dor&3x")]


def test_hit_fields(detector: SecretDetector) -> None:
    (hit,) = detector.detect("DB_PASSWORD=Tr0ub4dor&3")
    assert hit.kind == "secret" and hit.detector == SecretDetector.name == "secrets" and 0 < hit.score <= 1


# --- placeholders and look-alikes -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "password: <password>",
        "password: ${DB_PASSWORD}",
        'password: "{{ vault_db_password }}"',
        "DB_PASSWORD=changeme",
        "api_key: your-api-key-here",
        "api_key: <your key>",
        "token: xxxxxxxxxxxxxxxxxxxx",
        "password=********",
        'secret: ""',
        "password:",
        "PASSWORD = os.environ['PASSWORD']",
        "password = get_password()",
        "connect(user=user, password=password)",
        "password: string;",
        "existingSecret: my-db-secret",
        "use_password: true",
        "showPassword: false",
        "OPENAI_API_KEY=sk-...",
        "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX",
        "Authorization: Bearer $API_TOKEN",
        "curl -u $USER:$PASS https://example.com",
        "Server=s;Database=d;User Id=myUsername;Password=myPassword;",
        "git commit 9fceb02d0ae598e95dc970b74767f19372d61af8 rotates the signing key",
        "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "request id 550e8400-e29b-41d4-a716-446655440000",
        "The primary key is BetaClearToolUses20250919EditParam",
        "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
        "The password is incorrect. Please try again.",
    ],
)
def test_placeholder_or_lookalike_is_clean(detector: SecretDetector, text: str) -> None:
    assert detector.detect(text) == []


# --- robustness and speed ---------------------------------------------------------------------

N = 100_000
ADVERSARIAL = {
    "one letter": "a" * N,
    "assignments": "password=" * (N // 9),
    "prose verbs": "password x x x x x " * (N // 19),
    "begin lines": "-----BEGIN RSA PRIVATE KEY-----\n" * (N // 32),
    "begin then base64": "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * N,
    "jwt prefix": "eyJ" + "a" * N,
    "colons": "://" + ":" * N,
    "url without at": "http://a:" + "b" * N,
    "url many users": "https://" + "a:" * (N // 2) + "@",
    "key and long token": "key = " + "A1b2" * (N // 4),
    "tokens in context": ("token: " + "Ab1cD2eF3g" * 3 + " ") * (N // 37),
    "mysql": "mysql " * (N // 6),
    "gcp": '"type": "service_account" ' + '"private_key": "-----BEGIN' * (N // 26),
    "connection string": "Server=x;Password=" + "x" * N,
    "discord shape": ("M" + "a" * 24 + ".") * (N // 26),
    "digits": "1234567890" * (N // 10) + ":AA",
    "open quote": 'secret = "' + "a" * N,
    "many secrets": "api_key: AbCdEfGh12345678IjKlMnOp\n" * (N // 34),
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_adversarial_input_finishes_quickly(detector: SecretDetector, text: str) -> None:
    started = time.perf_counter()
    detector.detect(text)
    assert time.perf_counter() - started < 1.5


def test_ordinary_text_speed(detector: SecretDetector) -> None:
    # A loose ceiling (the measured figure is ~0.15-0.3 ms/KB): catches an accidental O(n^2).
    text = "\n\n".join(row["text"] for row in _load("negatives.jsonl"))
    kb = len(text.encode()) / 1024
    best = min(_timed(detector, text) for _ in range(3))
    assert best * 1000 / kb < 2.0


def _timed(detector: SecretDetector, text: str) -> float:
    started = time.perf_counter()
    detector.detect(text)
    return time.perf_counter() - started


def test_detection_never_touches_the_network(
    detector: SecretDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access during detection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for row in _load("positives.jsonl"):
        detector.detect(row["text"])


def test_detector_is_reusable_and_empty_text_is_clean(detector: SecretDetector) -> None:
    text = "DB_PASSWORD=Tr0ub4dor&3"
    assert detector.detect(text) == detector.detect(text)
    assert detector.detect("") == []
