"""Packaging: building fsgate from pyproject.toml warns of nothing (no deprecated tables)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

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
