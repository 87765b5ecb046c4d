"""``fsgate grep`` and ``fsgate glob`` as a user runs them: output like grep -n / rg, exit
codes like grep (0 match, 1 none, 2 invalid pattern), errors on one stderr line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ServerProcess, server_env
from .test_cli import ERROR_LINE


def cli(served: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args, "--target",
                           served.target], env=server_env(), capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def tree(ws: Path) -> Path:
    (ws / "a.py").write_text("one\nneedle here\nthree\nfour\nfive\nneedle again\n")
    (ws / "b.txt").write_text("Needle\n")
    (ws / ".hidden").write_text("needle hidden\n")
    (ws / ".gitignore").write_text("*.log\n")
    (ws / "c.log").write_text("needle ignored\n")
    return ws


def test_grep_prints_path_line_text_and_exits_0(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "needle", str(tree))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tree}/a.py:2:needle here\n{tree}/a.py:6:needle again\n"
    assert done.stderr == ""


def test_grep_exits_1_when_nothing_matches(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "nowhere", str(tree))
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "")


def test_grep_exits_2_on_an_invalid_pattern(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "(", str(tree))
    assert done.returncode == 2 and done.stdout == ""
    assert ERROR_LINE.fullmatch(done.stderr) and "INVALID_ARGUMENT/INVALID_PATTERN" in done.stderr


def test_grep_context_prints_groups_like_grep(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "-C", "1", "needle", str(tree / "a.py"))
    p = tree / "a.py"
    assert done.stdout == (f"{p}-1-one\n{p}:2:needle here\n{p}-3-three\n--\n"
                           f"{p}-5-five\n{p}:6:needle again\n")
    overlapping = cli(served, "grep", "-C", "2", "e", str(p))  # every line, each once
    assert [ln.split(str(p))[1][1] for ln in overlapping.stdout.splitlines()] == list("123456")
    assert "--" not in overlapping.stdout


def test_grep_options(served: ServerProcess, tree: Path) -> None:
    assert cli(served, "grep", "-l", "needle", str(tree), "--hidden", "--no-ignore"
               ).stdout.splitlines() == [f"{tree}/.hidden", f"{tree}/a.py", f"{tree}/c.log"]
    assert cli(served, "grep", "-i", "-l", "NEEDLE", str(tree)).stdout.splitlines() == [
        f"{tree}/a.py", f"{tree}/b.txt"]
    assert cli(served, "grep", "-F", "-l", "e.e", str(tree)).returncode == 1
    assert cli(served, "grep", "-l", "e.e", str(tree)).stdout.splitlines() == [f"{tree}/a.py"]
    assert cli(served, "grep", "-il", "needle", str(tree), "-g", "*.txt").stdout == \
        f"{tree}/b.txt\n"
    assert cli(served, "grep", "-il", "needle", str(tree), "-g", "!*.txt").stdout == \
        f"{tree}/a.py\n"


def test_grep_json_prints_matches_then_the_summary(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "--json", "--max-matches", "1", "needle", str(tree))
    lines = [json.loads(ln) for ln in done.stdout.splitlines()]
    assert lines == [
        {"path": f"{tree}/a.py", "line_number": 2, "line": "needle here",
         "line_truncated": False, "before": [], "after": []},
        {"summary": {"files_searched": 1, "matches": 1, "truncated": True}},
    ]
    assert done.returncode == 0


def test_grep_notes_an_early_stop_on_stderr(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "grep", "--max-matches", "1", "needle", str(tree))
    assert done.stdout.count("\n") == 1 and "stopped early" in done.stderr


def test_grep_and_glob_default_to_the_cwd(served: ServerProcess, tree: Path) -> None:
    assert cli(served, "grep", "-l", "needle", "--cwd", str(tree)).stdout == f"{tree}/a.py\n"
    assert cli(served, "glob", "*.py", "--cwd", str(tree)).stdout == f"{tree}/a.py\n"
    no_cwd = cli(served, "grep", "needle")
    assert no_cwd.returncode == 2 and "needs --cwd DIR" in no_cwd.stderr


def test_glob_prints_one_path_per_line(served: ServerProcess, tree: Path) -> None:
    (tree / "sub").mkdir()
    (tree / "sub" / "d.py").write_text("")
    done = cli(served, "glob", "**", str(tree))
    assert done.stdout.splitlines() == [f"{tree}/a.py", f"{tree}/b.txt", f"{tree}/sub/",
                                        f"{tree}/sub/d.py"]
    assert cli(served, "glob", "*.log", str(tree), "--no-ignore").stdout == f"{tree}/c.log\n"
    assert cli(served, "glob", ".*", str(tree), "--hidden").stdout.splitlines() == [
        f"{tree}/.gitignore", f"{tree}/.hidden"]
    assert cli(served, "glob", "*", str(tree), "--exclude", "sub/", "--max-results", "1"
               ).stdout == f"{tree}/a.py\n"


def test_glob_sorts_by_modification_time(served: ServerProcess, tree: Path) -> None:
    os.utime(tree / "b.txt", (1, 1))
    os.utime(tree / "a.py", (2, 2))
    assert cli(served, "glob", "*.*", str(tree), "--sort", "modified").stdout.splitlines() == [
        f"{tree}/a.py", f"{tree}/b.txt"]


def test_glob_json_prints_listing_entries(served: ServerProcess, tree: Path) -> None:
    (entry,) = [json.loads(ln) for ln in cli(served, "glob", "*.py", str(tree), "--json"
                                             ).stdout.splitlines()]
    assert entry["name"] == "a.py" and entry["info"]["path"] == f"{tree}/a.py"
    assert entry["info"]["type"] == "regular" and entry["raw_name_base64"] is None


def test_glob_exits_2_on_an_invalid_glob(served: ServerProcess, tree: Path) -> None:
    done = cli(served, "glob", "[", str(tree))
    assert done.returncode == 2 and "INVALID_PATTERN" in done.stderr
