"""``fsgate edit`` and ``fsgate read --lines/--tail`` as a user runs them, against a real
server: the diff on stdout, the summary on stderr, --json, and the exit codes (1 for a text
that does not match as required, 5 for a version mismatch, 2 for a usage error)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import ServerProcess, server_env
from ..helpers import snapshot

ERROR_LINE = re.compile(r"fsgate: [A-Z_]+(/[A-Z_]+)?: \S.*\n")


def fsgate(served: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args, "--target",
                           served.target], env=server_env(), capture_output=True, text=True,
                          timeout=120, check=False)


def test_edit_prints_the_diff_and_a_summary(served: ServerProcess, ws: Path) -> None:
    (ws / "f.txt").write_text("a\nb\nc\n")
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "b", "--new", "B")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"
    assert done.stderr.startswith(f"replaced 1 occurrence in {ws / 'f.txt'} (version ")
    assert (ws / "f.txt").read_text() == "a\nB\nc\n"


def test_edit_takes_several_pairs_and_all(served: ServerProcess, ws: Path) -> None:
    (ws / "f.txt").write_text("x x y\n")
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "x", "--new", "z",
                  "--old", "y", "--new", "", "--all", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert sorted(result) == ["diff", "diff_truncated", "info", "replacements"]
    assert result["replacements"] == 3 and result["info"]["size"] == len("z z \n")
    assert (ws / "f.txt").read_text() == "z z \n"


def test_edit_dry_run_prints_the_diff_and_changes_nothing(served: ServerProcess,
                                                          ws: Path) -> None:
    (ws / "f.txt").write_text("keep\n")
    before = snapshot(ws)
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "keep", "--new", "drop",
                  "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "-keep\n+drop\n" in done.stdout and done.stderr.startswith("would replace 1")
    assert snapshot(ws) == before


@pytest.mark.parametrize(("content", "reason"), [("q q\n", "AMBIGUOUS_MATCH"),
                                                 ("nothing\n", "NO_MATCH")])
def test_a_mismatch_exits_1_with_the_error_line(served: ServerProcess, ws: Path,
                                                content: str, reason: str) -> None:
    (ws / "f.txt").write_text(content)
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "q", "--new", "r")
    assert (done.returncode, done.stdout) == (1, "")
    assert ERROR_LINE.fullmatch(done.stderr), done.stderr
    assert done.stderr.startswith(f"fsgate: FAILED_PRECONDITION/{reason}: ")
    assert (ws / "f.txt").read_text() == content


def test_a_version_mismatch_exits_5(served: ServerProcess, ws: Path) -> None:
    (ws / "f.txt").write_text("a\n")
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "a", "--new", "b",
                  "--if-version", "not-the-version")
    assert done.returncode == 5 and "ABORTED/VERSION_MISMATCH" in done.stderr


def test_unpaired_old_and_new_are_a_usage_error(served: ServerProcess, ws: Path) -> None:
    (ws / "f.txt").write_text("a\n")
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "a", "--old", "b",
                  "--new", "c")
    assert done.returncode == 2 and "one --new per --old" in done.stderr
    assert fsgate(served, "edit", str(ws / "f.txt"), "--new", "c").returncode == 2


def test_an_empty_old_text_is_the_servers_invalid_request(served: ServerProcess,
                                                          ws: Path) -> None:
    (ws / "f.txt").write_text("a\n")
    done = fsgate(served, "edit", str(ws / "f.txt"), "--old", "", "--new", "c")
    assert done.returncode == 2 and "INVALID_ARGUMENT/INVALID_REQUEST" in done.stderr


def test_read_lines_and_tail(served: ServerProcess, ws: Path) -> None:
    (ws / "f.txt").write_text("".join(f"{i}\n" for i in range(1, 21)))
    assert fsgate(served, "read", str(ws / "f.txt"), "--lines", "3:5").stdout == "3\n4\n5\n"
    assert fsgate(served, "read", str(ws / "f.txt"), "--lines", "19:").stdout == "19\n20\n"
    assert fsgate(served, "read", str(ws / "f.txt"), "--lines", "7").stdout == "7\n"
    assert fsgate(served, "read", str(ws / "f.txt"), "--lines", ":2").stdout == "1\n2\n"
    assert fsgate(served, "read", str(ws / "f.txt"), "--tail", "2").stdout == "19\n20\n"
    for bad in (["--lines", "0:3"], ["--lines", "5:3"], ["--lines", "x"], ["--tail", "0"],
                ["--lines", "1:2", "--tail", "1"]):
        done = fsgate(served, "read", str(ws / "f.txt"), *bad)
        assert done.returncode == 2 and done.stdout == "", bad
