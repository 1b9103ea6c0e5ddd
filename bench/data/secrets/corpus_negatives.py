"""Clean samples for the secrets corpus: text that looks secret-adjacent but holds no secret.

All snippets were written for this corpus (none copied from a project); the generated ones
draw UUIDs, digests, base64 images, versions and the like from the caller's seeded RNG.
The point is the false-positive traps: code that handles passwords without containing one,
placeholders and secret references, hashes and identifiers near the word "key".
"""

from __future__ import annotations

import base64
import hashlib
import random
import string

HEX = "0123456789abcdef"
B62 = string.ascii_letters + string.digits

PYTHON = [
    """def login(request):
    username = request.form["username"]
    password = request.form["password"]
    user = User.query.filter_by(username=username).first()
    if user is None or not check_password_hash(user.password_hash, password):
        abort(401)
    return redirect(url_for("home"))""",
    """import os

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "PASSWORD": os.environ.get("DB_PASSWORD", ""),
        "HOST": os.environ.get("DB_HOST", "localhost"),
    }
}""",
    """token = jwt.encode({"sub": user.id, "exp": expiry}, settings.SECRET_KEY, algorithm="HS256")
return {"access_token": token, "token_type": "bearer"}""",
    """class Settings(BaseSettings):
    database_url: str
    api_key: SecretStr
    openai_api_key: SecretStr | None = None
    model_config = SettingsConfigDict(env_file=".env")""",
    """def connect(host: str, user: str, password: str, port: int = 5432) -> Connection:
    return psycopg.connect(host=host, user=user, password=password, port=port)""",
    """api_key = os.getenv("OPENAI_API_KEY")
if not api_key:
    raise RuntimeError("set OPENAI_API_KEY first")
client = OpenAI(api_key=api_key)""",
    """tokens = tokenizer(text, return_tensors="pt", truncation=True, max_length=512)
max_tokens = 1024
token_ids = tokens["input_ids"][0].tolist()""",
    """@pytest.fixture
def client(app):
    app.config["SECRET_KEY"] = "test"
    return app.test_client()""",
    """password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=12))
if not bcrypt.checkpw(candidate.encode(), password_hash):
    raise InvalidCredentials()""",
    """def rotate_key(kms, key_id: str) -> str:
    response = kms.create_key(Description="rotated", KeyUsage="ENCRYPT_DECRYPT")
    return response["KeyMetadata"]["KeyId"]""",
    """parser.add_argument("--password", help="database password (prefer PGPASSWORD)")
parser.add_argument("--token", default=None, help="API token; read from $API_TOKEN if omitted")""",
    """for key, value in sorted(config.items()):
    print(f"{key} = {value!r}")""",
    """cache_key = f"user:{user_id}:profile"
value = redis.get(cache_key)""",
    """secret = vault_client.secrets.kv.v2.read_secret_version(path="db/creds")["data"]["data"]
conn = connect(user=secret["username"], password=secret["password"])""",
    """if password != confirm_password:
    errors.append("Passwords do not match")
if len(password) < MIN_PASSWORD_LENGTH:
    errors.append("Password too short")""",
    """credentials = service_account.Credentials.from_service_account_file(
    "/var/secrets/google/key.json", scopes=["https://www.googleapis.com/auth/cloud-platform"]
)""",
    """class TokenBucket:
    def __init__(self, rate: float, capacity: int) -> None:
        self.tokens = capacity
        self.rate = rate""",
    """hmac_digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
if not hmac.compare_digest(hmac_digest, signature):
    raise PermissionError("bad signature")""",
    """logger.info("user %s logged in", username)
logger.debug("token refreshed, expires in %d s", expires_in)""",
    """def mask(value: str) -> str:
    return value[:4] + "*" * (len(value) - 4)""",
    """AUTH_HEADER = "Authorization"
TOKEN_PREFIX = "Bearer "
header = request.headers.get(AUTH_HEADER, "")
token = header.removeprefix(TOKEN_PREFIX)""",
    """def test_rejects_wrong_password(client):
    r = client.post("/login", data={"username": "alice", "password": password})
    assert r.status_code == 401""",
]

JS = [
    """export async function login(email: string, password: string): Promise<Session> {
  const res = await fetch("/api/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
    credentials: "include",
  });
  return res.json();
}""",
    """interface Credentials {
  username: string;
  password: string;
  token?: string;
  apiKey: string | null;
}""",
    """const apiKey = process.env.STRIPE_SECRET_KEY;
const stripe = new Stripe(apiKey!, { apiVersion: "2024-06-20" });""",
    """const [password, setPassword] = useState("");
const [showPassword, setShowPassword] = useState(false);
<input type={showPassword ? "text" : "password"} value={password}
       onChange={(e) => setPassword(e.target.value)} />""",
    """app.use(session({
  secret: process.env.SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
}));""",
    """const token = req.headers.authorization?.split(" ")[1];
if (!token) return res.status(401).json({ error: "missing token" });
const payload = jwt.verify(token, config.jwtSecret);""",
    """module.exports = {
  content: ["./src/**/*.{js,ts,jsx,tsx}"],
  theme: { extend: { colors: { brand: "#1e40af", accent: "#f59e0b" } } },
  plugins: [],
};""",
    """const key = `${tenantId}:${resource}:${action}`;
if (cache.has(key)) return cache.get(key);""",
    """export const config = {
  apiBaseUrl: import.meta.env.VITE_API_BASE_URL,
  apiKey: import.meta.env.VITE_API_KEY,
  sentryDsn: import.meta.env.VITE_SENTRY_DSN,
};""",
    """useEffect(() => {
  const t = setTimeout(() => setToken(null), expiresIn * 1000);
  return () => clearTimeout(t);
}, [expiresIn]);""",
    """const hash = crypto.createHash("sha256").update(password + salt).digest("hex");""",
    """type TokenResponse = { access_token: string; refresh_token: string; expires_in: number };""",
    """for (const [key, value] of Object.entries(headers)) {
  xhr.setRequestHeader(key, value);
}""",
    """it("hashes the password before saving", async () => {
  const user = await User.create({ email: "a@example.com", password: "secret" });
  expect(user.password).not.toBe("secret");
});""",
]

GO = [
    """type Config struct {
	Host     string `yaml:"host"`
	User     string `yaml:"user"`
	Password string `yaml:"password" json:"-"`
	Token    string `env:"API_TOKEN"`
}""",
    """password := os.Getenv("DB_PASSWORD")
if password == "" {
	log.Fatal("DB_PASSWORD is not set")
}
dsn := fmt.Sprintf("host=%s user=%s password=%s dbname=%s", host, user, password, name)""",
    """func (s *Server) authenticate(r *http.Request) (*User, error) {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := s.verifier.Verify(r.Context(), token)
	if err != nil {
		return nil, ErrUnauthorized
	}
	return s.users.Get(claims.Subject)
}""",
    """hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
if err != nil {
	return err
}""",
    """for key, value := range labels {
	fmt.Printf("%s=%s\\n", key, value)
}""",
    """ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
defer cancel()
resp, err := client.Do(req.WithContext(ctx))""",
]

JAVA = [
    """@Value("${spring.datasource.password}")
private String password;

@Value("${app.jwt.secret}")
private String jwtSecret;""",
    """public boolean matches(String rawPassword, String encodedPassword) {
    return passwordEncoder.matches(rawPassword, encodedPassword);
}""",
    """String token = request.getHeader("Authorization");
if (token == null || !token.startsWith("Bearer ")) {
    throw new AuthenticationException("missing token");
}""",
    """public class User {
    private Long id;
    private String email;
    @JsonIgnore
    private String password;
}""",
    """KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
generator.initialize(2048);
KeyPair pair = generator.generateKeyPair();
PrivateKey privateKey = pair.getPrivate();""",
    """Map<String, String> env = System.getenv();
String apiKey = env.getOrDefault("API_KEY", "");""",
]

SQL = [
    """CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    api_key_hash TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);""",
    """UPDATE users SET password_hash = $1, password_changed_at = now() WHERE id = $2;""",
    """SELECT id, email FROM users
WHERE email = :email AND password_hash = crypt(:password, password_hash);""",
    """ALTER TABLE api_tokens ADD COLUMN token_prefix VARCHAR(8) NOT NULL;
CREATE INDEX api_tokens_prefix_idx ON api_tokens (token_prefix);""",
    """SELECT t.token_id, t.expires_at FROM sessions t WHERE t.user_id = ? AND t.revoked = false;""",
    """GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA app TO app_rw;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO app_ro;""",
    """WITH recent AS (
  SELECT customer_id, sum(total) AS spend FROM orders WHERE placed_at > now() - interval '30 days' GROUP BY 1
)
SELECT * FROM recent ORDER BY spend DESC LIMIT 20;""",
]

SHELL = [
    """#!/usr/bin/env bash
set -euo pipefail
: "${DB_PASSWORD:?DB_PASSWORD must be set}"
PGPASSWORD="$DB_PASSWORD" pg_dump -h "$DB_HOST" -U "$DB_USER" "$DB_NAME" > backup.sql""",
    """echo "$CR_PAT" | docker login ghcr.io -u "$GITHUB_ACTOR" --password-stdin""",
    """export AWS_PROFILE=prod
aws sts get-caller-identity
aws s3 sync ./dist s3://acme-web-assets --delete""",
    """curl -sS -H "Authorization: Bearer $API_TOKEN" https://api.example.com/v1/status | jq .""",
    '''read -rsp "Password: " PASSWORD; echo
mysql -u root -p"$PASSWORD" -e "SHOW DATABASES;"''',
    """ssh-keygen -t ed25519 -C "dev@acme.io" -f ~/.ssh/id_ed25519
eval "$(ssh-agent -s)" && ssh-add ~/.ssh/id_ed25519""",
    '''kubectl create secret generic db-creds --from-literal=username=app \\
  --from-literal=password="$(openssl rand -base64 24)"''',
    """git log --oneline -5
git rebase -i HEAD~3
git push --force-with-lease origin feature/token-refresh""",
    '''openssl req -x509 -newkey rsa:4096 -keyout key.pem -out cert.pem -sha256 -days 365 -nodes \\
  -subj "/CN=localhost"''',
    """gpg --full-generate-key
gpg --list-secret-keys --keyid-format=long
gpg --armor --export 3AA5C34371567BD2""",
    """vault kv get -field=password secret/db/prod
vault token lookup""",
    """pip install --index-url https://pypi.org/simple/ requests==2.32.3
npm ci && npm run build""",
    """htpasswd -c /etc/nginx/.htpasswd admin""",
]

YAML = [
    """services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
      POSTGRES_DB: app
    volumes:
      - pgdata:/var/lib/postgresql/data""",
    """env:
  - name: DB_PASSWORD
    valueFrom:
      secretKeyRef:
        name: db-credentials
        key: password
  - name: API_TOKEN
    valueFrom:
      secretKeyRef:
        name: api
        key: token""",
    """- name: Publish
  run: npm publish
  env:
    NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
    GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}""",
    """postgresql:
  auth:
    existingSecret: "pg-auth"
    secretKeys:
      adminPasswordKey: postgres-password
      userPasswordKey: password""",
    """database:
  host: localhost
  port: 5432
  username: <username>
  password: <password>""",
    """api:
  base_url: https://api.example.com
  api_key: <your key>
  timeout_s: 30""",
    '''smtp:
  host: smtp.example.com
  user: "{{ smtp_user }}"
  password: "{{ vault_smtp_password }}"''',
    """spring:
  datasource:
    url: jdbc:postgresql://localhost:5432/app
    username: ${DB_USER}
    password: ${DB_PASSWORD}""",
    """openai:
  api_key: your-api-key-here
  model: gpt-4o-mini""",
    """auth:
  type: oauth2
  token_url: https://auth.example.com/oauth/token
  client_id: ${CLIENT_ID}
  client_secret: ${CLIENT_SECRET}""",
    '''redis:
  enabled: true
  auth:
    enabled: true
    password: ""''',
    """apiVersion: v1
kind: Secret
metadata:
  name: app-secrets
type: Opaque
stringData:
  password: changeme""",
    '''grafana:
  adminUser: admin
  adminPassword: "********"''',
    """jobs:
  test:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
      contents: read
    steps:
      - uses: actions/checkout@v4""",
    """ingress:
  enabled: true
  tls:
    - secretName: web-tls
      hosts: [app.example.com]""",
    """mysql:
  rootPassword: xxxxxxxx
  database: wordpress""",
    """password_policy:
  min_length: 12
  require_symbols: true
  max_age_days: 90""",
    """aws:
  region: eu-west-1
  access_key_id: ${AWS_ACCESS_KEY_ID}
  secret_access_key: ${AWS_SECRET_ACCESS_KEY}""",
    """sops:
  kms:
    - arn: arn:aws:kms:eu-west-1:123456789012:key/alias-app
  lastmodified: "2025-01-02T10:00:00Z"
  version: 3.9.1""",
]

DOCKER = [
    """FROM python:3.12-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV PORT=8080
CMD ["gunicorn", "app:app", "-b", "0.0.0.0:8080"]""",
    """FROM node:20-alpine AS build
WORKDIR /src
COPY package*.json ./
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci
COPY . .
RUN npm run build""",
    """ARG DB_PASSWORD
ENV DB_PASSWORD=${DB_PASSWORD}
HEALTHCHECK CMD curl -f http://localhost:8080/healthz || exit 1""",
    """FROM golang:1.23 AS builder
RUN CGO_ENABLED=0 go build -ldflags="-s -w" -o /out/server ./cmd/server
FROM gcr.io/distroless/static
COPY --from=builder /out/server /server
ENTRYPOINT ["/server"]""",
]

PROSE = [
    "Reset your password from the account page; the link expires after 30 minutes.",
    "The password is incorrect. Please try again or use 'Forgot password'.",
    "API keys are scoped per project. Rotate a key from the dashboard if you think it leaked.",
    "Tokens expire after one hour; use the refresh token to get a new access token.",
    "We store only a salted hash of each password, never the password itself.",
    "Never commit secrets to git. Use the secret manager and reference secrets by name.",
    "The primary key of the orders table is a UUID, and customer_id is a foreign key.",
    "In the meeting we agreed the key insight is that latency, not throughput, drives churn.",
    "Your token has been revoked because it was not used for 90 days.",
    "The secret to a good sourdough is patience and a warm kitchen.",
    "Passwordless login uses a magic link sent to your email address.",
    "Auth is handled by the gateway; services trust the X-User header only from the mesh.",
    "Please rotate the credentials for the staging database before the audit on Monday.",
    "Two-factor authentication codes are six digits and change every 30 seconds.",
    "The token count for this prompt is 1,284, well under the 8k context limit.",
    "Public keys can be shared freely; private keys must never leave the machine.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.",
    "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.",
    "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.",
    "The keynote covered keyboard shortcuts, key performance indicators and a keystone species.",
    "Password: required. Username: required. Email: optional.",
    "I forgot my password again, can you send me a reset link?",
    "The API key goes in the x-api-key header, not in the query string.",
    "Use a passphrase of at least five random words; length beats complexity.",
    "Error 401: invalid token. Check that the token has not expired and that the clock is in sync.",
    "Secrets Manager charges per secret per month plus per 10,000 API calls.",
    "Token bucket rate limiting allows bursts up to the bucket size, then refills at a steady rate.",
    "The auth service was down for 12 minutes; login attempts returned 503.",
    "Quarterly report: revenue grew 12% year over year, driven by the enterprise segment.",
    "Can you review my PR? It renames token_count to n_tokens and adds tests for the tokenizer.",
]

MISC = [
    """Traceback (most recent call last):
  File "/app/auth.py", line 88, in verify
    claims = jwt.decode(token, key, algorithms=["RS256"])
jwt.exceptions.ExpiredSignatureError: Signature has expired""",
    "2025-03-02T11:04:55.120Z INFO  request_id=7f3c2a1e-9b4d-4e2f-8a61-0c5d9e7b3f21 method=POST"
    " path=/v1/login status=200 duration_ms=84",
    "[2025-03-02 11:04:55] WARN auth: failed login for user=alice ip=203.0.113.7 reason=bad_password"
    " attempts=3",
    """<form method="post" action="/login">
  <input type="email" name="email" autocomplete="username">
  <input type="password" name="password" autocomplete="current-password">
  <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
</form>""",
    """.btn-primary { background-color: #0d6efd; border-color: #0a58ca; }
.btn-primary:hover { background-color: #0b5ed7; }
:root { --brand: #6f42c1; --accent: rgb(255, 193, 7); }""",
    """| key | value |
|-----|-------|
| region | eu-west-1 |
| instance_type | t3.medium |""",
    """## Configuration

Set `OPENAI_API_KEY` in your environment. The gateway reads it at start-up and never logs it.
See [secrets](docs/secrets.md) for how to use a secret manager instead.""",
    """POST /oauth/token HTTP/1.1
Host: auth.example.com
Content-Type: application/x-www-form-urlencoded

grant_type=client_credentials&client_id=${CLIENT_ID}&client_secret=${CLIENT_SECRET}""",
    """ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGkVxY0p7Cq4d3mJ5Vb2fXo8uZr1sT6wQyN9hPcLaE4k dev@laptop""",
    """The key fingerprint is SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s dev@laptop
The key's randomart image is:
+--[ED25519 256]--+""",
    """Host github.com
  HostName github.com
  User git
  IdentityFile ~/.ssh/id_ed25519
  IdentitiesOnly yes""",
    """[remote "origin"]
	url = git@github.com:acme/platform.git
	fetch = +refs/heads/*:refs/remotes/origin/*""",
    '{"level":"info","ts":1740913495.12,"caller":"auth/middleware.go:41","msg":"token validated",'
    '"sub":"user-1842","scopes":["read","write"]}',
    """server {
    listen 443 ssl;
    ssl_certificate     /etc/ssl/certs/app.crt;
    ssl_certificate_key /etc/ssl/private/app.key;
    auth_basic "Restricted";
    auth_basic_user_file /etc/nginx/.htpasswd;
}""",
    """terraform {
  backend "s3" {
    bucket = "acme-tf-state"
    key    = "prod/network/terraform.tfstate"
    region = "eu-west-1"
  }
}
variable "db_password" {
  type      = string
  sensitive = true
}""",
    """resource "aws_db_instance" "main" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
  username       = "app"
  password       = var.db_password
}""",
    """Server=myServerAddress;Database=myDataBase;User Id=myUsername;Password=myPassword;""",
    """"scripts": {
    "build": "tsc -p .",
    "test": "vitest run",
    "lint": "eslint . --max-warnings 0"
  }""",
    """-----BEGIN CERTIFICATE-----
MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ
RTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQLEwpDeWJlclRydXN0MSIwIAYD
-----END CERTIFICATE-----""",
    """https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX""",
    """Authorization: Bearer <token>
x-api-key: YOUR_API_KEY""",
    '''export OPENAI_API_KEY="sk-..."
export ANTHROPIC_API_KEY="sk-ant-..."''',
    """AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX
AWS_SECRET_ACCESS_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx""",
    """password=********
token=[REDACTED]
api_key=***redacted***""",
    """machine github.com
  login octocat
  password $GITHUB_TOKEN""",
    """git clone https://github.com/pallets/flask.git
pip install git+https://github.com/psf/requests@v2.32.3""",
    """ERROR: permission denied for table payments (SQLSTATE 42501)
HINT: grant SELECT to role reporting""",
    """$ gh auth status
github.com
  ✓ Logged in to github.com account octocat (keyring)
  - Token: gho_************************************
  - Token scopes: 'gist', 'read:org', 'repo' """,
]


SECOND_BATCH = [
    "def verify_token(token: str) -> bool:\n    return hmac.compare_digest(token, expected)",
    'const secretKey = await crypto.subtle.importKey("raw", keyData, { name: "HMAC", hash: "SHA-256" },'
    ' false, ["sign"]);',
    'if (apiKey === undefined) throw new Error("API key missing");',
    "password_reset_token = secrets.token_urlsafe(32)",
    'token = Token.objects.get(key=request.data["token"])',
    "self.secret = secret",
    'password_field = forms.CharField(widget=forms.PasswordInput, label="Password")',
    'choices = [("password", "Password"), ("token", "Token"), ("api_key", "API Key")]',
    'value = getattr(settings, "SECRET_KEY", None)',
    'auth_header = f"Bearer {token}"',
    'headers["Authorization"] = "Bearer " + access_token',
    "export KUBECONFIG=~/.kube/config\nkubectl get secrets -n prod",
    "The default password policy requires 12 characters, one digit and one symbol.",
    "Q: What is an API key? A: a long random string that identifies the calling project.",
    "sha1: 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12\n"
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "Build a9f3c21 passed. Deploying image "
    "ghcr.io/acme/api@sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
    "session_id=9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d; Path=/; HttpOnly",
    "Your verification code is 482913.",
    'user_token_count = len(tokens)\nprint(f"{user_token_count} tokens")',
    "key = (user.id, org.id)\ncache[key] = result",
    "for i, key in enumerate(keys):\n    print(i, key)",
    '"dependencies": {\n  "jsonwebtoken": "^9.0.2",\n  "bcrypt": "^5.1.1"\n}',
    "Set-Cookie: csrftoken=; expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "ALTER USER app WITH PASSWORD :new_password;",
    "CREATE USER reporting WITH PASSWORD '${REPORTING_PASSWORD}';",
    'password = getpass.getpass("Password: ")',
    'api_key = st.text_input("OpenAI API key", type="password")',
    'secret_name = "prod/db/credentials"\nresponse = client.get_secret_value(SecretId=secret_name)',
    "TOKEN_EXPIRY_SECONDS = 3600\nREFRESH_TOKEN_EXPIRY_DAYS = 30",
    '<meta name="csrf-token" content="{{ csrf_token() }}">',
    'git commit -m "rotate keys" && git push origin main',
    "Fingerprint: 43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8",
    "pubkey: ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 user@host",
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
    ".card{box-shadow:0 1px 3px rgba(0,0,0,.12),0 1px 2px rgba(0,0,0,.24);color:#3c4043}",
    "v2.14.3-rc.1+build.20250302.abc1234",
    "docker pull postgres:16.4-bookworm",
    '{"kid":"2024-09","kty":"RSA","use":"sig","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}',
    "The secret santa draw is on Friday; the key to the supply closet is with Maria.",
    "aws s3 cp s3://bucket/key.txt . --profile prod",
    "GET /api/v1/users/me HTTP/1.1\nAuthorization: Bearer {{token}}",
    'curl -u "$USER:$PASS" https://example.com',
    "curl -u admin https://example.com  # prompts for the password",
    "mysql -u root -p mydb",
    'psql "postgresql://$PGUSER:$PGPASSWORD@$PGHOST/$PGDATABASE"',
    'url = f"postgresql://{user}:{password}@{host}:{port}/{db}"',
    'DATABASE_URL = "postgres://user:password@localhost:5432/db"',
    "smtp_password: !secret smtp_password",
    "password: !ENV ${DB_PASSWORD}",
    "password = ENV.fetch('DB_PASSWORD') { 'postgres' }",
    "const { password, ...safeUser } = user;",
    "password: z.string().min(8).max(128),",
    "token: PropTypes.string.isRequired,",
    "@Column({ select: false }) password: string;",
    "secret: ${{ secrets.DEPLOY_KEY }}",
    "api_key: !Ref ApiKeyParameter",
    "Password:\n  Type: String\n  NoEcho: true",
    'MasterUserPassword: !Sub "{{resolve:secretsmanager:${DBSecret}:SecretString:password}}"',
    "token_endpoint: https://oauth2.googleapis.com/token",
    "access_token_ttl: 15m\nrefresh_token_ttl: 720h",
    "keyboard-interactive authentication is disabled; use publickey",
    "The primary key for the sessions table is session_key, a 40-character random string.",
    "aws kms encrypt --key-id alias/app --plaintext fileb://secret.txt --output text --query CiphertextBlob",
    'ETag: "33a64df551425fcc55e4d42a148795d9f25f89d4"',
    "Idempotency-Key: 3f1c2a9b-7d4e-4c1a-9e2f-5b6a7c8d9e0f",
    "X-Request-ID: f058ebd6-02f7-4d3f-942e-904344e8cde5",
    "commit 3b18e512dba79e4c8300dd08aeb37f8e728b8dad (HEAD -> main, origin/main)",
    "go: downloading golang.org/x/crypto v0.28.0\ngo: downloading github.com/golang-jwt/jwt/v5 v5.2.1",
    "ImportError: cannot import name 'SecretStr' from 'pydantic'",
    'const token = localStorage.getItem("token") ?? "";',
    'if token == "" {\n\treturn errors.New("empty token")\n}',
    'password_hash = "$2b$12$abcdefghijklmnopqrstuv"  # bcrypt of the test password',
]


def _uuid(rng: random.Random) -> str:
    h = "".join(rng.choice(HEX) for _ in range(32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{rng.choice('89ab')}{h[17:20]}-{h[20:]}"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HEX) for _ in range(n))


def _generated(rng: random.Random) -> list[str]:
    out: list[str] = []
    for _ in range(12):
        out.append(
            f"INSERT INTO orders (id, customer_id, total) VALUES ('{_uuid(rng)}', '{_uuid(rng)}', "
            f"{rng.randint(100, 99999) / 100});"
        )
    for _ in range(6):
        out.append(f"request_id={_uuid(rng)} trace_id={_hex(rng, 32)} span_id={_hex(rng, 16)} status=200")
    for i in range(14):
        sha = _hex(rng, 40)
        out.append(
            f"commit {sha}\nAuthor: Dev {i} <dev{i}@acme.io>\nDate:   Mon Mar 3 10:{i:02d}:00 2025 +0100\n\n"
            f"    Fix token refresh race in auth middleware (#{rng.randint(100, 999)})"
        )
    for _ in range(6):
        out.append(
            " ".join(
                f"{_hex(rng, 7)} {msg}"
                for msg in rng.sample(
                    [
                        "fix: handle empty api key",
                        "feat: rotate signing keys",
                        "chore: bump deps",
                        "docs: secrets guide",
                        "refactor: key loader",
                        "test: password policy",
                        "ci: cache pip",
                    ],
                    4,
                )
            )
        )
    for name in (
        "app-1.4.2.tar.gz",
        "node-v20.11.1-linux-x64.tar.xz",
        "model.safetensors",
        "backup.sql.gz",
        "release.zip",
        "installer.msi",
        "go1.23.4.linux-amd64.tar.gz",
        "data.parquet",
    ):
        out.append(f"{hashlib.sha256(name.encode() + bytes([rng.randrange(256)])).hexdigest()}  {name}")
        out.append(f"MD5 ({name}) = {hashlib.md5(name.encode()).hexdigest()}")
    for pkg in ("lodash", "react", "express", "typescript", "vite", "zod", "axios", "chalk"):
        digest = base64.b64encode(rng.randbytes(64)).decode()
        out.append(
            f'"node_modules/{pkg}": {{\n  "version": "{rng.randint(1, 18)}.{rng.randint(0, 30)}.'
            f'{rng.randint(0, 9)}",\n  "resolved": "https://registry.npmjs.org/{pkg}/-/{pkg}.tgz",\n'
            f'  "integrity": "sha512-{digest}"\n}}'
        )
    for img in ("nginx", "postgres", "redis", "python", "node", "alpine"):
        out.append(f"image: docker.io/library/{img}@sha256:{_hex(rng, 64)}")
        out.append(f"Digest: sha256:{_hex(rng, 64)}\nStatus: Downloaded newer image for {img}:latest")
    for _ in range(8):
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(60, 300))).decode()
        out.append(f'<img alt="logo" src="data:image/png;base64,{png}" />')
    for _ in range(4):
        out.append(
            f".icon {{ background: url(data:image/svg+xml;base64,"
            f"{base64.b64encode(rng.randbytes(120)).decode()}) no-repeat; }}"
        )
    urls = [
        "https://docs.python.org/3/library/secrets.html",
        "https://github.com/acme/app/pull/1842",
        "https://api.example.com/v1/users?page=2&per_page=50",
        "http://localhost:8080/healthz",
        "https://example.com/reset-password?token_type=email",
        "postgres://localhost:5432/app",
        "https://cdn.example.net/assets/app.3f9a1c.js",
        "mongodb://db1:27017,db2:27017/?replicaSet=rs0",
        "redis://cache:6379/0",
        "https://user@example.com/path",
        "ssh://git@github.com:22/acme/app.git",
        "https://registry.npmjs.org/@types%2fnode",
        "https://example.com:8443/@admin/settings",
        "s3://acme-prod-logs/2025/03/02/",
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "ftp://ftp.example.org/pub/",
        "https://maps.google.com/?q=52.52,13.40",
        "amqp://rabbitmq:5672/vhost",
        "https://example.com/#/login",
    ]
    out.extend(f"see {u} for details" for u in urls)
    for _ in range(10):
        v = f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 20)}"
        out.append(
            rng.choice(
                [
                    f"version: {v}",
                    f"Bump actions/checkout from {v} to {v}-rc.1",
                    f'"version": "{v}"',
                    f"build {rng.randint(1000, 99999)} ({_hex(rng, 12)}) finished in {rng.randint(2, 59)}m",
                    f"BUILD_ID=ci-{rng.randint(10000, 99999)}-{_hex(rng, 8)}",
                    f"image tag: registry.acme.io/api:{v}-{_hex(rng, 7)}",
                ]
            )
        )
    for _ in range(8):
        cols = ", ".join(f"#{_hex(rng, 6)}" for _ in range(5))
        out.append(f"palette: [{cols}]")
    for _ in range(6):
        out.append(
            f"Order {rng.randint(10**7, 10**8)} shipped. Tracking: 1Z{rng.randint(10**15, 10**16)}. "
            f"Reference {_uuid(rng)}."
        )
    for _ in range(6):
        out.append(f"idempotency key {_uuid(rng)} reused; returning the cached response")
    for _ in range(6):
        out.append(f'etag: W/"{_hex(rng, 32)}"\ncache-control: max-age=3600\nx-request-id: {_uuid(rng)}')
    for _ in range(6):
        out.append(
            f"Primary key: {_uuid(rng)}\nForeign key: {_uuid(rng)}\n"
            f"Partition key: tenant-{rng.randint(1, 99)}"
        )
    for _ in range(6):
        out.append(
            f"kid: {_hex(rng, 16)}\nalg: RS256\nuse: sig\n"
            f"x5t: {base64.urlsafe_b64encode(rng.randbytes(20)).decode()}"
        )
    for _ in range(5):
        out.append(
            f"PR #{rng.randint(100, 9999)}: rename api_key to api_key_id in {rng.choice(['auth', 'billing'])}"
            f" module; see {_hex(rng, 40)}"
        )
    for _ in range(5):
        out.append(f"tx hash 0x{_hex(rng, 64)} confirmed in block {rng.randint(10**7, 2 * 10**7)}")
    for _ in range(6):
        words = rng.sample(
            ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "kilo"], 6
        )
        out.append(
            f"The {words[0]} team owns the {words[1]}-{words[2]} service; the key owner is {words[3]}."
        )
    for _ in range(3):
        blob = (_hex(rng, 64) + "\n" + _hex(rng, 64) + "\n" + _hex(rng, 96)).encode().hex()
        lines = "\n          ".join(blob[i : i + 80] for i in range(0, len(blob), 80))
        out.append(
            f"db_password: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          {lines}\ndb_user: app"
        )
    return out


def negatives(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, group in (
        ("python", PYTHON),
        ("js/ts", JS),
        ("go", GO),
        ("java", JAVA),
        ("sql", SQL),
        ("shell", SHELL),
        ("yaml", YAML),
        ("dockerfile", DOCKER),
        ("prose", PROSE),
        ("misc", MISC),
        ("second batch, held out while tuning", SECOND_BATCH),
    ):
        rows.extend({"text": t, "spans": [], "source": f"written for this corpus ({label})"} for t in group)
    rows.extend(
        {"text": t, "spans": [], "source": "generated (ids, digests, versions, base64 images, urls)"}
        for t in _generated(rng)
    )
    return rows
