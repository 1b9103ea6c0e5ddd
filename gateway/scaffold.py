"""``gateway init``: a commented ``gateway.yaml`` and an owner-only secret file, the next step after
the built-in defaults.  Never overwrites: an existing file stops it before anything is written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

CONFIG = """\
# gateway.yaml, written by `gateway init`.  Every key is optional; the README's "Configuration"
# lists them all, docs/operations.md and docs/production.md explain the limits and deployments.
# Start with:   GATEWAY_SECRET_FILE={secret} gateway serve --config {config}

server:
  host: 127.0.0.1                  # 0.0.0.0 to serve other machines (put TLS in front: docs/production.md)
  port: 8080
  workers: 1                       # one per core for more throughput (docs/production.md)
  # trusted_proxies: [10.0.0.0/8]  # your load balancer, to read client addresses from X-Forwarded-For

# The audit trail, keys and migrations.  SQLite for one machine; PostgreSQL for production:
database_url: sqlite:///{database}
# database_url: postgresql+psycopg://gateway@127.0.0.1:5432/gateway

# Policy files (default: the policy shipped with the gateway).  Copy it to start your own:
#   cp "$(python -c 'import gateway.policy.packaged as p; print(p.DEFAULT_POLICY)')" policy.yaml
# policies: [policy.yaml]

scan:
  enabled: true
  # terms: terms.yaml              # code names and identifiers: {{lists: {{codenames: [Project X]}}}}
  # fingerprints: protected.idx    # gateway fingerprints build DOCS_DIR --out protected.idx

# Provider keys come from the environment variables named here, never from this file.
destinations:
  openai:
    type: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    jurisdiction: US
    models: ["gpt-*", "o*", "text-embedding-*"]
  anthropic:
    type: anthropic
    base_url: https://api.anthropic.com
    api_key_env: ANTHROPIC_API_KEY
    jurisdiction: US
    models: ["claude-*"]
  # Where the policy sends what must stay local.  The embedded engine runs the generated tiny model
  # (RANDOM weights, answers are noise) until you give it a real GGUF model:
  local:
    type: local
    jurisdiction: LOCAL
    models: ["local-*"]
    engine: {{}}        # {{model_path: /models/Qwen3-30B-A3B-Q4_K_M.gguf, model_sha256: <sha256>}}
  # or your own llama-server / vLLM instead of engine:
  #   base_url: http://127.0.0.1:8000/v1
  #   model: my-model

audit:
  retention_days: null             # prune older records every 6 hours, leaving a verifiable tombstone
  # anchor: {{file: /var/log/llm-gateway/anchors.log, syslog: true}}   # chain heads outside the database
"""


class ScaffoldError(Exception):
    """``gateway init`` wrote nothing."""


def write_starter(directory: Path) -> tuple[Path, Path]:
    """Write ``gateway.yaml`` and ``gateway.secret`` (0600) in ``directory``; their paths."""
    config, secret = directory / "gateway.yaml", directory / "gateway.secret"
    for path in (config, secret):
        if path.exists():
            raise ScaffoldError(f"{path} exists; nothing was written (move it away or use --dir)")
    created = False
    try:
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        created = True
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"hex:{secrets.token_hex(32)}\n")
        text = CONFIG.format(secret=secret, config=config, database=directory.resolve() / "gateway.db")
        with open(config, "x", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        if created:  # never a file somebody else made meanwhile
            secret.unlink(missing_ok=True)
        raise ScaffoldError(f"cannot write in {directory}: {exc.strerror}") from None
    return config, secret
