"""protos/ is buf STANDARD lint clean and compatible with the last released proto."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The last released proto: the baseline of `buf breaking` (see protos-released/README.md).
RELEASED = "protos-released/v0.1.0"


def buf_binary() -> str | None:
    local = Path(sys.prefix) / "bin" / "buf"  # buf-bin installs it beside the interpreter
    return str(local) if local.exists() else shutil.which("buf")


BUF = buf_binary()
pytestmark = pytest.mark.skipif(BUF is None,
                                reason="buf not installed (pip install -e '.[dev]': buf-bin)")


def buf(*args: str, cwd: Path = REPO, cache: Path) -> subprocess.CompletedProcess[str]:
    assert BUF is not None
    env = dict(os.environ, BUF_CACHE_DIR=str(cache))  # never the user's cache
    return subprocess.run([BUF, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_buf_lint_standard_is_clean(tmp_path: Path) -> None:
    result = buf("lint", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_protos_are_compatible_with_the_last_release(tmp_path: Path) -> None:
    result = buf("breaking", "protos", "--against", RELEASED, cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_released_baseline_is_a_complete_fsgate_v1(tmp_path: Path) -> None:
    released = sorted(p.relative_to(REPO / RELEASED) for p in (REPO / RELEASED).rglob("*.proto"))
    current = sorted(p.relative_to(REPO / "protos") for p in (REPO / "protos").rglob("*.proto"))
    assert released == current == [Path("fsgate/v1/fsgate.proto")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("uint64 size = 3;", "uint32 size = 3;", id="field-type"),
        pytest.param("bool follow_symlinks = 3;", "bool follow = 3;", id="field-name"),
        pytest.param("string version = 6;", "string version = 9;", id="field-number"),
    ],
)
def test_buf_breaking_catches_an_incompatible_change(tmp_path: Path, old: str,
                                                     new: str) -> None:
    work = tmp_path / "work"
    shutil.copytree(REPO / "protos", work / "protos")
    shutil.copy(REPO / "buf.yaml", work / "buf.yaml")
    proto = work / "protos" / "fsgate" / "v1" / "fsgate.proto"
    assert old in proto.read_text()
    proto.write_text(proto.read_text().replace(old, new))

    result = buf("breaking", "protos", "--against", str(REPO / RELEASED), cwd=work,
                 cache=tmp_path / "cache")

    assert result.returncode != 0
    assert "fsgate.proto" in result.stdout
