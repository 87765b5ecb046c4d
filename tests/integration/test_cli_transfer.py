"""``fsgate mv`` and ``fsgate cp`` as a user runs them, against a real server: quiet on
success like mv and cp, JSON with --json, one error line and the shared exit codes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..client.test_entry_point import SERVER_ONLY
from ..client.test_entry_point import fsgate as entry_point
from ..conftest import server_env
from .transfer_setup import Layout, fresh_dir, layout

__all__ = ["layout"]  # fixtures

ERROR_LINE = re.compile(r"fsgate: [A-Z_]+/[A-Z_]+: \S.*\n")


@pytest.fixture
def d(layout: Layout, request: pytest.FixtureRequest) -> Path:
    return fresh_dir(layout.ws, request)


def fsgate(layout: Layout, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args, "--target",
                           layout.server.target], env=server_env(), capture_output=True,
                          text=True, timeout=120, check=False)


def test_mv_is_quiet_and_moves(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    result = fsgate(layout, "mv", str(d / "a"), str(d / "b"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (d / "b").read_text() == "a"


def test_mv_json_prints_the_destination(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    result = fsgate(layout, "mv", str(d / "a"), str(d / "x" / "b"), "--parents", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["info"]
    assert (out["info"]["path"], out["info"]["type"], out["info"]["size"]) == (
        str(d / "x" / "b"), "regular", 1)


def test_mv_onto_an_existing_destination_exits_5_unless_overwrite(layout: Layout,
                                                                  d: Path) -> None:
    (d / "a").write_text("new")
    (d / "b").write_text("old")
    refused = fsgate(layout, "mv", str(d / "a"), str(d / "b"))
    assert refused.returncode == 5 and refused.stdout == ""
    assert ERROR_LINE.fullmatch(refused.stderr) and "ALREADY_EXISTS/ALREADY_EXISTS" in \
        refused.stderr
    assert (d / "b").read_text() == "old"
    assert fsgate(layout, "mv", "--overwrite", str(d / "a"), str(d / "b")).returncode == 0
    assert (d / "b").read_text() == "new"


@pytest.mark.parametrize(("args", "code", "label"), [
    (("missing", "b"), 3, "NOT_FOUND/NOT_FOUND"),
    (("dir", "dir/sub/x"), 2, "INVALID_ARGUMENT/INVALID_REQUEST"),
    (("a", "full", "--overwrite"), 1, "FAILED_PRECONDITION/IS_A_DIRECTORY"),
    (("dir", "full", "--overwrite"), 1, "FAILED_PRECONDITION/NOT_EMPTY"),
    (("repo/.git/config", "x"), 4, "PERMISSION_DENIED/PROTECTED_PATH"),
], ids=["missing", "into-itself", "file-onto-dir", "not-empty", "protected"])
def test_mv_failures_exit_with_the_shared_codes(layout: Layout, d: Path, args: tuple[str, ...],
                                                code: int, label: str) -> None:
    (d / "a").write_text("a")
    (d / "dir" / "sub").mkdir(parents=True)
    (d / "full").mkdir()
    (d / "full" / "keep").write_text("keep")
    (d / "repo" / ".git").mkdir(parents=True)
    (d / "repo" / ".git" / "config").write_text("[core]\n")
    src, dst, *flags = args
    result = fsgate(layout, "mv", str(d / src), str(d / dst), *flags)
    assert (result.returncode, result.stdout) == (code, ""), result.stderr
    assert ERROR_LINE.fullmatch(result.stderr) and label in result.stderr


def test_mv_outside_the_roots_exits_4(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    result = fsgate(layout, "mv", str(d / "a"), str(layout.outside / "a"))
    assert result.returncode == 4 and "PERMISSION_DENIED/OUTSIDE_POLICY" in result.stderr
    assert (d / "a").exists()


def test_relative_mv_and_cp_need_and_use_cwd(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    no_cwd = fsgate(layout, "mv", "a", "b")
    assert no_cwd.returncode == 2 and "--cwd" in no_cwd.stderr
    assert fsgate(layout, "mv", "a", "b", "--cwd", str(d)).returncode == 0
    assert fsgate(layout, "cp", "b", str(d / "c"), "--cwd", str(d)).returncode == 0
    assert (d / "b").read_text() == (d / "c").read_text() == "a"


def test_cp_is_quiet_and_copies_a_file(layout: Layout, d: Path) -> None:
    (d / "a").write_text("abc")
    result = fsgate(layout, "cp", str(d / "a"), str(d / "b"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert (d / "b").read_text() == "abc"


def test_cp_of_a_directory_needs_r(layout: Layout, d: Path) -> None:
    (d / "src" / "sub").mkdir(parents=True)
    (d / "src" / "sub" / "f").write_text("f")
    (d / "src" / "l").symlink_to("sub/f")
    refused = fsgate(layout, "cp", str(d / "src"), str(d / "dst"))
    assert refused.returncode == 1 and "FAILED_PRECONDITION/IS_A_DIRECTORY" in refused.stderr
    assert not (d / "dst").exists()
    for flag in ("-r", "-R", "--recursive"):
        result = fsgate(layout, "cp", flag, str(d / "src"), str(d / f"dst{flag}"), "--json")
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert (out["bytes_copied"], out["entries_copied"], out["info"]["type"]) == (
            1, 4, "directory")
        assert os.readlink(d / f"dst{flag}" / "l") == "sub/f"


def test_cp_onto_an_existing_destination_exits_5_unless_overwrite(layout: Layout,
                                                                  d: Path) -> None:
    (d / "a").write_text("new")
    (d / "b").write_text("old")
    refused = fsgate(layout, "cp", str(d / "a"), str(d / "b"))
    assert refused.returncode == 5 and (d / "b").read_text() == "old"
    assert fsgate(layout, "cp", "--overwrite", str(d / "a"), str(d / "b")).returncode == 0
    assert (d / "b").read_text() == "new"


def test_cp_into_the_read_only_root_exits_4(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    result = fsgate(layout, "cp", str(d / "a"), str(layout.ro / "a"))
    assert result.returncode == 4 and "PERMISSION_DENIED/OUTSIDE_POLICY" in result.stderr
    assert not (layout.ro / "a").exists()


def test_mv_and_cp_run_on_a_client_only_install(layout: Layout, d: Path) -> None:
    (d / "a").write_text("a")
    blocked = (*SERVER_ONLY, "fsgate_server")
    moved = entry_point("mv", str(d / "a"), str(d / "b"), "--target", layout.server.target,
                        blocked=blocked)
    copied = entry_point("cp", str(d / "b"), str(d / "c"), "--target", layout.server.target,
                         blocked=blocked)
    assert (moved.returncode, copied.returncode) == (0, 0), moved.stderr + copied.stderr
    assert (d / "c").read_text() == "a"
