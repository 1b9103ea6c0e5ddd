"""The secret rule table, part 1: the rule type and the provider formats.

Written for this project after reading the public rule sets of gitleaks and Yelp's
detect-secrets and the vendors' own format documentation; no rule is copied.  Each entry is
data (pattern source, triggers, context words, validator, score, tier);
:class:`~gateway.scan.recognizers.secrets.SecretDetector` compiles the table once.

Every repetition is bounded so no pattern can backtrack catastrophically.  The span of a hit
is the named group ``s`` (or ``s2``/``s3`` for alternative quotings), else the whole match.

Tiers decide which hit wins where two overlap (lower wins): 0 self-identifying vendor formats,
1 vendor formats recognised by their context, 2 structural generics (assignments, URLs,
command lines; ``secrets_rules_generic``), 3 entropy.  So ``OPENAI_API_KEY=sk-...`` reports
``OPENAI_API_KEY``, not ``GENERIC_SECRET``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from gateway.scan.recognizers import secrets_checks as chk

Validator = Callable[[re.Match[str]], bool]


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One credential format.  Presidio's PatternRecognizer in miniature.

    ``triggers``: lower-case substrings; the rule runs only when one occurs in the text (empty:
    always).  ``anchors``: lower-case literals where a match must start; the regex is tried only
    at their occurrences instead of scanning the whole text (for patterns with no literal
    prefix, such as case-insensitive key names).  ``context``: lower-case words, one of which
    must occur within ``window`` characters of the secret.  ``trim``: characters dropped from
    the end of the span (``the password is hunter2.`` ends the sentence, not the password).
    """

    entity: str
    pattern: str
    score: float
    triggers: tuple[str, ...] = ()
    validate: Validator | None = None
    context: tuple[str, ...] = ()
    window: int = 80
    tier: int = 0
    anchors: tuple[str, ...] = ()
    trim: str = ""  # characters to drop from the end of the span: prose punctuation after a value


_B64 = r"A-Za-z0-9+/"
# GitLab token prefixes: personal, deploy, runner, pipeline trigger, feed, incoming mail, agent,
# CI build, SCIM, feature flags, OAuth app secret, workspace.
_GITLAB_KINDS = ("pat", "dt", "rt", "ptt", "ft", "imt", "agent", "cbt", "soat", "ffct", "oas", "wt")


def _token(
    entity: str, body: str, triggers: tuple[str, ...], score: float = 0.95, validate: Validator | None = None
) -> SecretRule:
    """A self-identifying token: ``body`` not embedded in a longer token."""
    pattern = rf"(?<![A-Za-z0-9_\-])(?P<s>{body})(?![A-Za-z0-9_\-])"
    return SecretRule(entity, pattern, score, triggers, validate)


def _hex_in_context(
    entity: str, length: int, triggers: tuple[str, ...], context: tuple[str, ...]
) -> SecretRule:
    """A bare hex key that only its neighbourhood tells apart from a digest."""
    pattern = rf"(?<![0-9A-Za-z])(?P<s>[0-9a-f]{{{length}}})(?![0-9A-Za-z])"
    return SecretRule(entity, pattern, 0.85, triggers, chk.digits_hex, context, window=100, tier=1)


VENDOR_RULES: Final[tuple[SecretRule, ...]] = (
    # --- cloud providers ------------------------------------------------------------------
    SecretRule(
        "AWS_ACCESS_KEY_ID",
        r"(?<![A-Za-z0-9])(?P<s>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?![A-Za-z0-9])",
        0.95,
        ("akia", "asia", "abia", "acca", "a3t"),
        chk.not_degenerate,
    ),
    # STS session tokens are base64 of a blob whose first bytes never change.
    SecretRule(
        "AWS_SESSION_TOKEN",
        rf"(?<![{_B64}])(?P<s>(?:IQoJb3JpZ2luX2|FwoGZXIvYXdzE)[{_B64}]{{100,4000}}={{0,2}})",
        0.95,
        ("iqojb3jpz2lux2", "fwogzxivyxdze"),
    ),
    SecretRule(
        "AWS_SECRET_ACCESS_KEY",
        rf"(?<![{_B64}])(?P<s>[{_B64}]{{40}})(?![{_B64}=])",
        0.85,
        ("aws", "secret"),
        chk.aws_secret,
        context=("aws", "secret_access", "secretaccess", "secret access"),
        window=160,
        tier=1,
    ),
    # Service-account key file: the private key and its id, when the JSON says what it is.
    SecretRule(
        "GCP_SERVICE_ACCOUNT_KEY",
        r'"private_key"[ \t\r\n]{0,5}:[ \t\r\n]{0,5}"(?P<s>-----BEGIN[^"]{20,12000})"',
        0.97,
        ("service_account",),
        context=("service_account",),
        window=4000,
    ),
    SecretRule(
        "GCP_SERVICE_ACCOUNT_KEY",
        r'"private_key_id"[ \t\r\n]{0,5}:[ \t\r\n]{0,5}"(?P<s>[0-9a-f]{40})"',
        0.9,
        ("service_account",),
        context=("service_account",),
        window=4000,
    ),
    _token("GCP_API_KEY", r"AIza[0-9A-Za-z_\-]{35}", ("aiza",), validate=chk.not_degenerate),
    SecretRule(
        "AZURE_STORAGE_ACCOUNT_KEY",
        rf"(?i:AccountKey)[ \t]{{0,3}}=[ \t]{{0,3}}(?P<s>[{_B64}]{{86}}==)",
        0.95,
        ("accountkey",),
    ),
    SecretRule(
        "AZURE_STORAGE_ACCOUNT_KEY",
        rf"(?<![{_B64}])(?P<s>[{_B64}]{{86}}==)(?![{_B64}=])",
        0.85,
        ("azure", "storage", "account"),
        chk.mixed_alnum,
        context=("azure", "storage", "account_key", "accountkey", "account-key"),
        window=120,
        tier=1,
    ),
    SecretRule(
        "AZURE_SHARED_ACCESS_KEY",
        rf"(?i:SharedAccessKey)[ \t]{{0,3}}=[ \t]{{0,3}}(?P<s>[{_B64}]{{42,44}}=)",
        0.95,
        ("sharedaccesskey",),
    ),
    SecretRule(
        "AZURE_SAS_TOKEN",
        r"[?&;]sig=(?P<s>[A-Za-z0-9%+/]{40,120}(?:%3D|=){0,2})",
        0.85,
        ("sig=",),
        context=("sv=", "sp=", "se="),
        window=400,
        tier=1,
    ),
    # Entra ID (Azure AD) client secrets carry "<digit>Q~" after three characters.
    SecretRule(
        "AZURE_CLIENT_SECRET",
        r"(?<![A-Za-z0-9_~.\-])(?P<s>[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])",
        0.9,
        ("q~",),
        chk.not_degenerate,
    ),
    SecretRule(
        "AZURE_CLIENT_SECRET",
        r"(?i:client[_\-.]?secret|azure[_\-.]?(?:ad[_\-.]?)?(?:client[_\-.]?)?(?:secret|password))"
        r"(?:\\?[\"'])?[ \t]{0,8}[:=][ \t]{0,8}(?:\\?[\"'])?"
        r"(?P<s>[A-Za-z0-9_~.\-]{30,44})(?![A-Za-z0-9_~.\-])",
        0.85,
        ("secret", "azure"),
        chk.mixed_alnum,
        context=("azure", "tenant", "aad", "entra", "microsoftonline"),
        window=400,
        tier=1,
        anchors=("client", "azure"),
    ),
    _token("HEROKU_API_KEY", r"HRKU-[0-9A-Za-z_\-]{40,80}", ("hrku-",), validate=chk.not_degenerate),
    SecretRule(
        "HEROKU_API_KEY",
        r"(?<![0-9A-Za-z\-])(?P<s>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9A-Za-z\-])",
        0.8,
        ("heroku",),
        context=("heroku",),
        tier=1,
    ),
    _token("DIGITALOCEAN_TOKEN", r"do[por]_v1_[a-f0-9]{64}", ("_v1_",), validate=chk.not_degenerate),
    # --- source hosting and package registries --------------------------------------------
    _token(
        "GITHUB_TOKEN",
        r"gh[pousr]_[A-Za-z0-9]{36,80}",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        validate=chk.not_degenerate,
    ),
    _token("GITHUB_TOKEN", r"github_pat_[A-Za-z0-9_]{60,120}", ("github_pat_",), validate=chk.not_degenerate),
    _hex_in_context(
        "GITHUB_TOKEN",
        40,
        ("github",),
        ("github_token", "gh_token", "github token", "github_oauth", "github_pat"),
    ),
    _token(
        "GITLAB_TOKEN",
        rf"gl(?:{'|'.join(_GITLAB_KINDS)})-[0-9A-Za-z_\-]{{20,120}}(?:\.[0-9A-Za-z_\-]{{1,60}}){{0,3}}",
        tuple(f"gl{kind}-" for kind in _GITLAB_KINDS),
        validate=chk.not_degenerate,
    ),
    _token("GITLAB_TOKEN", r"GR1348941[0-9A-Za-z_\-]{20,40}", ("gr1348941",)),
    _token("NPM_TOKEN", r"npm_[A-Za-z0-9]{36}", ("npm_",), validate=chk.not_degenerate),
    SecretRule(
        "NPM_TOKEN",
        r"""(?i::_authToken)[ \t]{0,3}=[ \t]{0,3}["']?(?P<s>[^\s"']{8,256})""",
        0.9,
        ("_authtoken",),
        chk.not_placeholder,
        tier=1,
    ),
    _token("PYPI_TOKEN", r"pypi-AgE[A-Za-z0-9_\-]{50,300}", ("pypi-age",)),
    _token(
        "HUGGINGFACE_TOKEN", r"(?:hf|api_org)_[A-Za-z0-9]{34,40}", ("hf_", "api_org_"), 0.9, chk.mixed_alnum
    ),
    # --- chat and messaging ---------------------------------------------------------------
    _token(
        "SLACK_TOKEN",
        r"(?:xoxe\.)?xox[abposre]-(?:[0-9A-Za-z]{1,64}-){1,5}[0-9A-Za-z]{6,200}",
        ("xox",),
        validate=chk.not_degenerate,
    ),
    _token(
        "SLACK_TOKEN",
        r"xapp-(?:[0-9A-Za-z]{1,64}-){2,5}[0-9A-Za-z]{6,120}",
        ("xapp-",),
        validate=chk.not_degenerate,
    ),
    SecretRule(
        "SLACK_WEBHOOK_URL",
        r"(?P<s>(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{20,160})",
        0.95,
        ("hooks.slack.com",),
        chk.not_degenerate,
    ),
    # The look-behind sits after the first letter so the regex engine can skip ahead to M/N/O.
    SecretRule(
        "DISCORD_BOT_TOKEN",
        r"(?P<s>[MNO](?<![A-Za-z0-9_\-.][MNO])[A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6,7}\.[A-Za-z0-9_\-]{27,40})"
        r"(?![A-Za-z0-9_\-.])",
        0.9,
        (),
        chk.discord_bot,
    ),
    SecretRule(
        "DISCORD_WEBHOOK_URL",
        r"(?P<s>https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,80})",
        0.95,
        ("discord",),
    ),
    SecretRule(
        "TELEGRAM_BOT_TOKEN",
        r"(?<![0-9])(?P<s>\d{8,10}:AA[A-Za-z0-9_\-]{32,34})(?![A-Za-z0-9_\-])",
        0.9,
        (":aa",),
    ),
    # The Bot API documentation's own example ("123456:ABC-DEF...") lacks the AA marker.
    SecretRule(
        "TELEGRAM_BOT_TOKEN",
        r"(?<![0-9])(?P<s>\d{5,12}:[A-Za-z0-9_\-]{30,40})(?![A-Za-z0-9_\-])",
        0.8,
        ("telegram",),
        chk.mixed_alnum,
        context=("telegram", "bot"),
        window=120,
        tier=1,
    ),
    # --- payments, email, SMS, observability ----------------------------------------------
    _token("STRIPE_SECRET_KEY", r"sk_live_[0-9A-Za-z]{10,247}", ("sk_live_",)),
    _token("STRIPE_SECRET_KEY", r"sk_test_[0-9A-Za-z]{10,247}", ("sk_test_",), 0.8, chk.not_degenerate),
    _token("STRIPE_RESTRICTED_KEY", r"rk_(?:live|test)_[0-9A-Za-z]{10,247}", ("rk_live_", "rk_test_"), 0.9),
    _token("STRIPE_WEBHOOK_SECRET", r"whsec_[A-Za-z0-9+/=]{24,80}", ("whsec_",), 0.9, chk.not_degenerate),
    # Publishable keys are meant to ship in web pages: reported, with a low score.
    _token("STRIPE_PUBLISHABLE_KEY", r"pk_live_[0-9A-Za-z]{10,247}", ("pk_live_",), 0.3),
    _token("SENDGRID_API_KEY", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", ("sg.",)),
    SecretRule(
        "MAILGUN_API_KEY",
        r"(?<![A-Za-z0-9])(?P<s>key-[0-9a-z]{32})(?![A-Za-z0-9])",
        0.85,
        ("key-",),
        chk.not_degenerate,
        context=("mailgun", "api:", "mg_", "mg."),
        window=160,
        tier=1,
    ),
    SecretRule(
        "MAILGUN_API_KEY",
        r"(?<![0-9a-f])(?P<s>[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})(?![0-9A-Za-z\-])",
        0.85,
        ("mailgun",),
        context=("mailgun", "api:", "mg_"),
        window=160,
        tier=1,
    ),
    # Look-behinds after the literal prefix keep the engine's fast prefix search for "AC"/"SK".
    SecretRule(
        "TWILIO_ACCOUNT_SID",
        r"(?P<s>AC(?<![A-Za-z0-9]AC)[0-9a-f]{32})(?![A-Za-z0-9])",
        0.5,
        (),
        chk.digits_hex,
    ),
    SecretRule(
        "TWILIO_API_KEY", r"(?P<s>SK(?<![A-Za-z0-9]SK)[0-9a-f]{32})(?![A-Za-z0-9])", 0.85, (), chk.digits_hex
    ),
    SecretRule(
        "TWILIO_AUTH_TOKEN",
        r"(?<![0-9A-Za-z])(?P<s>[0-9a-f]{32})(?![0-9A-Za-z])",
        0.85,
        ("twilio",),
        chk.digits_hex,
        context=("twilio", "auth_token", "authtoken", "auth token"),
        window=240,
        tier=1,
    ),
    _hex_in_context(
        "DATADOG_API_KEY",
        32,
        ("datadog", "dd_api", "dd-api", "ddapi"),
        ("datadog", "dd_api", "dd-api", "ddapi"),
    ),
    _hex_in_context(
        "DATADOG_APP_KEY",
        40,
        ("datadog", "dd_app", "dd-app", "ddapp"),
        ("app_key", "application_key", "dd_app", "dd-app", "appkey", "application-key"),
    ),
    _token("SHOPIFY_ACCESS_TOKEN", r"shp(?:at|ca|pa)_[a-fA-F0-9]{32}", ("shpat_", "shpca_", "shppa_")),
    _token("SHOPIFY_SHARED_SECRET", r"shpss_[a-fA-F0-9]{32}", ("shpss_",)),
    # Sentry DSNs carry a project key meant for clients: reported, with a low score.
    SecretRule(
        "SENTRY_DSN",
        r"https?://(?P<s>[0-9a-f]{32})(?::[0-9a-f]{32})?@[A-Za-z0-9.\-]{0,80}sentry\.io",
        0.5,
        ("sentry.io",),
    ),
    # --- AI providers -----------------------------------------------------------------------
    _token(
        "ANTHROPIC_API_KEY",
        r"sk-ant-(?:api|oat|ort|sid)\d{2}-[A-Za-z0-9_\-]{32,150}",
        ("sk-ant-",),
        0.97,
        chk.not_degenerate,
    ),
    _token(
        "ANTHROPIC_ADMIN_KEY",
        r"sk-ant-admin\d{2}-[A-Za-z0-9_\-]{32,150}",
        ("sk-ant-",),
        0.97,
        chk.not_degenerate,
    ),
    _token(
        "OPENAI_API_KEY",
        r"sk-(?!ant-)(?:(?:proj|svcacct|admin|None)-)?[A-Za-z0-9_\-]{20,200}",
        ("sk-",),
        validate=chk.openai_key,
    ),
    # OpenAI-compatible providers (DeepSeek and others) issue "sk-" + 32 lower-case hex.
    _token("OPENAI_COMPATIBLE_API_KEY", r"sk-[0-9a-f]{32}", ("sk-",), 0.9, chk.digits_hex),
)

FAMILIES: Final = MappingProxyType(
    {
        "aws": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
        "gcp": ("GCP_SERVICE_ACCOUNT_KEY", "GCP_API_KEY"),
        "azure": (
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_SHARED_ACCESS_KEY",
            "AZURE_SAS_TOKEN",
            "AZURE_CLIENT_SECRET",
        ),
        "github": ("GITHUB_TOKEN",),
        "gitlab": ("GITLAB_TOKEN",),
        "slack": ("SLACK_TOKEN", "SLACK_WEBHOOK_URL"),
        "stripe": (
            "STRIPE_SECRET_KEY",
            "STRIPE_RESTRICTED_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_PUBLISHABLE_KEY",
        ),
        "openai": ("OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"),
        "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_ADMIN_KEY"),
        "twilio": ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY", "TWILIO_AUTH_TOKEN"),
        "sendgrid": ("SENDGRID_API_KEY",),
        "mailgun": ("MAILGUN_API_KEY",),
        "npm": ("NPM_TOKEN",),
        "pypi": ("PYPI_TOKEN",),
        "huggingface": ("HUGGINGFACE_TOKEN",),
        "discord": ("DISCORD_BOT_TOKEN", "DISCORD_WEBHOOK_URL"),
        "telegram": ("TELEGRAM_BOT_TOKEN",),
        "shopify": ("SHOPIFY_ACCESS_TOKEN", "SHOPIFY_SHARED_SECRET"),
        "digitalocean": ("DIGITALOCEAN_TOKEN",),
        "datadog": ("DATADOG_API_KEY", "DATADOG_APP_KEY"),
        "heroku": ("HEROKU_API_KEY",),
        "sentry": ("SENTRY_DSN",),
        "jwt": ("JWT",),
        "private_key": ("PRIVATE_KEY",),
        "password": ("PASSWORD", "URL_PASSWORD", "CONNECTION_STRING_PASSWORD", "BASIC_AUTH_CREDENTIALS"),
        "generic": ("GENERIC_SECRET", "BEARER_TOKEN", "GENERIC_HIGH_ENTROPY_SECRET"),
    }
)
"""Every entity the detector reports, grouped by the credential it belongs to."""

FAMILY_OF: Final = MappingProxyType(
    {entity: fam for fam, entities in FAMILIES.items() for entity in entities}
)
