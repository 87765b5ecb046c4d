"""The client is typed for its callers: mypy --strict on a usage example, and the wheel
ships py.typed and the generated .pyi stubs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "examples" / "typed_usage.py"


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=str(REPO / "client"))
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, check=False)


def test_typed_usage_example_passes_mypy_strict() -> None:
    result = mypy(str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_misuse_of_the_client(tmp_path: Path) -> None:
    misuse = tmp_path / "misuse.py"
    misuse.write_text(
        "import fsgate\n"
        "def sync(fs: fsgate.Client) -> None:\n"
        "    fs.write_file('/ws/a', 'text is not bytes')\n"
        "    fs.stat(b'/ws/a')\n"
        "async def forgot_await(fs: fsgate.AsyncClient) -> bytes:\n"
        "    return fs.read_file('/ws/a')\n"
        "def wrong_field(info: fsgate.FileInfo) -> str:\n"
        "    return info.size\n"
    )

    result = mypy(str(misuse))

    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["3", "4", "6", "8"], result.stdout


def test_wheel_ships_py_typed_and_the_generated_stubs(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("client", "service"):  # a copy: building writes build/ and *.egg-info
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Built as a user would (pip's isolated build env fetches setuptools from the index).
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
                            "-q", "-w", str(tmp_path / "dist")],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr

    (wheel,) = (tmp_path / "dist").glob("fsgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    assert {"fsgate/py.typed", "fsgate/v1/fsgate_pb2.pyi", "fsgate/v1/fsgate_pb2.py",
            "fsgate/v1/fsgate_pb2_grpc.py", "fsgate/__init__.py"} <= names
    assert not any("__pycache__" in n or "tests/" in n for n in names)
