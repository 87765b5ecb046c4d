"""A real third-party MCP client nobody here wrote: the MCP Inspector CLI (npm
``@modelcontextprotocol/inspector``, ``--cli``; installed by scripts/test.sh from
tests/mcp/node/package-lock.json) lists the tools and calls read_text_file and edit_file
through ``fsgate mcp``, over stdio, on both backends."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SRC_PATH, server_env
from tests.helpers import snapshot
from tests.mcp.session import NODE_BIN
from tests.mcp.test_mcp_stdio import _private_dirs

INSPECTOR = NODE_BIN / "mcp-inspector"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not INSPECTOR.exists(),
    reason="node/npm missing, or tests/mcp/node not installed (scripts/test.sh runs npm ci)")


def inspector(root: Path, backend: str, *args: str) -> tuple[int, Any, str]:
    fsgate = [sys.executable, "-c", "import sys; from fsgate._main import main; "
              "sys.exit(main())", "mcp", "--root", str(root), "--sandbox", backend]
    result = subprocess.run([str(INSPECTOR), "--cli", *fsgate, *args], capture_output=True,
                            text=True, timeout=180, env=server_env({"PYTHONPATH": SRC_PATH}),
                            stdin=subprocess.DEVNULL)
    try:
        answer = json.loads(result.stdout)
    except json.JSONDecodeError:
        answer = None
    return result.returncode, answer, result.stderr


def test_inspector_lists_the_tools(backend: str, tmp_path: Path) -> None:
    code, answer, err = inspector(tmp_path, backend, "--method", "tools/list")
    assert code == 0, err
    names = {tool["name"] for tool in answer["tools"]}
    assert {"read_text_file", "edit_file", "write_file", "list_directory", "directory_tree",
            "move_file", "get_file_info", "list_allowed_directories", "remove",
            "copy_file", "search_files", "grep"} <= names
    edit = next(t for t in answer["tools"] if t["name"] == "edit_file")
    assert edit["annotations"]["destructiveHint"] is True
    assert set(edit["inputSchema"]["properties"]) == {"path", "edits", "dryRun"}


def test_inspector_reads_and_edits(backend: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("alpha\nbeta\n")
    before = _private_dirs()
    code, answer, err = inspector(tmp_path, backend, "--method", "tools/call",
                                  "--tool-name", "read_text_file",
                                  "--tool-arg", f"path={tmp_path}/notes.txt", "--tool-arg",
                                  "head=1")
    assert code == 0, err
    assert answer["isError"] is False and answer["content"][0]["text"] == "alpha", answer
    code, answer, err = inspector(
        tmp_path, backend, "--method", "tools/call", "--tool-name", "edit_file",
        "--tool-arg", f"path={tmp_path}/notes.txt",
        "--tool-arg", 'edits=[{"oldText": "beta", "newText": "gamma"}]')
    assert code == 0, err
    assert answer["isError"] is False, answer
    assert "-beta\n+gamma\n" in answer["content"][0]["text"]
    assert (tmp_path / "notes.txt").read_text() == "alpha\ngamma\n"
    assert _private_dirs() - before == set()  # every private server was stopped


def test_inspector_sees_a_no_match_edit_as_a_tool_error(backend: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("alpha\n")
    (tmp_path / "link").symlink_to("/etc/passwd")
    before = snapshot(tmp_path)
    _, answer, err = inspector(
        tmp_path, backend, "--method", "tools/call", "--tool-name", "edit_file",
        "--tool-arg", f"path={tmp_path}/notes.txt",
        "--tool-arg", 'edits=[{"oldText": "absent", "newText": "x"}]')
    assert answer is not None, err
    assert answer["isError"] is True
    assert answer["content"][0]["text"].startswith("FAILED_PRECONDITION/NO_MATCH: ")
    _, answer, err = inspector(tmp_path, backend, "--method", "tools/call",
                                  "--tool-name", "read_text_file",
                                  "--tool-arg", f"path={tmp_path}/link")
    assert answer is not None, err
    assert answer["isError"] is True and "root:" not in json.dumps(answer)
    assert answer["content"][0]["text"].startswith("PERMISSION_DENIED/")
    assert snapshot(tmp_path) == before
