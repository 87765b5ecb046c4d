"""The Node.js client's search (an async iterable with its summary) and glob, against a
real server: cli.js grep/glob print exactly what the Python CLI prints with --json, and
exit like it."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ..conftest import ServerProcess
from .test_node_client import (
    NODE,
    node,
    node_client,
    pytestmark,
    python_cli,
    server,
    ws,
)

__all__ = ["node_client", "pytestmark", "server", "ws"]  # fixtures and the skip, shared


def lines(result: subprocess.CompletedProcess[bytes]) -> list[object]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def tree(ws: Path) -> None:
    (ws / "a.py").write_text("one\nneedle here\nthree\n")
    (ws / "b.txt").write_text("Needle\n")
    (ws / ".hidden").write_text("needle\n")
    (ws / "sub").mkdir()
    (ws / "sub" / "c.py").write_text("needle\n")


def test_node_and_python_grep_print_the_same_json_and_exit_alike(
        server: ServerProcess, node_client: Path, ws: Path) -> None:
    tree(ws)
    for args in (["needle"], ["-i", "-C", "1", "needle"], ["-l", "needle", "--hidden"],
                 ["-F", "e.", "-g", "*.py"], ["--max-matches", "1", "needle"],
                 ["needle", "-g", "!sub/"], ["nowhere"]):
        from_node = node(server, node_client, "grep", *args[:1], str(ws), *args[1:])
        from_python = python_cli(server, "grep", *args[:1], str(ws), *args[1:], "--json")
        assert from_node.returncode == from_python.returncode, (args, from_node.stderr)
        assert lines(from_node) == lines(from_python), args
    assert node(server, node_client, "grep", "nowhere", str(ws)).returncode == 1


def test_node_grep_fails_invalid_pattern_with_exit_2(server: ServerProcess,
                                                     node_client: Path, ws: Path) -> None:
    result = node(server, node_client, "grep", "(", str(ws))
    assert result.returncode == 2
    error = json.loads(result.stderr)["error"]
    assert (error["codeName"], error["reason"]) == ("INVALID_ARGUMENT", "INVALID_PATTERN")


def test_node_and_python_glob_print_the_same_json(server: ServerProcess, node_client: Path,
                                                  ws: Path) -> None:
    tree(ws)
    for args in (["*.py"], ["**", "--hidden"], ["*", "--sort", "modified"],
                 ["*", "--exclude", "sub/", "--max-results", "1"]):
        from_node = node(server, node_client, "glob", args[0], str(ws), *args[1:])
        from_python = python_cli(server, "glob", args[0], str(ws), *args[1:], "--json")
        assert from_node.returncode == from_python.returncode == 0, from_node.stderr
        assert lines(from_node) == lines(from_python), args


def test_node_relative_paths_go_below_the_cwd(server: ServerProcess, node_client: Path,
                                              ws: Path) -> None:
    tree(ws)
    result = node(server, node_client, "grep", "-l", "needle", "--cwd", str(ws))
    assert [m["path"] for m in lines(result)[:-1]] == [  # type: ignore[index]  # JSON
        str(ws / "a.py"), str(ws / "sub" / "c.py")]


SEARCH = """
const fsgate = require(process.argv[1]);
const client = fsgate.connect(process.argv[2]);
(async () => {
  const result = client.search(process.argv[3], 'hit');
  const isAsyncIterable = typeof result[Symbol.asyncIterator] === 'function';
  const before = result.summary;
  let n = 0;
  for await (const m of result) n += 1;
  let first = null;
  for await (const m of client.search(process.argv[3], 'hit')) { first = m.line_number; break; }
  const globbed = await client.glob(process.argv[3], ['*.txt'], { maxResults: 1 });
  client.close();
  console.log(JSON.stringify({ isAsyncIterable, before, n, summary: result.summary, first,
    globbed: globbed.entries.map((e) => e.name), truncated: globbed.truncated }));
})().catch((err) => { console.error(err); process.exitCode = 1; });
"""


def test_node_search_is_an_async_iterable_with_its_summary_at_the_end(
        server: ServerProcess, node_client: Path, ws: Path) -> None:
    (ws / "f.txt").write_text("hit\n" * 700)  # several messages
    (ws / "g.txt").write_text("")
    assert NODE is not None
    result = subprocess.run([NODE, "-e", SEARCH, str(node_client / "fsgate.js"),
                             server.target, str(ws)], capture_output=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "isAsyncIterable": True, "before": None, "n": 700,
        "summary": {"files_searched": 2, "matches": 700, "truncated": False}, "first": 1,
        "globbed": ["f.txt"], "truncated": True}
