"""The Node.js client (clients/node, generated at run time from protos/) against a real
server: it reads, writes, lists and stats, and its errors carry the code and ErrorInfo."""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fsgate import Client

from ..conftest import (
    BACKENDS,
    REPO,
    ServerProcess,
    backend_skip_reason,
    server_env,
    start_server,
)
from ..helpers import snapshot
from .test_faults import confined_helpers, wait_for

NODE_DIR = REPO / "clients" / "node"
CLI = NODE_DIR / "cli.js"

NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are not installed: the Node.js client is not tested "
           "(.ci/run installs them: apt-get install nodejs npm)",
)


def node_modules_fresh() -> bool:
    """Whether clients/node/node_modules is installed from the current package-lock.json."""
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime


@pytest.fixture(scope="module")
def node_client() -> Path:
    """clients/node, installed exactly from its lock file (scripts/test.sh does this too)."""
    if not node_modules_fresh():
        assert NPM is not None
        result = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                                capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return NODE_DIR


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with the first backend that works here: this checks the wire, not the
    sandbox. A root `ws` and a sibling `outside` that no root covers."""
    usable = [b for b in BACKENDS if backend_skip_reason(b) is None]
    if not usable:
        pytest.skip("no sandbox backend works here")
    base = tmp_path_factory.mktemp("node")
    (base / "ws").mkdir()
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("top secret\n")
    server = start_server(tmp_path_factory.mktemp("node-run"), [str(base / "ws")], usable[0])
    yield server
    server.stop()


@pytest.fixture
def ws(server: ServerProcess, request: pytest.FixtureRequest) -> Path:
    d: Path = server.root / request.node.name
    d.mkdir()
    return d


def node(server: ServerProcess, node_client: Path, *args: str, data: bytes = b"",
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    assert NODE is not None
    argv = [NODE, str(node_client / "cli.js")]
    if env is None:
        argv += ["--target", server.target]
    return subprocess.run([*argv, *args], input=data, capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)


def error_of(result: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(result.stderr)["error"]
    return error


def test_node_client_writes_reads_lists_and_stats(server: ServerProcess, node_client: Path,
                                                  ws: Path) -> None:
    content = os.urandom(3 * (1 << 20) + 77)  # several 1 MiB messages each way
    target = ws / "sub" / "blob.bin"

    wrote = node(server, node_client, "write", str(target), "--parents", data=content)
    assert wrote.returncode == 0, wrote.stderr
    result = json.loads(wrote.stdout)
    assert result["bytes_written"] == len(content)
    assert target.read_bytes() == content

    read = node(server, node_client, "read", str(target))
    assert read.returncode == 0, read.stderr
    assert read.stdout == content

    stat = node(server, node_client, "stat", str(target))
    assert stat.returncode == 0, stat.stderr
    info = json.loads(stat.stdout)
    with Client(server.target) as python:  # both languages see the same FileInfo
        expected = python.stat(str(target))
    assert (info["path"], info["type"], info["size"], info["mode"], info["version"]) == (
        expected.path, "regular", expected.size, f"{expected.mode:04o}", expected.version)
    assert info == result["info"]

    listing = node(server, node_client, "ls", str(ws), "--depth", "2")
    assert listing.returncode == 0, listing.stderr
    entries = [json.loads(line) for line in listing.stdout.splitlines()]
    assert [(e["name"], e["info"]["type"]) for e in entries] == [
        ("sub", "directory"), ("sub/blob.bin", "regular")]


def python_cli(server: ServerProcess, *args: str, data: bytes = b"",
               ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args,
                           "--target", server.target], input=data, env=server_env(),
                          capture_output=True, timeout=120, check=False)


def test_node_and_python_clis_print_the_same_json(server: ServerProcess, node_client: Path,
                                                  ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "d" / "f.txt").write_bytes(b"12345")
    os.chmod(ws / "d" / "f.txt", 0o640)
    os.symlink("d/f.txt", ws / "link")
    os.symlink("no/such/target", ws / "dangling")
    (ws / os.fsdecode(b"bad-\xff-name")).write_bytes(b"")
    os.mkfifo(ws / "fifo")
    os.utime(ws / "d" / "f.txt", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))

    for path in ("d", "d/f.txt", "link", "dangling", "fifo"):
        from_node = node(server, node_client, "stat", str(ws / path))
        from_python = python_cli(server, "stat", str(ws / path), "--json")
        assert from_node.returncode == from_python.returncode == 0, from_node.stderr
        assert json.loads(from_node.stdout) == json.loads(from_python.stdout), path

    node_ls = node(server, node_client, "ls", str(ws), "--depth", "2")
    python_ls = python_cli(server, "ls", str(ws), "--depth", "2", "--json")
    assert node_ls.returncode == python_ls.returncode == 0, node_ls.stderr
    node_rows = [json.loads(line) for line in node_ls.stdout.splitlines()]
    assert node_rows == [json.loads(line) for line in python_ls.stdout.splitlines()]
    by_name = {row["name"]: row for row in node_rows}
    assert by_name["d/f.txt"]["info"]["modified_time"] == "2023-11-14T22:13:20.123456Z"
    assert by_name["d/f.txt"]["info"]["mode"] == "0640"
    assert by_name["link"]["info"]["symlink_target"] == "d/f.txt"
    assert by_name["fifo"]["info"]["type"] == "other"
    (bad,) = [row for row in node_rows if row["raw_name_base64"] is not None]
    assert base64.b64decode(bad["raw_name_base64"]) == b"bad-\xff-name"

    node_write = node(server, node_client, "write", str(ws / "w.txt"), data=b"abc")
    node_info = json.loads(node_write.stdout)
    python_write = python_cli(server, "write", str(ws / "w.txt"), "-", "--json", data=b"abc")
    python_info = json.loads(python_write.stdout)
    assert sorted(node_info) == sorted(python_info) == ["bytes_written", "info"]
    assert sorted(node_info["info"]) == sorted(python_info["info"])
    assert node_info["bytes_written"] == python_info["bytes_written"] == 3


LIST_ALL = """
const fsgate = require(process.argv[1]);
const client = fsgate.connect(process.argv[2]);
(async () => {
  const listing = client.listDir(process.argv[3], { pageSize: 2 });
  const isAsyncIterable = typeof listing[Symbol.asyncIterator] === 'function';
  const names = [];
  for await (const entry of listing) names.push(entry.name);
  let firstOnly = null;
  for await (const entry of client.listDir(process.argv[3], { pageSize: 2 })) {
    firstOnly = entry.name;
    break; // stops fetching pages
  }
  const page = await client.listDirPage(process.argv[3], { pageSize: 2 });
  client.close();
  console.log(JSON.stringify({ isAsyncIterable, names, firstOnly,
    pageNames: page.entries.map((e) => e.name), token: page.next_page_token !== '' }));
})().catch((err) => { console.error(err); process.exitCode = 1; });
"""


def test_node_list_dir_is_async_iterable_over_every_page(server: ServerProcess,
                                                         node_client: Path, ws: Path) -> None:
    names = [f"e{i}" for i in range(7)]
    for name in names:
        (ws / name).touch()
    assert NODE is not None

    result = subprocess.run([NODE, "-e", LIST_ALL, str(node_client / "fsgate.js"),
                             server.target, str(ws)], capture_output=True, timeout=120,
                            check=False)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "isAsyncIterable": True, "names": names, "firstOnly": "e0",
        "pageNames": ["e0", "e1"], "token": True,
    }


def test_node_client_takes_the_target_from_the_environment(server: ServerProcess,
                                                           node_client: Path,
                                                           ws: Path) -> None:
    (ws / "a.txt").write_bytes(b"env")

    result = node(server, node_client, "read", str(ws / "a.txt"),
                  env={"FSGATE_TARGET": server.target})

    assert (result.returncode, result.stdout) == (0, b"env")


def test_node_errors_carry_the_code_and_the_error_info_reason(server: ServerProcess,
                                                              node_client: Path,
                                                              ws: Path) -> None:
    outside = server.root.parent / "outside" / "secret.txt"

    denied = node(server, node_client, "read", str(outside))
    assert denied.returncode == 4 and denied.stdout == b""
    assert error_of(denied) | {"message": ""} == {
        "code": 7, "codeName": "PERMISSION_DENIED", "message": "", "reason": "OUTSIDE_POLICY",
        "domain": "fsgate", "metadata": {"path": str(outside)}}
    assert b"top secret" not in denied.stderr

    missing = node(server, node_client, "stat", str(ws / "missing"))
    assert missing.returncode == 3
    assert (error_of(missing)["codeName"], error_of(missing)["reason"]) == ("NOT_FOUND",
                                                                            "NOT_FOUND")

    (ws / "exists").write_bytes(b"old")
    exists = node(server, node_client, "write", str(ws / "exists"), "--create-new", data=b"new")
    assert exists.returncode == 5
    assert (error_of(exists)["code"], error_of(exists)["reason"]) == (6, "ALREADY_EXISTS")
    assert (ws / "exists").read_bytes() == b"old"


def test_a_rejected_node_write_changes_nothing(server: ServerProcess, node_client: Path,
                                               ws: Path) -> None:
    outside = server.root.parent / "outside"
    before = snapshot(outside)

    result = node(server, node_client, "write", str(outside / "new.bin"),
                  data=b"x" * (5 << 20))  # the server refuses while the client still sends

    assert result.returncode == 4
    assert (error_of(result)["codeName"], error_of(result)["reason"]) == (
        "PERMISSION_DENIED", "OUTSIDE_POLICY")
    assert snapshot(outside) == before


def test_node_client_moves_and_copies_like_the_python_cli(server: ServerProcess,
                                                          node_client: Path, ws: Path) -> None:
    (ws / "a").write_bytes(b"abc")
    (ws / "src" / "sub").mkdir(parents=True)
    (ws / "src" / "sub" / "f").write_bytes(b"12345")
    (ws / "src" / "l").symlink_to("sub/f")

    moved = node(server, node_client, "mv", str(ws / "a"), str(ws / "b"))
    assert moved.returncode == 0, moved.stderr
    python_moved = python_cli(server, "mv", str(ws / "b"), str(ws / "c"), "--json")
    node_info, python_info = json.loads(moved.stdout), json.loads(python_moved.stdout)
    assert sorted(node_info) == sorted(python_info) == ["info"]
    same = {"path": "", "version": ""}  # a rename changes ctime, so the version moves on
    assert node_info["info"] | same == python_info["info"] | same
    assert node_info["info"]["path"] == str(ws / "b") and (ws / "c").read_bytes() == b"abc"

    copied = node(server, node_client, "cp", "-r", str(ws / "src"), str(ws / "dst"))
    python_copied = python_cli(server, "cp", "-r", str(ws / "src"), str(ws / "dst2"), "--json")
    assert copied.returncode == python_copied.returncode == 0, copied.stderr
    node_copy, python_copy = json.loads(copied.stdout), json.loads(python_copied.stdout)
    assert sorted(node_copy) == sorted(python_copy) == ["bytes_copied", "entries_copied", "info"]
    assert (node_copy["bytes_copied"], node_copy["entries_copied"]) == (5, 4)
    assert (python_copy["bytes_copied"], python_copy["entries_copied"]) == (5, 4)
    assert os.readlink(ws / "dst" / "l") == "sub/f"

    parents = node(server, node_client, "mv", str(ws / "c"), str(ws / "x" / "y" / "c"),
                   "--parents")
    assert parents.returncode == 0 and (ws / "x" / "y" / "c").read_bytes() == b"abc"


def test_node_move_and_copy_errors_carry_the_code_and_reason(server: ServerProcess,
                                                            node_client: Path,
                                                            ws: Path) -> None:
    (ws / "a").write_bytes(b"new")
    (ws / "b").write_bytes(b"old")
    (ws / "dir").mkdir()
    before = snapshot(ws)

    exists = node(server, node_client, "mv", str(ws / "a"), str(ws / "b"))
    assert exists.returncode == 5
    assert error_of(exists)["reason"] == "ALREADY_EXISTS"
    assert error_of(exists)["metadata"] == {"path": str(ws / "b")}

    needs_r = node(server, node_client, "cp", str(ws / "dir"), str(ws / "dir2"))
    assert needs_r.returncode == 1
    assert (error_of(needs_r)["codeName"], error_of(needs_r)["reason"]) == (
        "FAILED_PRECONDITION", "IS_A_DIRECTORY")

    outside = server.root.parent / "outside"
    denied = node(server, node_client, "cp", str(outside / "secret.txt"), str(ws / "s"))
    assert denied.returncode == 4 and error_of(denied)["reason"] == "OUTSIDE_POLICY"
    assert snapshot(ws) == before

    overwrote = node(server, node_client, "cp", str(ws / "a"), str(ws / "b"), "--overwrite")
    assert overwrote.returncode == 0 and (ws / "b").read_bytes() == b"new"


def test_node_edit_prints_the_same_json_as_the_python_cli(server: ServerProcess,
                                                          node_client: Path, ws: Path) -> None:
    (ws / "n.txt").write_text("alpha beta\nalpha\n")
    (ws / "p.txt").write_text("alpha beta\nalpha\n")
    args = ("--old", "alpha", "--new", "gamma", "--old", "beta", "--new", "delta", "--all")

    from_node = node(server, node_client, "edit", str(ws / "n.txt"), *args)
    from_python = python_cli(server, "edit", str(ws / "p.txt"), *args, "--json")

    assert from_node.returncode == from_python.returncode == 0, from_node.stderr
    node_result, python_result = json.loads(from_node.stdout), json.loads(from_python.stdout)
    assert sorted(node_result) == sorted(python_result) == [
        "diff", "diff_truncated", "info", "replacements"]
    assert node_result["replacements"] == python_result["replacements"] == 3
    assert node_result["diff"] == python_result["diff"].replace("p.txt", "n.txt")
    assert sorted(node_result["info"]) == sorted(python_result["info"])
    assert (ws / "n.txt").read_text() == (ws / "p.txt").read_text() == "gamma delta\ngamma\n"


def test_node_edit_mismatch_and_dry_run(server: ServerProcess, node_client: Path,
                                        ws: Path) -> None:
    (ws / "m.txt").write_text("x x\n")
    before = snapshot(ws)

    ambiguous = node(server, node_client, "edit", str(ws / "m.txt"), "--old", "x", "--new", "y")
    assert ambiguous.returncode == 1
    assert (error_of(ambiguous)["reason"], error_of(ambiguous)["metadata"]) == (
        "AMBIGUOUS_MATCH", {"edit": "0", "count": "2", "path": str(ws / "m.txt")})
    dry = node(server, node_client, "edit", str(ws / "m.txt"), "--old", "x", "--new", "y",
               "--all", "--dry-run")
    assert dry.returncode == 0 and json.loads(dry.stdout)["replacements"] == 2
    assert snapshot(ws) == before
    unpaired = node(server, node_client, "edit", str(ws / "m.txt"), "--old", "x")
    assert unpaired.returncode == 2


LINES = """
const fsgate = require(process.argv[1]);
const client = fsgate.connect(process.argv[2]);
(async () => {
  const out = {
    window: await client.readLines(process.argv[3], { offset: 1, limit: 2 }),
    rest: await client.readLines(process.argv[3], { offset: 3 }),
    tail: await client.tail(process.argv[3], 2),
    all: await client.tail(process.argv[3]),
  };
  try { await client.tail(process.argv[3], 0); } catch (err) { out.zero = err.name; }
  client.close();
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exitCode = 1; });
"""


def test_node_read_lines_and_tail(server: ServerProcess, node_client: Path, ws: Path) -> None:
    (ws / "l.txt").write_bytes("zero\r\none\ntwo\nthrée".encode())
    assert NODE is not None
    result = subprocess.run([NODE, "-e", LINES, str(node_client / "fsgate.js"),
                             server.target, str(ws / "l.txt")], capture_output=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "window": ["one\n", "two\n"], "rest": ["thrée"], "tail": ["two\n", "thrée"],
        "all": ["zero\r\n", "one\n", "two\n", "thrée"], "zero": "RangeError"}

    cli_lines = node(server, node_client, "read", str(ws / "l.txt"), "--lines", "2:3")
    cli_tail = node(server, node_client, "read", str(ws / "l.txt"), "--tail", "1")
    assert (cli_lines.stdout, cli_tail.stdout) == (b"one\ntwo\n", "thrée".encode())
    assert node(server, node_client, "read", str(ws / "l.txt"), "--lines", "0:1"
                ).returncode == 2


def watch_lines(argv: list[str], env: dict[str, str] | None = None
                ) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                            env=env)


def next_line(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> dict[str, Any]:
    assert proc.stdout is not None
    if not select.select([proc.stdout], [], [], timeout)[0]:
        raise AssertionError("no line in time")
    line: dict[str, Any] = json.loads(proc.stdout.readline())
    return line


def test_node_and_python_watch_print_the_same_json_lines(server: ServerProcess,
                                                         node_client: Path, ws: Path) -> None:
    (ws / "old").mkdir()
    assert NODE is not None
    from_node = watch_lines([NODE, str(node_client / "cli.js"), "--target", server.target,
                             "watch", str(ws), "-r"])
    from_python = watch_lines([sys.executable, "-m", "fsgate_server", "watch", str(ws), "-r",
                               "--json", "--target", server.target], env=server_env())
    try:
        assert next_line(from_node) == next_line(from_python) == {
            "type": "started", "watched_directories": 2}
        changes: list[Callable[[], object]] = [lambda: (ws / "new.txt").write_text(""),
                   lambda: os.rename(ws / "old", ws / "renamed"),
                   lambda: (ws / "renamed" / "caf\u00e9").touch(),
                   lambda: os.unlink(ws / "new.txt")]
        for change in changes:  # one at a time: each reported before the next
            change()
            assert next_line(from_node) == next_line(from_python)
        for proc in (from_node, from_python):
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 130
            assert proc.stderr is not None and proc.stderr.read() == b""
    finally:
        for proc in (from_node, from_python):
            if proc.poll() is None:
                proc.kill()


WATCH = """
const fs = require('node:fs');
const fsgate = require(process.argv[1]);
const client = fsgate.connect(process.argv[2]);
const dir = process.argv[3];
(async () => {
  const watch = await client.watch(dir, { recursive: true, include: ['*.txt'] });
  const isAsyncIterable = typeof watch[Symbol.asyncIterator] === 'function';
  fs.writeFileSync(`${dir}/skipped.bin`, '');
  fs.writeFileSync(`${dir}/a.txt`, '');
  let first = null;
  for await (const event of watch) {
    first = event;
    break; // ends the call: the server kills the watch's helper
  }
  let failed = null;
  try {
    await client.watch(`${dir}/missing`);
  } catch (err) {
    failed = [err.codeName, err.reason];
  }
  client.close();
  console.log(JSON.stringify({ isAsyncIterable, count: watch.watched_directories, first,
    failed }));
})().catch((err) => { console.error(err); process.exitCode = 1; });
"""


def test_node_watch_is_async_iterable_and_breaking_out_cancels_it(
        server: ServerProcess, node_client: Path, ws: Path) -> None:
    assert NODE is not None
    result = subprocess.run([NODE, "-e", WATCH, str(node_client / "fsgate.js"),
                             server.target, str(ws)], capture_output=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "isAsyncIterable": True, "count": 1,
        "first": {"type": "created", "path": str(ws / "a.txt"), "old_path": None,
                  "is_dir": False},
        "failed": ["NOT_FOUND", "NOT_FOUND"],
    }
    wait_for(lambda: not confined_helpers(server))
