"""Generate the secrets corpus: positives.jsonl and negatives.jsonl next to this file.

    python bench/data/secrets/make_corpus.py

Deterministic (seeded).  Every secret value is either generated here in the vendor's
documented format, or one of a few well-known public example values that vendors print in
their own documentation (named in the sample's ``source``).  No value is a live credential.
The surrounding text (configs, code, shell history, chat) was written for this corpus.
"""

from __future__ import annotations

import base64
import json
import random
import string
from pathlib import Path

from corpus_negatives import negatives

HERE = Path(__file__).resolve().parent
R = random.Random(20250611)

UP, LO, DG = string.ascii_uppercase, string.ascii_lowercase, string.digits
B62 = UP + LO + DG
B64 = B62 + "+/"
URL64 = B62 + "-_"
HEX = "0123456789abcdef"
B32 = UP + "234567"

Part = str | tuple[str, str]

# Public example values from vendor documentation.
AWS_DOC_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # AWS IAM user guide
AWS_DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS IAM user guide
STRIPE_DOC_TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"  # Stripe API reference
JWT_IO_EXAMPLE = (  # the default token shown on jwt.io
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0Ijo"
    "xNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
TELEGRAM_DOC_TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"  # Telegram Bot API docs


def rs(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def mixed(alphabet: str, n: int) -> str:
    """Random string that has upper, lower and digit (as real keys of that length do)."""
    while True:
        v = rs(alphabet, n)
        if any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v):
            return v


def hexs(n: int) -> str:
    while True:
        v = rs(HEX, n)
        if any(c.isdigit() for c in v) and any(c.isalpha() for c in v):
            return v


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def akid(prefix: str = "AKIA") -> str:
    return prefix + rs(B32, 16)


def aws_secret() -> str:
    return mixed(B64, 40)


def aws_session() -> str:
    return "IQoJb3JpZ2luX2VjE" + rs(B64, 300) + "=="


def gcp_api() -> str:
    return "AIza" + mixed(URL64, 35)


def pem_body(lines: int, width: int = 64, escaped: bool = False, first: str = "MII") -> str:
    sep = "\\n" if escaped else "\n"
    rows = [first + rs(B64, width - len(first))] + [rs(B64, width) for _ in range(lines - 1)]
    return sep.join(rows) + sep + rs(B64, 20) + "=="


def pem(label: str, lines: int = 12, escaped: bool = False, first: str = "MII") -> str:
    sep = "\\n" if escaped else "\n"
    body = pem_body(lines, escaped=escaped, first=first)
    return f"-----BEGIN {label}-----{sep}{body}{sep}-----END {label}-----"


def azure_key() -> str:
    return mixed(B64, 86) + "=="


def azure_client_secret() -> str:
    return mixed(B62, 3) + R.choice(DG) + "Q~" + mixed(B62 + "_~.-", 34)


def jwt(header: dict[str, str], payload: dict[str, object], sig_bytes: int = 32) -> str:
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{h}.{p}.{b64url(R.randbytes(sig_bytes))}"


def uuid4() -> str:
    h = rs(HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{R.choice('89ab')}{h[17:20]}-{h[20:]}"


def discord_token() -> str:
    user_id = str(R.randrange(10**17, 10**18 * 2))
    return b64url(user_id.encode()) + "." + mixed(URL64, 6) + "." + mixed(URL64, 38)


# Where each format of the second batch comes from (the first batch says so per section).
BATCH2_FORMATS = {
    "GITHUB_TOKEN": "GitHub token formats (ghp_/ghs_ + 36)",
    "OPENAI_API_KEY": "OpenAI key prefixes (sk-proj-, T3BlbkFJ marker)",
    "GENERIC_SECRET": "random value under a secret-named key",
    "PASSWORD": "generated password in written code/config/chat",
    "URL_PASSWORD": "RFC 3986 userinfo with a generated password",
    "SLACK_TOKEN": "Slack token types docs (xoxb-)",
    "AWS_SESSION_TOKEN": "AWS STS session token prefix",
    "SENTRY_DSN": "Sentry DSN format (32-hex public key)",
    "PRIVATE_KEY": "RFC 7468 / OpenSSH armor, random body",
    "NPM_TOKEN": "npm access tokens (npm_ + 36)",
    "HUGGINGFACE_TOKEN": "Hugging Face user access tokens (hf_ + 34)",
    "JWT": "RFC 7519, random signature",
    "GENERIC_HIGH_ENTROPY_SECRET": "random token next to a secret word",
}


class Corpus:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def add(self, source: str, *parts: Part) -> None:
        text, spans = "", []
        for part in parts:
            if isinstance(part, tuple):
                value, entity = part
                spans.append([len(text), len(text) + len(value), entity])
                text += value
            else:
                text += part
        self.rows.append({"text": text, "spans": spans, "source": source})


def positives() -> list[dict[str, object]]:
    c = Corpus()
    a = c.add
    gen = "generated in the documented format"

    # --- AWS: key id AKIA/ASIA + 16 base32 chars; secret 40 base64 chars (AWS IAM docs) ---
    src = "public example: AWS IAM user guide example key pair"
    a(
        src,
        "[default]\naws_access_key_id = ",
        (AWS_DOC_KEY_ID, "AWS_ACCESS_KEY_ID"),
        "\naws_secret_access_key = ",
        (AWS_DOC_SECRET, "AWS_SECRET_ACCESS_KEY"),
        "\nregion = us-east-1\n",
    )
    a(
        src,
        "$ aws configure\nAWS Access Key ID [None]: ",
        (AWS_DOC_KEY_ID, "AWS_ACCESS_KEY_ID"),
        "\nAWS Secret Access Key [None]: ",
        (AWS_DOC_SECRET, "AWS_SECRET_ACCESS_KEY"),
        "\nDefault region name [None]: us-west-2\n",
    )
    src = f"AWS access keys ({gen}: AWS IAM docs)"
    k, s = akid(), aws_secret()
    a(
        src,
        "export AWS_ACCESS_KEY_ID=",
        (k, "AWS_ACCESS_KEY_ID"),
        "\nexport AWS_SECRET_ACCESS_KEY=",
        (s, "AWS_SECRET_ACCESS_KEY"),
        "\naws s3 ls s3://acme-prod-logs/\n",
    )
    k, s = akid(), aws_secret()
    a(
        src,
        's3 = boto3.client(\n    "s3",\n    aws_access_key_id="',
        (k, "AWS_ACCESS_KEY_ID"),
        '",\n    aws_secret_access_key="',
        (s, "AWS_SECRET_ACCESS_KEY"),
        '",\n)\n',
    )
    k, s = akid(), aws_secret()
    a(
        src,
        "services:\n  uploader:\n    image: acme/uploader:2.3\n    environment:\n      AWS_ACCESS_KEY_ID: ",
        (k, "AWS_ACCESS_KEY_ID"),
        "\n      AWS_SECRET_ACCESS_KEY: ",
        (s, "AWS_SECRET_ACCESS_KEY"),
        "\n      AWS_REGION: eu-central-1\n",
    )
    k = akid()
    a(
        src,
        "hey, the deploy keeps failing with AccessDenied for key ",
        (k, "AWS_ACCESS_KEY_ID"),
        " - did someone rotate it?",
    )
    k, s, t = akid("ASIA"), aws_secret(), aws_session()
    a(
        f"AWS STS credentials ({gen}: STS AssumeRole response)",
        '{\n    "Credentials": {\n        "AccessKeyId": "',
        (k, "AWS_ACCESS_KEY_ID"),
        '",\n        "SecretAccessKey": "',
        (s, "AWS_SECRET_ACCESS_KEY"),
        '",\n        "SessionToken": "',
        (t, "AWS_SESSION_TOKEN"),
        '",\n        "Expiration": "2025-03-04T18:22:11Z"\n    }\n}',
    )
    k, s = akid(), aws_secret()
    a(
        src,
        'provider "aws" {\n  region     = "us-east-1"\n  access_key = "',
        (k, "AWS_ACCESS_KEY_ID"),
        '"\n  secret_key = "',
        (s, "AWS_SECRET_ACCESS_KEY"),
        '"\n}\n',
    )
    k, s = akid(), aws_secret()
    a(
        src,
        "$ env | grep -i aws\nAWS_DEFAULT_REGION=ap-southeast-2\nAWS_SECRET_ACCESS_KEY=",
        (s, "AWS_SECRET_ACCESS_KEY"),
        "\nAWS_ACCESS_KEY_ID=",
        (k, "AWS_ACCESS_KEY_ID"),
        "\n",
    )
    k = akid()
    a(
        src,
        'Traceback (most recent call last):\n  File "sync.py", line 41, in <module>\n'
        "botocore.exceptions.ClientError: An error occurred (InvalidAccessKeyId) when calling the "
        "PutObject operation: The AWS Access Key Id ",
        (k, "AWS_ACCESS_KEY_ID"),
        " does not exist in our records.",
    )
    s = aws_secret()
    a(src, "can you check why this fails? I set aws secret to ", (s, "AWS_SECRET_ACCESS_KEY"), " in the job")

    # --- GCP: service-account key JSON (Google Cloud IAM docs), API keys AIza + 35 ---
    src = f"GCP service account key file ({gen}: Google Cloud IAM key file format; random key body)"
    for project in ("acme-analytics-prod", "billing-etl-421", "ml-sandbox-7731"):
        kid, key = hexs(40), pem("PRIVATE KEY", 14, escaped=True) + "\\n"
        a(
            src,
            '{\n  "type": "service_account",\n  "project_id": "',
            project,
            '",\n  "private_key_id": "',
            (kid, "GCP_SERVICE_ACCOUNT_KEY"),
            '",\n  "private_key": "',
            (key, "GCP_SERVICE_ACCOUNT_KEY"),
            '",\n  "client_email": "loader@',
            project,
            '.iam.gserviceaccount.com",\n  "client_id": "',
            rs(DG, 21),
            '",\n  "auth_uri": "https://accounts.google.com/o/oauth2/auth",\n'
            '  "token_uri": "https://oauth2.googleapis.com/token"\n}\n',
        )
    src = f"GCP API key ({gen}: AIza + 35 chars, Google API keys docs)"
    a(
        src,
        '<script async src="https://maps.googleapis.com/maps/api/js?key=',
        (gcp_api(), "GCP_API_KEY"),
        '&callback=initMap"></script>',
    )
    a(
        src,
        'curl "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-flash:generateContent?key=',
        (gcp_api(), "GCP_API_KEY"),
        '" -H "Content-Type: application/json" -d @req.json',
    )
    a(src, "GOOGLE_API_KEY=", (gcp_api(), "GCP_API_KEY"), "\nGOOGLE_CSE_ID=", rs(HEX, 17), "\n")
    a(src, '  "api_key": [\n    {\n      "current_key": "', (gcp_api(), "GCP_API_KEY"), '"\n    }\n  ],')
    a(
        src,
        "genai.configure(api_key='",
        (gcp_api(), "GCP_API_KEY"),
        "')\nmodel = genai.GenerativeModel('gemini-pro')",
    )

    # --- Azure: storage connection strings (Azure Storage docs), Entra client secrets, SAS ---
    src = f"Azure storage account key ({gen}: 88-char base64, Azure Storage connection string docs)"
    a(
        src,
        'AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=acmeprodsa;AccountKey=',
        (azure_key(), "AZURE_STORAGE_ACCOUNT_KEY"),
        ';EndpointSuffix=core.windows.net"\n',
    )
    a(
        src,
        '{\n  "ConnectionStrings": {\n    "Blob": '
        '"DefaultEndpointsProtocol=https;AccountName=invoices01;AccountKey=',
        (azure_key(), "AZURE_STORAGE_ACCOUNT_KEY"),
        ';EndpointSuffix=core.windows.net"\n  }\n}',
    )
    a(
        src,
        "az storage blob upload --account-name backupsweu --account-key ",
        (azure_key(), "AZURE_STORAGE_ACCOUNT_KEY"),
        " --container-name nightly --file db.bak --name db.bak",
    )
    a(
        src,
        'conn_str = (\n    "DefaultEndpointsProtocol=https;AccountName=mlartifacts;"\n    "AccountKey=',
        (azure_key(), "AZURE_STORAGE_ACCOUNT_KEY"),
        ';EndpointSuffix=core.windows.net"\n)\n',
    )
    src = f"Azure Service Bus SAS key ({gen}: 44-char base64, Service Bus connection string docs)"
    a(
        src,
        "Endpoint=sb://orders-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;"
        "SharedAccessKey=",
        (mixed(B64, 43) + "=", "AZURE_SHARED_ACCESS_KEY"),
    )
    src = f"Azure SAS token ({gen}: Azure Storage SAS docs)"
    sig = mixed(B62 + "%", 44) + "%3D"
    a(
        src,
        "https://acmeprodsa.blob.core.windows.net/exports/report.csv?sv=2022-11-02&ss=b&srt=o&sp=r"
        "&se=2025-04-01T00:00:00Z&st=2025-03-01T00:00:00Z&spr=https&sig=",
        (sig, "AZURE_SAS_TOKEN"),
    )
    sig = mixed(B62 + "%", 44) + "%3D"
    a(
        src,
        'SAS_URL = "https://mediastore.blob.core.windows.net/raw?sp=racwdl&st=2025-01-10T09:00:00Z'
        "&se=2025-01-11T09:00:00Z&spr=https&sv=2022-11-02&sr=c&sig=",
        (sig, "AZURE_SAS_TOKEN"),
        '"',
    )
    src = f"Azure Entra ID client secret ({gen}: 40 chars with 'Q~' marker, Entra app credentials)"
    a(
        src,
        "AZURE_TENANT_ID=",
        uuid4(),
        "\nAZURE_CLIENT_ID=",
        uuid4(),
        "\nAZURE_CLIENT_SECRET=",
        (azure_client_secret(), "AZURE_CLIENT_SECRET"),
        "\n",
    )
    a(
        src,
        'az login --service-principal -u "',
        uuid4(),
        '" -p "',
        (azure_client_secret(), "AZURE_CLIENT_SECRET"),
        '" --tenant "',
        uuid4(),
        '"',
    )
    a(
        src,
        '{\n  "AzureAd": {\n    "Instance": "https://login.microsoftonline.com/",\n    "TenantId": "',
        uuid4(),
        '",\n    "ClientId": "',
        uuid4(),
        '",\n    "ClientSecret": "',
        (azure_client_secret(), "AZURE_CLIENT_SECRET"),
        '"\n  }\n}',
    )

    # --- GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36, github_pat_ + 82 (GitHub token format blog post) ---
    src = f"GitHub token ({gen}: GitHub authentication token formats)"
    a(src, "GITHUB_TOKEN=", ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"), "\n")
    a(
        src,
        "github.com:\n    user: octodev\n    oauth_token: ",
        ("gho_" + mixed(B62, 36), "GITHUB_TOKEN"),
        "\n    git_protocol: https\n",
    )
    a(
        src,
        "git remote set-url origin https://",
        ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"),
        "@github.com/acme/payments.git",
    )
    a(
        src,
        'curl -H "Authorization: Bearer ',
        ("github_pat_" + mixed(B62, 22) + "_" + mixed(B62, 59), "GITHUB_TOKEN"),
        '" https://api.github.com/repos/acme/infra/actions/runs',
    )
    a(
        src,
        "##[debug]Evaluating: secrets.GITHUB_TOKEN\n##[debug]Result: '",
        ("ghs_" + mixed(B62, 36), "GITHUB_TOKEN"),
        "'",
    )
    a(
        src,
        '{"access_token":"',
        ("ghu_" + mixed(B62, 36), "GITHUB_TOKEN"),
        '","expires_in":28800,"refresh_token":"',
        ("ghr_" + mixed(B62, 76), "GITHUB_TOKEN"),
        '","token_type":"bearer"}',
    )
    a(src, 'gh = Github(auth=Auth.Token("', ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"), '"))')
    a(src, "pushed with my PAT ", ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"), " but CI still says 403, why?")

    # --- GitLab: glpat-/gldt-/glrt-/glptt- prefixes (GitLab token overview docs) ---
    src = f"GitLab token ({gen}: GitLab token prefixes docs)"
    a(
        src,
        'curl --header "PRIVATE-TOKEN: ',
        ("glpat-" + mixed(URL64, 20), "GITLAB_TOKEN"),
        '" "https://gitlab.example.com/api/v4/projects"',
    )
    a(
        src,
        "git clone https://oauth2:",
        ("glpat-" + mixed(URL64, 20), "GITLAB_TOKEN"),
        "@gitlab.com/acme/backend.git",
    )
    a(
        src,
        "docker login registry.gitlab.com -u gitlab+deploy-token-42 -p ",
        ("gldt-" + mixed(URL64, 20), "GITLAB_TOKEN"),
    )
    a(
        src,
        '[[runners]]\n  name = "docker-runner-3"\n  url = "https://gitlab.com/"\n  token = "',
        ("glrt-" + mixed(URL64, 20), "GITLAB_TOKEN"),
        '"\n  executor = "docker"\n',
    )
    a(
        src,
        "curl -X POST -F token=",
        ("glptt-" + hexs(40), "GITLAB_TOKEN"),
        " -F ref=main https://gitlab.com/api/v4/projects/123/trigger/pipeline",
    )
    a(
        src,
        "gitlab-runner register --url https://gitlab.com --registration-token ",
        ("GR1348941" + mixed(URL64, 20), "GITLAB_TOKEN"),
    )

    # --- Slack: xoxb/xoxp/xapp tokens and incoming webhooks (Slack token types docs) ---
    src = f"Slack token ({gen}: Slack token types docs)"
    a(
        src,
        'client = WebClient(token="',
        (f"xoxb-{rs(DG, 12)}-{rs(DG, 13)}-{mixed(B62, 24)}", "SLACK_TOKEN"),
        '")',
    )
    a(
        src,
        "SLACK_USER_TOKEN=",
        (f"xoxp-{rs(DG, 12)}-{rs(DG, 12)}-{rs(DG, 13)}-{hexs(32)}", "SLACK_TOKEN"),
        "\n",
    )
    a(
        src,
        "SLACK_APP_TOKEN=",
        (f"xapp-1-A{rs(UP + DG, 10)}-{rs(DG, 13)}-{hexs(64)}", "SLACK_TOKEN"),
        "\nSLACK_BOT_TOKEN=",
        (f"xoxb-{rs(DG, 11)}-{rs(DG, 13)}-{mixed(B62, 24)}", "SLACK_TOKEN"),
        "\n",
    )
    src = f"Slack incoming webhook ({gen}: Slack incoming webhooks docs)"

    def hook() -> str:
        return f"https://hooks.slack.com/services/T{rs(UP + DG, 10)}/B{rs(UP + DG, 10)}/{mixed(B62, 24)}"

    a(
        src,
        "curl -X POST -H 'Content-type: application/json' --data '{\"text\":\"deploy done\"}' ",
        (hook(), "SLACK_WEBHOOK_URL"),
    )
    a(
        src,
        "receivers:\n  - name: oncall\n    slack_configs:\n      - api_url: ",
        (hook(), "SLACK_WEBHOOK_URL"),
        "\n        channel: '#alerts'\n",
    )
    a(src, "const webhook = new IncomingWebhook('", (hook(), "SLACK_WEBHOOK_URL"), "');")
    a(
        src,
        "bot token for the standup app is ",
        (f"xoxb-{rs(DG, 12)}-{rs(DG, 12)}-{mixed(B62, 24)}", "SLACK_TOKEN"),
        ", can you add it to the vault?",
    )
    a(src, "SLACK_WEBHOOK=", (hook(), "SLACK_WEBHOOK_URL"), "\n")

    # --- Stripe: sk_live_/rk_live_/whsec_/pk_live_ (Stripe API keys docs) ---
    src = f"Stripe key ({gen}: Stripe API keys docs)"
    a(
        src,
        "STRIPE_SECRET_KEY=",
        ("sk_live_" + mixed(B62, 99), "STRIPE_SECRET_KEY"),
        "\nSTRIPE_WEBHOOK_SECRET=",
        ("whsec_" + mixed(B62, 32), "STRIPE_WEBHOOK_SECRET"),
        "\n",
    )
    a(
        "public example: Stripe API reference test key",
        "curl https://api.stripe.com/v1/charges \\\n  -u ",
        (STRIPE_DOC_TEST_KEY, "STRIPE_SECRET_KEY"),
        ": \\\n  -d amount=2000 -d currency=usd",
    )
    a(src, "const stripe = require('stripe')('", ("sk_live_" + mixed(B62, 24), "STRIPE_SECRET_KEY"), "');")
    a(src, "stripe:\n  restricted_key: ", ("rk_live_" + mixed(B62, 99), "STRIPE_RESTRICTED_KEY"), "\n")
    a(
        src,
        'event = stripe.Webhook.construct_event(payload, sig_header, "',
        ("whsec_" + mixed(B62, 32), "STRIPE_WEBHOOK_SECRET"),
        '")',
    )
    a(
        src,
        '<script>const stripe = Stripe("',
        ("pk_live_" + mixed(B62, 99), "STRIPE_PUBLISHABLE_KEY"),
        '");</script>',
    )
    a(src, 'stripe.api_key = "', ("sk_test_" + mixed(B62, 99), "STRIPE_SECRET_KEY"), '"')
    a(
        src,
        "$ stripe listen --api-key ",
        ("sk_live_" + mixed(B62, 24), "STRIPE_SECRET_KEY"),
        " --forward-to localhost:4242/webhook",
    )

    # --- OpenAI (and OpenAI-compatible): sk-, sk-proj-, sk-svcacct- (OpenAI API keys page) ---
    src = f"OpenAI API key ({gen}: OpenAI key prefixes, T3BlbkFJ marker)"

    def oai(prefix: str) -> str:
        return prefix + mixed(URL64, 74) + "T3BlbkFJ" + mixed(URL64, 74)

    a(src, "OPENAI_API_KEY=", (oai("sk-proj-"), "OPENAI_API_KEY"), "\n")
    a(
        src,
        'from openai import OpenAI\nclient = OpenAI(api_key="',
        (oai("sk-proj-"), "OPENAI_API_KEY"),
        '")\n',
    )
    legacy = "sk-" + mixed(B62, 20) + "T3BlbkFJ" + mixed(B62, 20)
    a(
        src,
        'curl https://api.openai.com/v1/models -H "Authorization: Bearer ',
        (legacy, "OPENAI_API_KEY"),
        '"',
    )
    a(
        src,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: openai\nstringData:\n  OPENAI_API_KEY: ",
        (oai("sk-svcacct-"), "OPENAI_API_KEY"),
        "\n",
    )
    a(
        src,
        "my key ",
        (oai("sk-proj-"), "OPENAI_API_KEY"),
        " stopped working after I moved to the new project, help?",
    )
    a(
        src,
        'llm = ChatOpenAI(model="gpt-4o", temperature=0, openai_api_key="',
        (oai("sk-proj-"), "OPENAI_API_KEY"),
        '")',
    )
    a(src, "OPENAI_ADMIN_KEY=", (oai("sk-admin-"), "OPENAI_API_KEY"), "\n")
    src = f"OpenAI-compatible provider key ({gen}: sk- + 32 hex, DeepSeek API docs)"
    a(
        src,
        'client = OpenAI(api_key="',
        ("sk-" + hexs(32), "OPENAI_COMPATIBLE_API_KEY"),
        '", base_url="https://api.deepseek.com")',
    )
    a(src, "DEEPSEEK_API_KEY=", ("sk-" + hexs(32), "OPENAI_COMPATIBLE_API_KEY"), "\n")

    # --- Anthropic: sk-ant-api03-/sk-ant-admin01- (Anthropic Console key format) ---
    src = f"Anthropic API key ({gen}: sk-ant-api03- + 93 chars + AA)"

    def ant(kind: str) -> str:
        return f"sk-ant-{kind}-" + mixed(URL64, 93) + "AA"

    a(src, "ANTHROPIC_API_KEY=", (ant("api03"), "ANTHROPIC_API_KEY"), "\n")
    a(src, 'client = anthropic.Anthropic(api_key="', (ant("api03"), "ANTHROPIC_API_KEY"), '")')
    a(
        src,
        'curl https://api.anthropic.com/v1/messages \\\n  -H "x-api-key: ',
        (ant("api03"), "ANTHROPIC_API_KEY"),
        '" \\\n  -H "anthropic-version: 2023-06-01"',
    )
    a(
        src,
        'curl https://api.anthropic.com/v1/organizations/users -H "x-api-key: ',
        (ant("admin01"), "ANTHROPIC_ADMIN_KEY"),
        '"',
    )
    a(src, "why does claude return 401 with ", (ant("api03"), "ANTHROPIC_API_KEY"), "?")
    a(src, '{\n  "env": {\n    "ANTHROPIC_API_KEY": "', (ant("api03"), "ANTHROPIC_API_KEY"), '"\n  }\n}')

    # --- Twilio: AC/SK + 32 hex, auth token 32 hex (Twilio API keys docs) ---
    src = f"Twilio credentials ({gen}: Twilio account SID / API key SID / auth token docs)"
    a(
        src,
        'account_sid = "',
        ("AC" + hexs(32), "TWILIO_ACCOUNT_SID"),
        '"\nauth_token = "',
        (hexs(32), "TWILIO_AUTH_TOKEN"),
        '"\nclient = Client(account_sid, auth_token)  # twilio\n',
    )
    a(
        src,
        "TWILIO_ACCOUNT_SID=",
        ("AC" + hexs(32), "TWILIO_ACCOUNT_SID"),
        "\nTWILIO_AUTH_TOKEN=",
        (hexs(32), "TWILIO_AUTH_TOKEN"),
        "\n",
    )
    sid = "AC" + hexs(32)
    a(
        src,
        "curl -X POST https://api.twilio.com/2010-04-01/Accounts/",
        (sid, "TWILIO_ACCOUNT_SID"),
        "/Messages.json -u ",
        sid,
        ":",
        (hexs(32), "TWILIO_AUTH_TOKEN"),
        " --data-urlencode 'To=+15558675310'",
    )
    a(
        src,
        "TWILIO_API_KEY=",
        ("SK" + hexs(32), "TWILIO_API_KEY"),
        "\nTWILIO_API_SECRET=",
        (mixed(B62, 32), "GENERIC_SECRET"),
        "\n",
    )
    a(
        src,
        "the twilio auth token is ",
        (hexs(32), "TWILIO_AUTH_TOKEN"),
        ", sid ",
        ("AC" + hexs(32), "TWILIO_ACCOUNT_SID"),
    )

    # --- SendGrid: SG.<22>.<43> (SendGrid API keys docs) ---
    src = f"SendGrid API key ({gen}: SG.22.43)"

    def sg() -> str:
        return f"SG.{mixed(URL64, 22)}.{mixed(URL64, 43)}"

    a(src, "SENDGRID_API_KEY=", (sg(), "SENDGRID_API_KEY"), "\n")
    a(src, "sg = SendGridAPIClient('", (sg(), "SENDGRID_API_KEY"), "')")
    a(
        src,
        "curl --request POST --url https://api.sendgrid.com/v3/mail/send --header 'Authorization: Bearer ",
        (sg(), "SENDGRID_API_KEY"),
        "'",
    )
    a(src, "email:\n  provider: sendgrid\n  api_key: ", (sg(), "SENDGRID_API_KEY"), "\n")
    a(src, "sgMail.setApiKey('", (sg(), "SENDGRID_API_KEY"), "');")

    # --- Mailgun: key- + 32 (legacy), 32hex-8hex-8hex (current) ---
    src = f"Mailgun API key ({gen}: Mailgun API keys docs)"
    a(
        src,
        "curl -s --user 'api:",
        ("key-" + rs(DG + LO, 32), "MAILGUN_API_KEY"),
        "' https://api.mailgun.net/v3/mg.example.com/messages -F to=ops@example.com",
    )
    a(
        src,
        "MAILGUN_API_KEY=",
        ("key-" + rs(DG + LO, 32), "MAILGUN_API_KEY"),
        "\nMAILGUN_DOMAIN=mg.example.com\n",
    )
    a(
        src,
        'mailgun:\n  domain: mg.acme.io\n  api_key: "',
        (f"{hexs(32)}-{hexs(8)}-{hexs(8)}", "MAILGUN_API_KEY"),
        '"\n',
    )
    a(
        src,
        'requests.post("https://api.mailgun.net/v3/mg.acme.io/messages", auth=("api", "',
        (f"{hexs(32)}-{hexs(8)}-{hexs(8)}", "MAILGUN_API_KEY"),
        '"), data=msg)',
    )
    a(
        src,
        "'mailgun' => [\n    'domain' => 'mg.shop.test',\n    'secret' => '",
        ("key-" + rs(DG + LO, 32), "MAILGUN_API_KEY"),
        "',\n],",
    )

    # --- npm (npm_ + 36, npm access tokens docs), PyPI (pypi-AgE..., PyPI API tokens), HF (hf_ + 34) ---
    src = f"npm token ({gen}: npm access tokens docs)"
    a(src, "//registry.npmjs.org/:_authToken=", ("npm_" + mixed(B62, 36), "NPM_TOKEN"), "\n")
    a(
        src,
        "      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ",
        ("npm_" + mixed(B62, 36), "NPM_TOKEN"),
        "\n",
    )
    a(
        src,
        "registry=https://npm.acme.internal/\n//npm.acme.internal/:_authToken=",
        (uuid4(), "NPM_TOKEN"),
        "\n",
    )
    a(
        src,
        'npmAuthToken: "',
        ("npm_" + mixed(B62, 36), "NPM_TOKEN"),
        '"\nnpmRegistryServer: "https://registry.npmjs.org"\n',
    )
    a(src, "NPM_TOKEN=", ("npm_" + mixed(B62, 36), "NPM_TOKEN"), " npm whoami")
    src = f"PyPI token ({gen}: PyPI API tokens, macaroon prefix pypi-AgEIcHlwaS5vcmc)"

    def pypi() -> str:
        return "pypi-AgEIcHlwaS5vcmc" + mixed(URL64, 140)

    a(src, "[pypi]\n  username = __token__\n  password = ", (pypi(), "PYPI_TOKEN"), "\n")
    a(src, "TWINE_USERNAME=__token__ TWINE_PASSWORD=", (pypi(), "PYPI_TOKEN"), " twine upload dist/*")
    a(
        src,
        "      - uses: pypa/gh-action-pypi-publish@release/v1\n        with:\n          password: ",
        (pypi(), "PYPI_TOKEN"),
        "\n",
    )
    a(src, "uv publish --token ", (pypi(), "PYPI_TOKEN"))
    src = f"Hugging Face token ({gen}: hf_ + 34 letters, HF user access tokens docs)"

    def hf() -> str:
        return "hf_" + mixed(UP + LO, 33) + R.choice(DG) if R.random() < 0.3 else "hf_" + mixed(B62, 34)

    a(src, "huggingface-cli login --token ", (hf(), "HUGGINGFACE_TOKEN"))
    a(src, "HF_TOKEN=", (hf(), "HUGGINGFACE_TOKEN"), "\n")
    a(src, 'from huggingface_hub import login\nlogin(token="', (hf(), "HUGGINGFACE_TOKEN"), '")')
    a(
        src,
        'curl https://huggingface.co/api/whoami-v2 -H "Authorization: Bearer ',
        (hf(), "HUGGINGFACE_TOKEN"),
        '"',
    )
    a(
        src,
        'model = AutoModel.from_pretrained("acme/private-model", token="',
        (hf(), "HUGGINGFACE_TOKEN"),
        '")',
    )

    # --- Discord (bot token = base64(user id).6.27+; webhooks), Telegram (id:AA + 33) ---
    src = f"Discord credentials ({gen}: Discord developer docs token/webhook format)"
    a(src, "client.run('", (discord_token(), "DISCORD_BOT_TOKEN"), "')")
    a(src, "DISCORD_TOKEN=", (discord_token(), "DISCORD_BOT_TOKEN"), "\nDISCORD_GUILD_ID=", rs(DG, 18), "\n")

    def dhook() -> str:
        return f"https://discord.com/api/webhooks/{rs(DG, 19)}/{mixed(URL64, 68)}"

    a(src, 'requests.post("', (dhook(), "DISCORD_WEBHOOK_URL"), '", json={"content": msg})')
    a(src, '{\n  "notifications": {\n    "discord": "', (dhook(), "DISCORD_WEBHOOK_URL"), '"\n  }\n}')
    a(src, "here's the bot token, don't share: ", (discord_token(), "DISCORD_BOT_TOKEN"))
    src = f"Telegram bot token ({gen}: Telegram Bot API token format)"

    def tg() -> str:
        return f"{rs(DG, 10)}:AA{mixed(URL64, 33)}"

    a(src, 'app = ApplicationBuilder().token("', (tg(), "TELEGRAM_BOT_TOKEN"), '").build()')
    a(
        src,
        'curl "https://api.telegram.org/bot',
        (tg(), "TELEGRAM_BOT_TOKEN"),
        '/sendMessage?chat_id=-1001234567890&text=backup+ok"',
    )
    a(src, "TELEGRAM_BOT_TOKEN=", (tg(), "TELEGRAM_BOT_TOKEN"), "\n")
    a(
        "public example: Telegram Bot API documentation token",
        "Each bot is given a unique authentication token, for example telegram bot token ",
        (TELEGRAM_DOC_TOKEN, "TELEGRAM_BOT_TOKEN"),
        " - keep it secret.",
    )

    # --- Shopify (shpat_/shpss_ + 32 hex), DigitalOcean (dop_v1_ + 64 hex) ---
    src = f"Shopify token ({gen}: Shopify access token prefixes)"
    a(
        src,
        'curl -H "X-Shopify-Access-Token: ',
        ("shpat_" + hexs(32), "SHOPIFY_ACCESS_TOKEN"),
        '" https://acme-store.myshopify.com/admin/api/2024-01/orders.json',
    )
    a(
        src,
        "SHOPIFY_ACCESS_TOKEN=",
        ("shpat_" + hexs(32), "SHOPIFY_ACCESS_TOKEN"),
        "\nSHOPIFY_API_SECRET=",
        ("shpss_" + hexs(32), "SHOPIFY_SHARED_SECRET"),
        "\n",
    )
    a(
        src,
        'session = shopify.Session(shop_url, api_version, "',
        ("shpat_" + hexs(32), "SHOPIFY_ACCESS_TOKEN"),
        '")',
    )
    a(src, '[app]\nclient_secret = "', ("shpss_" + hexs(32), "SHOPIFY_SHARED_SECRET"), '"\n')
    src = f"DigitalOcean token ({gen}: DigitalOcean personal access token format)"
    a(src, "doctl auth init --access-token ", ("dop_v1_" + hexs(64), "DIGITALOCEAN_TOKEN"))
    a(src, "DIGITALOCEAN_TOKEN=", ("dop_v1_" + hexs(64), "DIGITALOCEAN_TOKEN"), "\n")
    a(src, 'do_token = "', ("dop_v1_" + hexs(64), "DIGITALOCEAN_TOKEN"), '"\n')
    a(
        src,
        "      - uses: digitalocean/action-doctl@v2\n        with:\n          token: ",
        ("dop_v1_" + hexs(64), "DIGITALOCEAN_TOKEN"),
        "\n",
    )

    # --- Datadog (32-hex API key / 40-hex app key in context), Heroku (UUID in context, HRKU-) ---
    src = f"Datadog keys ({gen}: Datadog API and application keys docs)"
    a(
        src,
        "# /etc/datadog-agent/datadog.yaml\napi_key: ",
        (hexs(32), "DATADOG_API_KEY"),
        "\nsite: datadoghq.eu\n",
    )
    a(
        src,
        "docker run -d --name dd-agent -e DD_API_KEY=",
        (hexs(32), "DATADOG_API_KEY"),
        " -e DD_SITE=datadoghq.com gcr.io/datadoghq/agent:7",
    )
    a(
        src,
        "datadog:\n  apiKey: ",
        (hexs(32), "DATADOG_API_KEY"),
        "\n  appKey: ",
        (hexs(40), "DATADOG_APP_KEY"),
        "\n  clusterName: prod-eu\n",
    )
    a(
        src,
        'from datadog import initialize\ninitialize(api_key="',
        (hexs(32), "DATADOG_API_KEY"),
        '", app_key="',
        (hexs(40), "DATADOG_APP_KEY"),
        '")',
    )
    a(
        src,
        'curl -X GET "https://api.datadoghq.com/api/v1/validate" -H "DD-API-KEY: ',
        (hexs(32), "DATADOG_API_KEY"),
        '"',
    )
    src = f"Heroku API key ({gen}: Heroku API key (UUID) / HRKU- token format)"
    a(src, "HEROKU_API_KEY=", (uuid4(), "HEROKU_API_KEY"), "\n")
    a(src, "machine api.heroku.com\n  login dev@acme.io\n  password ", (uuid4(), "HEROKU_API_KEY"), "\n")
    a(
        src,
        "      - uses: akhileshns/heroku-deploy@v3\n        with:\n          heroku_api_key: ",
        ("HRKU-" + mixed(URL64, 60), "HEROKU_API_KEY"),
        "\n",
    )
    a(src, "heroku authorizations:create\nToken: ", ("HRKU-" + mixed(URL64, 60), "HEROKU_API_KEY"), "\n")

    # --- JWTs (RFC 7519): generated with real JSON headers; plus jwt.io's example token ---
    src = f"JWT ({gen}: RFC 7519, random signature)"
    hs = {"alg": "HS256", "typ": "JWT"}
    rs256 = {"alg": "RS256", "typ": "JWT", "kid": rs(B62, 16)}
    a(
        src,
        'curl https://api.acme.io/v2/orders -H "Authorization: Bearer ',
        (jwt(hs, {"sub": "42", "role": "admin", "exp": 1767225600}), "JWT"),
        '"',
    )
    a("public example: jwt.io default token", "decode this for me: ", (JWT_IO_EXAMPLE, "JWT"))
    a(src, "Cookie: session=", (jwt(hs, {"uid": 9812, "iat": 1735689600}), "JWT"), "; theme=dark")
    a(
        src,
        '{"id_token":"',
        (jwt(rs256, {"iss": "https://login.acme.io", "aud": "web", "sub": uuid4()}, 256), "JWT"),
        '","token_type":"Bearer","expires_in":3600}',
    )
    a(
        src,
        "2025-02-11T10:21:07Z WARN auth: rejected token ",
        (jwt(hs, {"sub": "svc-batch", "scope": "read:all"}), "JWT"),
        " (expired)",
    )
    a(src, 'TEST_TOKEN = "', (jwt(hs, {"sub": "test-user", "admin": True}), "JWT"), '"')
    a(src, "localStorage.setItem('auth', '", (jwt(rs256, {"sub": "u_1", "email": "a@b.c"}, 256), "JWT"), "')")
    a(
        src,
        "refresh_token=",
        (jwt({"alg": "ES256", "typ": "JWT"}, {"sub": "7", "typ": "refresh"}, 64), "JWT"),
        "&grant_type=refresh_token",
    )

    # --- Private keys (RFC 7468 PEM, OpenSSH, OpenPGP armor); random bodies, not real keys ---
    src = f"private key block ({gen}: RFC 7468 / OpenSSH / RFC 4880 armor, random body)"
    a(src, "$ cat ~/.ssh/id_rsa\n", (pem("RSA PRIVATE KEY", 25), "PRIVATE_KEY"), "\n$ ")
    a(src, "ssl_key: |\n  ", (pem("EC PRIVATE KEY", 4).replace("\n", "\n  "), "PRIVATE_KEY"), "\n")
    a(src, (pem("OPENSSH PRIVATE KEY", 6, first="b3BlbnNzaC1rZXktdjEAAAAA"), "PRIVATE_KEY"), "\n")
    a(
        src,
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBG"
        + rs(B64, 58)
        + "\n-----END PGP PUBLIC KEY BLOCK-----\n"
        "and the private one:\n",
        (pem("PGP PRIVATE KEY BLOCK", 10, first="lQdGBG"), "PRIVATE_KEY"),
    )
    a(src, "key.pem:\n", (pem("ENCRYPTED PRIVATE KEY", 16), "PRIVATE_KEY"))
    a(src, (pem("DSA PRIVATE KEY", 8), "PRIVATE_KEY"))
    a(
        src,
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\nstringData:\n  tls.key: |\n    ",
        (pem("PRIVATE KEY", 10).replace("\n", "\n    "), "PRIVATE_KEY"),
        "\n",
    )
    a(src, '{"name": "signing", "pem": "', (pem("PRIVATE KEY", 8, escaped=True), "PRIVATE_KEY"), '"}')
    a(
        src,
        "ssh is failing with this key, what's wrong?\n\n",
        ("-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(rs(B64, 64) for _ in range(5)), "PRIVATE_KEY"),
        "\n... (rest cut)\n",
    )
    a(
        src,
        "cat > deploy_key <<EOF\n",
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ" + rs(B64, 28),
            "PRIVATE_KEY",
        ),
    )
    a(src, 'JWT_PRIVATE_KEY="', (pem("RSA PRIVATE KEY", 10).replace("\n", " "), "PRIVATE_KEY"), '"\n')
    a(
        src,
        'resource "tls_private_key" "x" {}\nlocals {\n  key = <<-EOT\n',
        (pem("RSA PRIVATE KEY", 9), "PRIVATE_KEY"),
        "\n  EOT\n}\n",
    )

    # --- Passwords in URLs (RFC 3986 userinfo) ---
    src = "password in URL (generated password; RFC 3986 userinfo)"

    def pw(n: int = 14) -> str:
        return mixed(B62, n - 2) + R.choice("!_-.~*") + R.choice(DG)

    a(src, "DATABASE_URL=postgres://app:", (pw(), "URL_PASSWORD"), "@db.prod.internal:5432/app\n")
    a(
        src,
        'engine = create_engine("mysql+pymysql://report:',
        (pw(), "URL_PASSWORD"),
        '@10.0.3.12/warehouse")',
    )
    a(
        src,
        "MONGO_URI=mongodb+srv://admin:",
        (pw(), "URL_PASSWORD"),
        "@cluster0.ab1cd.mongodb.net/?retryWrites=true\n",
    )
    a(src, "REDIS_URL=redis://:", (pw(20), "URL_PASSWORD"), "@cache.internal:6379/0\n")
    a(src, "broker_url = 'amqp://celery:", (pw(), "URL_PASSWORD"), "@rabbitmq:5672//'")
    a(src, "git clone https://jdoe:", (pw(), "URL_PASSWORD"), "@git.acme.local/scm/core/api.git")
    a(src, "ftp://backup:", (pw(), "URL_PASSWORD"), "@files.example.org/outgoing/")
    a(src, "EMAIL_URL=smtp+tls://noreply@acme.io:", (pw(), "URL_PASSWORD"), "@smtp.mailhost.com:587\n")
    a(src, 'es = Elasticsearch("https://elastic:', (pw(), "URL_PASSWORD"), '@es01.acme.io:9200")')
    a(src, "export https_proxy=http://svc_proxy:", (pw(), "URL_PASSWORD"), "@proxy.corp:3128")
    a(src, "psql postgresql://postgres:", (pw(10), "URL_PASSWORD"), "@localhost/postgres -c 'select 1'")
    a(
        src,
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed "
        "[SQL: (url postgresql://etl:",
        (pw(), "URL_PASSWORD"),
        "@10.2.0.7/etl)]",
    )

    # --- Connection strings (ADO.NET / ODBC / JDBC keyword syntax) ---
    src = "connection string password (generated password; ADO.NET/ODBC keyword syntax)"
    a(
        src,
        "Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=orders;User ID=app;Password=",
        (pw(), "CONNECTION_STRING_PASSWORD"),
        ";Encrypt=True;",
    )
    a(
        src,
        '"DefaultConnection": "Server=sql01;Database=Crm;User Id=crm_app;Password=',
        (pw(), "CONNECTION_STRING_PASSWORD"),
        ';TrustServerCertificate=True"',
    )
    a(
        src,
        "Driver={ODBC Driver 18 for SQL Server};Server=db01;Database=hr;UID=hr_ro;PWD={",
        (pw(), "CONNECTION_STRING_PASSWORD"),
        "};",
    )
    a(src, "Data Source=ORCL01;User Id=scott;Password=", (pw(), "CONNECTION_STRING_PASSWORD"), ";")
    a(
        src,
        "Server=mysql.internal;Port=3306;Database=shop;Uid=shop;Pwd=",
        (pw(), "CONNECTION_STRING_PASSWORD"),
        ";",
    )
    a(
        src,
        "Host=pg.internal;Username=ledger;Password=",
        (pw(), "CONNECTION_STRING_PASSWORD"),
        ";Database=ledger",
    )

    # --- Assignments in env files, YAML, JSON, code ---
    src = "secret assignment (generated value; written config/code context)"
    a(src, "DB_HOST=db\nDB_USER=app\nDB_PASSWORD=", (pw(), "PASSWORD"), "\n")
    a(src, "database:\n  host: db.internal\n  username: app\n  password: ", (pw(), "PASSWORD"), "\n")
    a(src, '{"user": "etl", "password": "', (pw(), "PASSWORD"), '", "host": "10.0.0.5"}')
    a(src, "PASSWORD = '", (pw(), "PASSWORD"), "'\n")
    a(src, 'const apiKey = "', (mixed(B62, 32), "GENERIC_SECRET"), '";')
    a(src, 'cfg := Config{\n\tUser:     "svc",\n\tPassword: "', (pw(), "PASSWORD"), '",\n}')
    a(src, 'private static final String DB_PASSWORD = "', (pw(), "PASSWORD"), '";')
    a(src, "'password' => '", (pw(), "PASSWORD"), "',")
    a(src, 'production:\n  adapter: postgresql\n  password: "', (pw(), "PASSWORD"), '"\n')
    a(src, '[database]\nuser = "app"\npassword = "', (pw(), "PASSWORD"), '"\n')
    a(src, "[client]\nuser=root\npassword=", (pw(), "PASSWORD"), "\n")
    a(
        src,
        "  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ",
        (pw(), "PASSWORD"),
        "\n",
    )
    a(src, "docker run -e MYSQL_ROOT_PASSWORD=", (pw(), "PASSWORD"), " -d mysql:8")
    a(src, "stringData:\n  username: admin\n  password: ", (pw(), "PASSWORD"), "\n")
    a(src, 'db_password = "', (pw(), "PASSWORD"), '"\n')
    a(src, "export API_SECRET=", (mixed(B62, 40), "GENERIC_SECRET"), "\n")
    a(src, "spring.datasource.password=", (pw(), "PASSWORD"), "\n")
    a(
        src,
        '{"web":{"client_id":"',
        rs(DG, 12),
        "-",
        rs(LO + DG, 32),
        '.apps.googleusercontent.com","client_secret":"',
        ("GOCSPX-" + mixed(URL64, 28), "GENERIC_SECRET"),
        '"}}',
    )
    a(
        src,
        "SECRET_KEY = 'django-insecure-",
        (mixed(B62 + "!@#%^&*(-_=+)", 50).replace("'", "x"), "GENERIC_SECRET"),
        "'",
    )
    a(src, "auth:\n  token: ", (mixed(B62, 40), "GENERIC_SECRET"), "\n")
    a(src, "curl -H 'x-api-key: ", (mixed(B62, 40), "GENERIC_SECRET"), "' https://api.vendor.io/v1/items")
    a(src, "production:\n  secret_key_base: ", (hexs(128), "GENERIC_SECRET"), "\n")
    a(src, "JWT_SECRET=", (mixed(B62, 48), "GENERIC_SECRET"), "\n")
    a(src, "app.use(session({ secret: '", (mixed(B62, 24), "GENERIC_SECRET"), "', resave: false }))")
    a(src, "encryption_key: ", (mixed(B64, 43) + "=", "GENERIC_SECRET"), "\n")
    a(src, "ansible_become_password: ", (pw(), "PASSWORD"), "\n")
    a(src, "REDIS_PASSWORD=", (pw(24), "PASSWORD"), "\nSMTP_PASSWORD=", (pw(), "PASSWORD"), "\n")
    a(src, "ldap:\n  bindDN: cn=svc,dc=acme,dc=io\n  bindPassword: ", (pw(), "PASSWORD"), "\n")
    a(src, "PGPASSWORD=", (pw(), "PASSWORD"), " psql -h db -U app -c '\\dt'")
    a(src, 'headers = {"X-Auth-Token": "', (mixed(B62, 32), "GENERIC_SECRET"), '"}')
    a(src, "jdbc:postgresql://db:5432/app?user=app&password=", (pw(), "PASSWORD"), "&ssl=true")
    a(src, 'variable "x" {}\nadmin_password = "', (pw(), "PASSWORD"), '"\n')

    # --- Command lines ---
    src = "password on a command line (generated password; curl/mysql/docker/sshpass/redis-cli usage)"
    a(src, "curl -u admin:", (pw(), "PASSWORD"), " https://jenkins.acme.io/api/json")
    a(src, "mysql -h db01 -u root -p", (pw(), "PASSWORD"), " shop < dump.sql")
    a(src, "mysqldump --user=backup --password=", (pw(), "PASSWORD"), " --all-databases > all.sql")
    a(src, "sshpass -p '", (pw(), "PASSWORD"), "' ssh deploy@10.0.4.2")
    a(src, "docker login registry.acme.io -u ci -p ", (pw(), "PASSWORD"))
    a(src, "redis-cli -h cache -a ", (pw(), "PASSWORD"), " ping")
    a(src, "vault login -method=userpass username=ops password=", (pw(), "PASSWORD"))
    a(
        src,
        "java -jar liquibase.jar --url=jdbc:mysql://db/x --username=lb --password ",
        (pw(), "PASSWORD"),
        " update",
    )

    # --- HTTP auth headers ---
    src = "HTTP credentials (generated; RFC 7617 Basic / RFC 6750 Bearer)"

    def basic() -> str:
        return base64.b64encode(f"svc_{rs(LO, 5)}:{pw()}".encode()).decode()

    a(
        src,
        'curl -H "Authorization: Basic ',
        (basic(), "BASIC_AUTH_CREDENTIALS"),
        '" https://nexus.acme.io/service/rest',
    )
    a(
        src,
        '{\n  "auths": {\n    "registry.acme.io": {\n      "auth": "',
        (basic(), "BASIC_AUTH_CREDENTIALS"),
        '"\n    }\n  }\n}',
    )
    a(src, "_auth=", (basic(), "BASIC_AUTH_CREDENTIALS"), "\nalways-auth=true\n")
    a(src, 'headers = {"Authorization": "Basic ', (basic(), "BASIC_AUTH_CREDENTIALS"), '"}')
    a(
        src,
        "GET /v1/reports HTTP/1.1\nHost: api.partner.io\nAuthorization: Bearer ",
        (mixed(B62, 40), "BEARER_TOKEN"),
        "\n",
    )
    a(
        src,
        "curl -H 'Authorization: Bearer ",
        (mixed(URL64, 64), "BEARER_TOKEN"),
        "' https://api.partner.io/v2/usage",
    )
    a(src, "fetch(url, { headers: { Authorization: `Bearer ", (mixed(B62, 36), "BEARER_TOKEN"), "` } })")
    a(src, "requests.get(url, headers={'Authorization': 'Bearer ", (mixed(B62, 43), "BEARER_TOKEN"), "'})")

    # --- Passwords in prose (chat, tickets) ---
    src = "password in prose (generated password; written chat/ticket text)"
    a(src, "the password for the staging db is ", (pw(), "PASSWORD"), " - please don't paste it in #general")
    a(src, "Hi team, wifi password is ", (pw(12), "PASSWORD"), " until Friday.")
    a(src, "my password was ", (pw(10), "PASSWORD"), " and now it says locked out")
    a(src, "New hire setup: laptop password is ", (pw(), "PASSWORD"), ", change it on first login.")
    a(src, "FYI the VPN passphrase is ", (pw(16), "PASSWORD"))
    a(src, "root password is ", (rs(DG, 8), "PASSWORD"), " on the old NAS")

    # --- High-entropy tokens in context (no vendor format) ---
    src = "random token next to a secret word (generated; written chat/config text)"
    a(src, "here is the token: ", (mixed(B62, 32), "GENERIC_HIGH_ENTROPY_SECRET"), " - it expires tomorrow")
    a(src, "license:\n  key: ", (mixed(B62, 28), "GENERIC_HIGH_ENTROPY_SECRET"), "\n")
    a(src, "use this api key ", (mixed(B62, 40), "GENERIC_HIGH_ENTROPY_SECRET"), " for the sandbox")
    a(
        src,
        "Set `WEBHOOK_SIGNING_KEY` to `",
        (mixed(B64, 44), "GENERIC_HIGH_ENTROPY_SECRET"),
        "` in the dashboard.",
    )
    a(src, "Auth code ", (mixed(URL64, 26), "GENERIC_HIGH_ENTROPY_SECRET"), " was rejected by the IdP")
    a(src, "the signing secret ", (hexs(64), "GENERIC_HIGH_ENTROPY_SECRET"), " is in 1password now")
    a(src, "key = ", (mixed(B62, 32), "GENERIC_HIGH_ENTROPY_SECRET"), "\n")
    a(src, "Access token ", (mixed(URL64, 48), "GENERIC_HIGH_ENTROPY_SECRET"), " expired at 14:02 UTC")
    a(src, "credential for the partner sftp: ", (mixed(B62, 24), "GENERIC_HIGH_ENTROPY_SECRET"))
    a(src, "the bearer is ", (mixed(B62, 36), "GENERIC_HIGH_ENTROPY_SECRET"), ", paste it into Postman")

    # --- Second batch: written after the first tuning round as a held-out check ---
    pw2 = pw  # same generator, new draws

    def b(*parts: Part) -> None:
        """A second-batch sample; its source names the format of its first labelled value."""
        entity = next(p[1] for p in parts if isinstance(p, tuple))
        a(f"second batch, held out while tuning; {BATCH2_FORMATS[entity]}", *parts)

    b("export GH_TOKEN=", ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"))
    b('os.environ["OPENAI_API_KEY"] = "', (oai("sk-proj-"), "OPENAI_API_KEY"), '"')
    b("api-key: ", (hexs(32), "GENERIC_SECRET"), "\n")
    b(
        'curl -H "Authorization: token ',
        ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"),
        '" https://api.github.com/user',
    )
    b('{"username":"ops","password":"', (pw2(), "PASSWORD"), '"}')
    b(
        'conn = psycopg2.connect(dbname="sales", user="etl", password="',
        (pw2(), "PASSWORD"),
        '", host="10.1.1.4")',
    )
    b('mongosh "mongodb://admin:', (pw2(), "URL_PASSWORD"), '@localhost:27017/admin"')
    b('$password = "', (pw2(), "PASSWORD"), '"\n$cred = New-Object PSCredential($user, $secure)')
    b('$sec = ConvertTo-SecureString "', (pw2(), "PASSWORD"), '" -AsPlainText -Force')
    b("https://jdoe:", ("ghp_" + mixed(B62, 36), "GITHUB_TOKEN"), "@github.com\n")
    b("data:\n  password: ", (base64.b64encode(pw2().encode()).decode(), "PASSWORD"), "\n")
    b(
        "AZURE_OPENAI_API_KEY=",
        (hexs(32), "GENERIC_SECRET"),
        "\nAZURE_OPENAI_ENDPOINT=https://acme.openai.azure.com/\n",
    )
    b(
        "curl https://acme.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01 "
        '-H "api-key: ',
        (hexs(32), "GENERIC_SECRET"),
        '"',
    )
    b("define( 'DB_PASSWORD', '", (pw2(), "PASSWORD"), "' );")
    b("define('AUTH_KEY', '", (mixed(B62 + "!@#%^&*()-_[]<>~+=,.;:/?|", 64), "GENERIC_SECRET"), "');")
    b('os.environ.setdefault("DB_PASSWORD", "', (pw2(), "PASSWORD"), '")')
    b(
        "I think the issue is the token, it is ",
        (mixed(B62, 40), "GENERIC_HIGH_ENTROPY_SECRET"),
        " and it keeps failing",
    )
    b(
        "Slack said: invalid_auth for ",
        (f"xoxb-{rs(DG, 12)}-{rs(DG, 12)}-{mixed(B62, 24)}", "SLACK_TOKEN"),
    )
    b("aws_session_token = ", ("FwoGZXIvYXdzE" + rs(B64, 300), "AWS_SESSION_TOKEN"), "\n")
    b('sentry_dsn = "https://', (hexs(32), "SENTRY_DSN"), '@o123456.ingest.sentry.io/4504"')
    b(
        "redis-cli -u redis://default:",
        (pw2(), "URL_PASSWORD"),
        "@redis-12345.c1.us-east-1.ec2.cloud.redislabs.com:12345",
    )
    b(("-----BEGIN PRIVATE KEY-----\n" + "\n".join(rs(B64, 64) for _ in range(3)), "PRIVATE_KEY"))
    b(
        'ssh_private_key: "',
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\\n" + rs(B62, 70) + "\\n-----END OPENSSH PRIVATE KEY-----",
            "PRIVATE_KEY",
        ),
        '"',
    )
    b("Here are the creds for the demo env: user admin, password ", (pw2(), "PASSWORD"))
    b('"client_secret": "', (mixed(B62, 40), "GENERIC_SECRET"), '"')
    b("npm config set //registry.npmjs.org/:_authToken=", ("npm_" + mixed(B62, 36), "NPM_TOKEN"))
    b('HF_API_TOKEN = "', (hf(), "HUGGINGFACE_TOKEN"), '"')
    b(
        "git push https://x-access-token:",
        ("ghs_" + mixed(B62, 36), "GITHUB_TOKEN"),
        "@github.com/acme/app.git",
    )
    b("Authorization: Bearer ", (jwt({"alg": "HS256"}, {"sub": "1"}), "JWT"))
    b("MYSQL_PWD=", (pw2(), "PASSWORD"), " mysql -u root")
    b("kubectl create secret generic api --from-literal=token=", (mixed(B62, 32), "GENERIC_SECRET"))
    b('webhook_secret: "', (mixed(B62, 32), "GENERIC_SECRET"), '"')
    b('Error: authentication failed for user "postgres" (password: "', (pw2(), "PASSWORD"), '")')
    return c.rows


def main() -> None:
    for name, rows in (("positives.jsonl", positives()), ("negatives.jsonl", negatives(R))):
        with (HERE / name).open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
