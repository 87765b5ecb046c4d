"""The Kubernetes manifests: valid against the Kubernetes schemas (kubernetes-validate,
offline), clean under a policy scanner (checkov, offline), and holding what the deployment
docs promise: the restricted securityContext, probes, resources, the landlock backend, and
fsgate arguments that fsgate itself accepts."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fsgate_server import cli, config
from fsgate_server.transport import server

from ..conftest import REPO
from .dockerfile import parse

MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
# The oldest Kubernetes with GA gRPC probes, and the newest the validator knows.
VERSIONS = ("1.27.0", kubernetes_validate.utils.latest_version())


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def workloads() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file name, workload, the file's other documents by kind/name) for each pod template."""
    out = []
    for path in MANIFESTS:
        docs = documents(path)
        by_name = {f"{d['kind']}/{d['metadata']['name']}": d for d in docs}
        out += [(path.name, d, by_name) for d in docs if d["kind"] == "Deployment"]
    return out


def fsgate_container(pod: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any]
    (found,) = [c for c in pod["containers"] if c["name"] == "fsgate"]
    return found


def test_there_is_a_unix_socket_and_a_tcp_sidecar_variant() -> None:
    names = {p.name for p in MANIFESTS}
    assert {"sidecar-unix.yaml", "sidecar-tcp.yaml", "namespace.yaml"} <= names
    assert len(workloads()) == 2


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path, version: str) -> None:
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)  # raises on any error


@pytest.mark.parametrize(("framework", "target"), [
    ("kubernetes", ["--directory", str(REPO / "deploy" / "kubernetes")]),
    ("dockerfile", ["--file", str(REPO / "Dockerfile")]),
])
def test_checkov_policy_scan_finds_nothing(framework: str, target: list[str],
                                           tmp_path: Path) -> None:
    """Findings this example accepts are skipped in the manifest itself, each with its
    reason (checkov.io/skipN annotations), so they stay visible."""
    local = Path(sys.executable).parent / "checkov"
    checkov = str(local) if local.exists() else shutil.which("checkov")
    if checkov is None:
        pytest.skip("checkov not installed (pip install -e '.[dev]' brings it)")
    result = subprocess.run(
        [checkov, "--quiet", "--compact", "--skip-download", "--output", "json",
         "--framework", framework, *target],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    report = json.loads(result.stdout)
    assert report["check_type"] == framework
    summary = report["summary"]
    assert summary["failed"] == 0 and summary["parsing_errors"] == 0, summary
    assert summary["passed"] > 10, summary  # it really scanned something


@pytest.mark.parametrize(("name", "workload", "_others"), workloads(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_every_container_has_the_restricted_security_context(
        name: str, workload: dict[str, Any], _others: Any) -> None:
    pod = workload["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod.get("automountServiceAccountToken") is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert not sc.get("privileged"), c["name"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), (c["name"], kind)


@pytest.mark.parametrize(("name", "workload", "others"), workloads(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_fsgate_runs_landlock_with_arguments_fsgate_accepts(
        name: str, workload: dict[str, Any], others: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    fsgate = fsgate_container(pod)
    args = fsgate["args"]
    parsed = cli.build_parser().parse_args(args)
    cfg = config.load(parsed, environ={e["name"]: e["value"] for e in fsgate.get("env", [])
                                       if "value" in e})
    config.validate(cfg)
    server.check_listen(cfg)  # a non-loopback address only with a token or TLS
    assert cfg.sandbox == "landlock"  # needs no privileges, unlike bwrap
    assert cfg.shutdown_grace < pod["terminationGracePeriodSeconds"]
    user = parse(REPO / "Dockerfile")[-1].one("USER").args.split(":")[0]
    assert str(pod["securityContext"]["runAsUser"]) == user  # the image's own user
    mounts = {m["mountPath"]: m["name"] for m in fsgate["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for root in cfg.roots:
        assert root.path in mounts  # the served root is a volume, not the image
    assert "/tmp" in mounts  # the root file system is read-only
    if cfg.auth_token_file:
        token_dir = str(Path(cfg.auth_token_file).parent)
        secret = volumes[mounts[token_dir]]["secret"]["secretName"]
        assert f"Secret/{secret}" in others
        assert Path(cfg.auth_token_file).name in others[f"Secret/{secret}"]["stringData"]


@pytest.mark.parametrize(("name", "workload", "_others"), workloads(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_fsgate_has_health_probes_that_ask_its_listen_address(
        name: str, workload: dict[str, Any], _others: Any) -> None:
    pod = workload["spec"]["template"]["spec"]
    fsgate = fsgate_container(pod)
    listen = fsgate["args"][fsgate["args"].index("--listen") + 1]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        spec = fsgate[probe]
        if listen.startswith("unix:"):
            # The kubelet's gRPC probe dials the pod IP: a Unix socket needs `fsgate health`.
            command = spec["exec"]["command"]
            assert command[:2] == ["fsgate", "health"]
            assert command[command.index("--target") + 1] == listen
        else:
            assert spec["grpc"]["port"] == int(listen.rsplit(":", 1)[1])


def test_unix_socket_variant_shares_the_socket_and_workspace_with_the_agent() -> None:
    (_name, workload, _others), = [w for w in workloads() if w[0] == "sidecar-unix.yaml"]
    pod = workload["spec"]["template"]["spec"]
    agent = next(c for c in pod["containers"] if c["name"] == "agent")
    fsgate = fsgate_container(pod)
    listen = fsgate["args"][fsgate["args"].index("--listen") + 1]
    socket_dir = str(Path(listen.removeprefix("unix:")).parent)
    volumes = {v["name"]: v for v in pod["volumes"]}

    def volume_at(container: dict[str, Any], path: str) -> str:
        found: str
        (found,) = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == path]
        return found

    shared = volume_at(fsgate, socket_dir)
    assert volume_at(agent, socket_dir) == shared and "emptyDir" in volumes[shared]
    assert volume_at(agent, "/workspace") == volume_at(fsgate, "/workspace")
    agent_env = {e["name"]: e["value"] for e in agent["env"]}
    assert agent_env["FSGATE_TARGET"] == listen
