"""ruff and mypy --strict over our own code (generated code excluded), as part of the suite."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=f"{REPO / 'client'}:{REPO / 'service'}")
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("ruff") is None and not (Path(sys.prefix) / "bin/ruff").exists(),
                    reason="ruff not installed (pip install -e '.[dev]')")
def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "client", "service", "scripts")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = run("mypy", "--strict", "-p", "fsgate", "-p", "fsgate_server")
    assert result.returncode == 0, result.stdout + result.stderr
