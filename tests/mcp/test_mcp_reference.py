"""Side by side with the reference MCP filesystem server itself (npm
``@modelcontextprotocol/server-filesystem``, installed by scripts/test.sh from
tests/mcp/node/package-lock.json), both over stdio on the same workspace: one scripted
session gives the same results on the success paths, and fsgate refuses every escape the
test plants (a symlink out, the prefix sibling ``ws2`` of ``ws``, ``..``)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters
from mcp.types import CallToolResult

from tests.helpers import snapshot
from tests.mcp.session import NODE_DIR, fsgate_mcp, over_stdio, run, text

REFERENCE = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "server-filesystem" / \
    "dist" / "index.js"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not REFERENCE.exists(),
    reason="node/npm missing, or tests/mcp/node not installed (scripts/test.sh runs npm ci)")

Call = tuple[str, dict[str, Any]]


def build(base: Path) -> Path:
    """base/ws (the workspace both serve), base/outside, base/ws2 (the prefix sibling)."""
    for name in ("ws", "outside", "ws2"):
        shutil.rmtree(base / name, ignore_errors=True)
        (base / name).mkdir()
    ws = base / "ws"
    (ws / "notes.txt").write_text("alpha\nbeta\ngamma\ndelta")
    (ws / "src" / "lib").mkdir(parents=True)
    (ws / "src" / "app.py").write_text("print('hi')\n")
    (ws / "src" / "lib" / "util.py").write_text("def util():\n    return 1\n")
    (ws / "docs").mkdir()
    (ws / "docs" / "readme.md").write_text("# readme\n")
    (ws / "empty").mkdir()
    (base / "outside" / "secret.txt").write_text("top secret\n")
    (base / "ws2" / "sibling.txt").write_text("sibling\n")
    return ws


def session(ws: Path) -> list[Call]:
    w = str(ws)
    return [
        ("list_allowed_directories", {}),
        ("read_text_file", {"path": f"{w}/notes.txt"}),
        ("read_text_file", {"path": f"{w}/notes.txt", "head": 2}),
        ("read_text_file", {"path": f"{w}/notes.txt", "tail": 2}),
        ("read_text_file", {"path": "notes.txt"}),  # relative: against the workspace
        ("read_multiple_files", {"paths": [f"{w}/notes.txt", f"{w}/src/app.py"]}),
        ("list_directory", {"path": w}),
        ("list_directory", {"path": f"{w}/src"}),
        ("list_directory_with_sizes", {"path": w}),
        ("list_directory_with_sizes", {"path": f"{w}/src", "sortBy": "size"}),
        ("directory_tree", {"path": w}),
        ("directory_tree", {"path": w, "excludePatterns": ["lib", "*.md"]}),
        ("get_file_info", {"path": f"{w}/notes.txt"}),
        ("get_file_info", {"path": f"{w}/src"}),
        ("search_files", {"path": w, "pattern": "*.txt"}),
        ("search_files", {"path": w, "pattern": "**/*.py"}),
        ("search_files", {"path": w, "pattern": "**/*.py", "excludePatterns": ["src/lib"]}),
        ("search_files", {"path": w, "pattern": "**/*.{md,txt}"}),
        ("search_files", {"path": w, "pattern": "src/**"}),
        ("search_files", {"path": w, "pattern": "*.none"}),
        ("edit_file", {"path": f"{w}/notes.txt", "dryRun": True,
                       "edits": [{"oldText": "beta", "newText": "BETA"}]}),
        ("edit_file", {"path": f"{w}/notes.txt",
                       "edits": [{"oldText": "beta", "newText": "BETA"},
                                 {"oldText": "delta", "newText": "DELTA"}]}),
        ("read_text_file", {"path": f"{w}/notes.txt"}),
        ("write_file", {"path": f"{w}/new.txt", "content": "fresh\ncontent\n"}),
        ("read_text_file", {"path": f"{w}/new.txt"}),
        ("create_directory", {"path": f"{w}/made/deep"}),
        ("create_directory", {"path": f"{w}/made/deep"}),
        ("move_file", {"source": f"{w}/new.txt", "destination": f"{w}/made/new.txt"}),
        ("list_directory", {"path": f"{w}/made"}),
        ("read_text_file", {"path": f"{w}/made/new.txt"}),
    ]


def plant(ws: Path) -> None:
    """After the session: links out (the sibling /ws2 and ``..`` need nothing planted)."""
    (ws / "link-out").symlink_to(ws.parent / "outside" / "secret.txt")
    (ws / "link-dir").symlink_to(ws.parent / "outside")


def escapes(ws: Path) -> list[Call]:
    w, base = str(ws), ws.parent
    return [
        ("read_text_file", {"path": f"{w}/link-out"}),
        ("read_text_file", {"path": f"{w}/link-dir/secret.txt"}),
        ("read_text_file", {"path": f"{base}/ws2/sibling.txt"}),
        ("read_text_file", {"path": f"{w}/../outside/secret.txt"}),
        ("read_text_file", {"path": "../outside/secret.txt"}),
        ("read_multiple_files", {"paths": [f"{w}/link-out", f"{base}/ws2/sibling.txt"]}),
        ("get_file_info", {"path": f"{w}/link-out"}),
        ("list_directory", {"path": f"{w}/link-dir"}),
        ("list_directory", {"path": f"{base}/ws2"}),
        ("directory_tree", {"path": f"{w}/link-dir"}),
        ("search_files", {"path": f"{w}/link-dir", "pattern": "**"}),
        ("search_files", {"path": f"{base}/ws2", "pattern": "*"}),
        ("write_file", {"path": f"{w}/link-dir/planted.txt", "content": "x"}),
        ("write_file", {"path": f"{base}/ws2/planted.txt", "content": "x"}),
        ("write_file", {"path": f"{w}/../outside/planted.txt", "content": "x"}),
        ("edit_file", {"path": f"{w}/link-out", "edits": [{"oldText": "top",
                                                           "newText": "x"}]}),
        ("create_directory", {"path": f"{base}/ws2/made"}),
        ("move_file", {"source": f"{w}/notes.txt", "destination": f"{base}/ws2/n.txt"}),
        ("move_file", {"source": f"{base}/ws2/sibling.txt", "destination": f"{w}/s.txt"}),
    ]


def _sorted_tree(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for node in nodes:
        if "children" in node:
            node["children"] = _sorted_tree(node["children"])
    return sorted(nodes, key=lambda n: n["name"])


def normal(name: str, answer: str) -> Any:
    """What must be equal: listings in any order (readdir order is the file system's),
    trees as JSON, the changed lines of a diff (the diff headers and context widths
    differ), the info keys both report."""
    if name in ("list_directory", "search_files"):
        return sorted(answer.splitlines())
    if name == "directory_tree":
        return _sorted_tree(json.loads(answer))
    if name == "edit_file":
        return [line for line in answer.splitlines() if line[:1] in "+-"
                and not line.startswith(("+++", "---"))]
    if name == "get_file_info":
        info = dict(line.split(": ", 1) for line in answer.splitlines())
        return {k: info[k] for k in ("size", "isDirectory", "isFile", "permissions")}
    return answer


def play(params: StdioServerParameters, calls: list[Call], ws: Path
         ) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    async def go() -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
        async with over_stdio(params) as client:
            done = []
            for name, args in calls:
                result = await client.call_tool(name, args)
                assert isinstance(result, CallToolResult)
                done.append((bool(result.is_error), text(result)))
            plant(ws)
            planted = []
            for name, args in escapes(ws):
                result = await client.call_tool(name, args)
                assert isinstance(result, CallToolResult)
                planted.append((bool(result.is_error), text(result)))
            return done, planted

    return run(go)


def test_same_results_as_the_reference_server_and_every_escape_refused(
        backend: str, tmp_path: Path) -> None:
    base = tmp_path.resolve()
    ws = build(base)
    reference, _ = play(StdioServerParameters(command="node", args=[str(REFERENCE), str(ws)]),
                        session(ws), ws)
    reference_tree = snapshot(ws)
    ws = build(base)
    ours, planted = play(fsgate_mcp("--root", str(ws), "--sandbox", backend), session(ws), ws)

    for (name, args), (ref_error, ref_text), (error, answer) in zip(
            session(ws), reference, ours, strict=True):
        assert not ref_error, (name, args, ref_text)
        assert not error, (name, args, answer)
        assert normal(name, answer) == normal(name, ref_text), (name, args)
    del reference_tree["link-out"], reference_tree["link-dir"]  # planted after the session
    after = snapshot(ws)
    del after["link-out"], after["link-dir"]
    assert after == reference_tree  # the same edits, writes, directories and moves

    for (name, args), (error, answer) in zip(escapes(ws), planted, strict=True):
        if name == "read_multiple_files":  # per-file errors in a successful answer
            assert answer.count(": Error - PERMISSION_DENIED/") == 2, answer
        else:
            assert error and answer.startswith("PERMISSION_DENIED/"), (name, args, answer)
        assert "top secret" not in answer and "sibling\n" not in answer
    assert snapshot(base / "outside") == {"secret.txt": snapshot(base / "outside")["secret.txt"]}
    assert sorted(p.name for p in (base / "ws2").iterdir()) == ["sibling.txt"]
    assert (base / "outside" / "secret.txt").read_text() == "top secret\n"
