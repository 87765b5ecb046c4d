"""Packaging: building fsgate from pyproject.toml warns of nothing (no deprecated tables)."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_builds_without_warnings_and_declares_an_spdx_license(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    # pip's own notes about unreachable index locations are the environment, not the build.
    build_lines = [line for line in output.splitlines()
                   if "Warning" in line or "deprecated" in line.lower()]
    assert build_lines == []
    (wheel,) = tmp_path.glob("fsgate-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(name).decode()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
