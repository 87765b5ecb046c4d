"""Packaging: building fsgate from pyproject.toml warns of nothing (no deprecated tables), and
a plain install is the client alone: the server's dependencies come with fsgate[server]."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_builds_without_warnings_and_declares_an_spdx_license(tmp_path: Path) -> None:
    # A copy of what the build reads, so the build's build/ and egg-info stay out of the tree.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("client", "service"):
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    # pip's own notes about unreachable index locations are the environment, not the build.
    build_lines = [line for line in output.splitlines()
                   if "Warning" in line or "deprecated" in line.lower()]
    assert build_lines == []
    (wheel,) = wheels.glob("fsgate-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(name).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()


# --- the client / server dependency split ---------------------------------------------------
#: Import name (longest prefix wins) -> the distribution that provides it.
PROVIDERS = {
    "grpc": "grpcio",
    "google.protobuf": "protobuf",
    "google.rpc": "googleapis-common-protos",
    "grpc_status": "grpcio-status",
    "tqdm": "tqdm",
    "structlog": "structlog",
    "prometheus_client": "prometheus-client",
    "grpc_health": "grpcio-health-checking",
    "grpc_reflection": "grpcio-reflection",
    "re2": "google-re2",
    "pathspec": "pathspec",
    # fsgate mcp (client/fsgate/mcp): the SDK, and what its public API is made of (tool
    # argument models, the ASGI app and its runner), which the SDK itself requires.
    "mcp": "mcp", "pydantic": "mcp", "starlette": "mcp", "uvicorn": "mcp",
}
CLIENT_DISTS = {"grpcio", "protobuf", "googleapis-common-protos", "grpcio-status", "tqdm"}
SERVER_DISTS = {"structlog", "prometheus-client", "grpcio-health-checking", "grpcio-reflection",
                "google-re2", "pathspec"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _third_party_imports(package: Path, *, leave_out: str = "") -> set[str]:
    """The distributions the modules under ``package`` import (stdlib and fsgate aside),
    except those below its subpackage ``leave_out``."""
    dists = set()
    for source in package.rglob("*.py"):
        if leave_out and source.is_relative_to(package / leave_out):
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in ("fsgate", "fsgate_server"):
                    continue
                prefixes = [p for p in PROVIDERS if module == p or module.startswith(p + ".")]
                assert prefixes, f"{source} imports {module}: add it to PROVIDERS and pyproject"
                dists.add(PROVIDERS[max(prefixes, key=len)])
    return dists


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project


def test_a_plain_install_brings_what_the_client_imports_and_nothing_of_the_server() -> None:
    project = _project()
    client = {_name(r) for r in project["dependencies"]}
    server = {_name(r) for r in project["optional-dependencies"]["server"]}
    assert client == CLIENT_DISTS
    assert server == SERVER_DISTS
    assert _third_party_imports(REPO / "client" / "fsgate", leave_out="mcp") == CLIENT_DISTS
    # fsgate mcp: the client's dependencies and the `mcp` extra, nothing of the server's
    assert {_name(r) for r in project["optional-dependencies"]["mcp"]} == {"mcp"}
    assert _third_party_imports(REPO / "client" / "fsgate" / "mcp") <= CLIENT_DISTS | {"mcp"}
    assert _third_party_imports(REPO / "service" / "fsgate_server") <= client | server


def test_the_dev_extra_includes_the_server_and_mcp_extras_and_the_script_is_the_client() -> None:
    project = _project()
    assert "fsgate[server,mcp]" in project["optional-dependencies"]["dev"]
    assert project["scripts"] == {"fsgate": "fsgate._main:main"}


def test_the_installed_metadata_puts_the_server_dependencies_behind_the_extra() -> None:
    requires = importlib.metadata.requires("fsgate") or []
    plain = {_name(r) for r in requires if "extra ==" not in r}
    server = {_name(r) for r in requires if re.search(r"extra\s*==\s*['\"]server['\"]", r)}
    assert plain == CLIENT_DISTS, "reinstall: pip install -e '.[dev]'"
    assert server == SERVER_DISTS


def test_the_quickstart_installs_the_server_extra_and_the_tests_the_dev_extra() -> None:
    readme = (REPO / "README.md").read_text()
    assert "pip install -e '.[server]' && mkdir -p workspace && .venv/bin/fsgate serve" in readme
    assert "pip install -q -e '.[dev]'" in (REPO / "scripts" / "test.sh").read_text()
