"""`fsgate mkdir`, `fsgate rm` and `fsgate info` as a user runs them, against real servers:
quiet on success, the habits of mkdir and rm, one error line and the CLI's exit codes,
``--json`` on stdout; and the README's own command lines."""
from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import fsgate

from ..conftest import REPO, ServerProcess, server_env
from ..helpers import snapshot

ERROR_LINE = re.compile(r"fsgate: [A-Z_]+(/[A-Z_]+)?: \S.*\n")


def cli(served: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args,
                           "--target", served.target], env=server_env(),
                          capture_output=True, text=True, timeout=120, check=False)


def quiet_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result


def error(result: subprocess.CompletedProcess[str], code: int, label: str) -> str:
    assert result.returncode == code, result
    assert result.stdout == "" and ERROR_LINE.fullmatch(result.stderr), result
    assert result.stderr.startswith(f"fsgate: {label}: "), result.stderr
    return result.stderr


def test_mkdir_is_quiet_refuses_what_exists_and_makes_parents_with_p(
        served: ServerProcess, ws: Path) -> None:
    quiet_ok(cli(served, "mkdir", str(ws / "d")))
    assert (ws / "d").is_dir()
    error(cli(served, "mkdir", str(ws / "d")), 5, "ALREADY_EXISTS/ALREADY_EXISTS")
    error(cli(served, "mkdir", str(ws / "x" / "y")), 3, "NOT_FOUND/NOT_FOUND")
    quiet_ok(cli(served, "mkdir", "-p", str(ws / "d")))  # -p: an existing one is fine
    quiet_ok(cli(served, "mkdir", "-p", "-m", "700", str(ws / "x" / "y")))
    assert stat.S_IMODE((ws / "x").stat().st_mode) == 0o700
    assert stat.S_IMODE((ws / "x" / "y").stat().st_mode) == 0o700
    made = cli(served, "mkdir", "--json", str(ws / "j"))
    assert made.returncode == 0 and made.stderr == ""
    info = json.loads(made.stdout)
    assert (info["path"], info["type"], info["mode"]) == (str(ws / "j"), "directory", "0755")
    (ws / "f").write_text("file")
    error(cli(served, "mkdir", "-p", str(ws / "f")), 5, "ALREADY_EXISTS/ALREADY_EXISTS")
    error(cli(served, "mkdir", str(ws / ".git" / "hooks")), 4,
          "PERMISSION_DENIED/PROTECTED_PATH")


def test_rm_removes_files_and_links_quietly_and_f_accepts_a_missing_path(
        served: ServerProcess, ws: Path) -> None:
    (ws / "f").write_text("bye")
    (ws / "d").mkdir()
    (ws / "d" / "kept").write_text("kept")
    (ws / "dlink").symlink_to("d")
    quiet_ok(cli(served, "rm", str(ws / "f")))
    quiet_ok(cli(served, "rm", str(ws / "dlink")))  # a link to a directory: the link
    assert sorted(os.listdir(ws)) == ["d"] and (ws / "d" / "kept").exists()
    error(cli(served, "rm", str(ws / "f")), 3, "NOT_FOUND/NOT_FOUND")
    quiet_ok(cli(served, "rm", "-f", str(ws / "f")))
    quiet_ok(cli(served, "rm", "-rf", str(ws / "no" / "such" / "dir")))


def test_rm_on_a_directory_without_r_says_so_and_removes_nothing(served: ServerProcess,
                                                                 ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("x")
    (ws / "empty").mkdir()
    before = snapshot(ws)
    for args in (("rm", str(ws / "d")), ("rm", "-f", str(ws / "empty"))):
        err = error(cli(served, *args), 1, "FAILED_PRECONDITION/IS_A_DIRECTORY")
        assert "is a directory" in err and "-r" in err
    err = error(cli(served, "rm", "-d", str(ws / "d")), 1, "FAILED_PRECONDITION/NOT_EMPTY")
    assert snapshot(ws) == before
    quiet_ok(cli(served, "rm", "-d", str(ws / "empty")))
    removed = cli(served, "rm", "-r", "--json", str(ws / "d"))
    assert (removed.returncode, json.loads(removed.stdout), removed.stderr) == (
        0, {"removed": 2}, "")
    assert os.listdir(ws) == []


def test_rm_verbose_if_version_relative_and_refusals(served: ServerProcess, ws: Path) -> None:
    (ws / "t" / "a").mkdir(parents=True)
    (ws / "t" / "a" / "b").write_text("x")
    (ws / "v").write_text("v1")
    verbose = cli(served, "rm", "-rv", str(ws / "t"))
    assert (verbose.returncode, verbose.stdout) == (0, "")
    assert verbose.stderr == f"removed {ws / 't'} (3 entries)\n"
    error(cli(served, "rm", "--if-version", "not-it", str(ws / "v")), 5,
          "ABORTED/VERSION_MISMATCH")
    with fsgate.Client(served.target) as client:
        version = client.stat(str(ws / "v")).version
    quiet_ok(cli(served, "rm", "--if-version", version, str(ws / "v")))
    (ws / "rel").write_text("x")
    quiet_ok(cli(served, "rm", "rel", "--cwd", str(ws)))
    error(cli(served, "rm", "rel"), 2, "INVALID_ARGUMENT/CWD_REQUIRED")
    error(cli(served, "rm", "-rf", str(served.root)), 4, "PERMISSION_DENIED/PROTECTED_PATH")
    assert served.root.is_dir() and ws.is_dir()


def test_info_prints_text_and_json_that_the_client_agrees_with(served: ServerProcess) -> None:
    text = cli(served, "info")
    as_json = cli(served, "info", "--json")
    assert text.returncode == as_json.returncode == 0, (text, as_json)
    with fsgate.Client(served.target) as client:
        info = client.server_info()
    lines = text.stdout.splitlines()
    assert f"version: {info.version}" in lines and f"backend: {served.backend}" in lines
    assert f"root: {served.root} (read-write)" in lines
    assert f"root: {served.root.parent / 'ro'} (read-only)" in lines
    assert f"max_list_entries: {info.limits.max_list_entries}" in lines
    shown = json.loads(as_json.stdout)
    assert shown["version"] == info.version and shown["backend"] == info.backend
    assert shown["landlock_abi"] == info.landlock_abi
    assert shown["roots"] == [{"path": r.path, "writable": r.writable} for r in info.roots]
    assert shown["limits"]["max_page_size"] == 1000


README = REPO / "README.md"


def readme_namespace_commands() -> list[str]:
    """The README's `fsgate mkdir|rm|info` command lines, comments dropped."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if re.match(r"fsgate (mkdir|rm|info)\b", line)]


def test_the_readmes_mkdir_rm_and_info_lines_run(served: ServerProcess, ws: Path) -> None:
    commands = readme_namespace_commands()
    assert {c.split()[1] for c in commands} == {"mkdir", "rm", "info"}, commands
    (ws / "hello.txt").write_text("hi\n")
    for line in commands:
        args = shlex.split(line.replace("/ws", str(ws)))[1:]
        result = cli(served, *args)
        assert result.returncode == 0, (line, result.stderr)
    assert os.listdir(ws) == []  # what the examples made, they removed
