"""What ``gateway serve`` says it loaded, before it serves: the first thing an operator reads.

Names, paths, versions and whether each provider key is set; never a key, the secret or a password.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from gateway.rules import Rules
from gateway.settings import Settings


def startup_summary(settings: Settings, rules: Rules, *, host: str, port: int, workers: int) -> list[str]:
    policy = rules.policy
    lines = [
        f"config: {settings.source}",
        f"policy: {policy.label}, version {policy.version}, from {', '.join(policy.sources) or 'no files'}",
    ]
    scan = settings.file.scan
    if not scan.enabled:
        lines.append("detection: OFF (scan.enabled: false): requests are not inspected")
    lines.append(f"term lists: {scan.terms or 'none'}; fingerprint index: {scan.fingerprints or 'none'}")
    for name, dest in settings.destinations.items():
        if dest.type == "local":
            if dest.base_url is not None:
                where = f"local server at {_without_userinfo(dest.base_url)}"
            elif dest.engine is not None and dest.engine.model_path:
                where = f"embedded engine, model {dest.engine.model_path}"
            else:
                where = "embedded engine, the generated tiny model (RANDOM weights)"
            lines.append(f"destination {name}: {dest.jurisdiction}, {where}")
            continue
        key = "key set" if name in settings.credentials else f"key NOT set (${dest.api_key_env})"
        lines.append(f"destination {name}: {dest.jurisdiction}, {_without_userinfo(dest.base_url)}, {key}")
    if settings.secret_source is not None:
        lines.append(f"secret: from {settings.secret_source}")
    else:
        lines.append("secret: kept in the audit database (development mode)")
    anchor = settings.file.audit.anchor
    anchors = [f"file {anchor.file}"] if anchor.file else []
    anchors += ["syslog"] if anchor.syslog else []
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    lines.append(f"audit store: {database}; anchors: {', '.join(anchors) or 'none'}")
    lines.append(f"listening on {host}:{port}, {workers} worker{'s' if workers != 1 else ''}")
    return lines


def warnings(settings: Settings) -> list[str]:
    """What an operator must not miss."""
    out = []
    for name, dest in settings.destinations.items():
        if dest.type == "local" and dest.base_url is None and dest.engine and not dest.engine.model_path:
            out.append(
                f"destination {name} is the generated tiny model with RANDOM weights: its answers are "
                f"noise. Set destinations.{name}.engine.model_path (a GGUF file) or base_url for real ones."
            )
    return out


def _without_userinfo(url: str | None) -> str:
    """A URL as it may be shown: a ``user:password@`` in it is not."""
    parts = urlsplit(url or "")
    if parts.username is None and parts.password is None:
        return url or ""
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))
