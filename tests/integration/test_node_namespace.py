"""The Node.js client's makeDir, remove and serverInfo (and cli.js mkdir, rm, info) against
a real server: the JSON is the Python CLI's --json, errors carry the code and reason."""
from __future__ import annotations

import json
import os
from pathlib import Path

from fsgate import Client

from ..conftest import ServerProcess
from ..helpers import snapshot
from .test_node_client import (  # noqa: F401  # node_client, server, ws: fixtures
    error_of,
    node,
    node_client,
    pytestmark,
    python_cli,
    server,
    ws,
)


# The fixtures are test_node_client's, imported above: the parameters name them (F811).
def test_node_mkdir_rm_and_info_print_what_the_python_cli_prints(
        server: ServerProcess, node_client: Path, ws: Path) -> None:  # noqa: F811
    made = node(server, node_client, "mkdir", "-p", "--mode", "750", str(ws / "a" / "b"))
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert (info["type"], info["mode"]) == ("directory", "0750")
    again_node = node(server, node_client, "mkdir", "-p", str(ws / "a" / "b"))
    again_python = python_cli(server, "mkdir", "-p", "--json", str(ws / "a" / "b"))
    assert json.loads(again_node.stdout) == json.loads(again_python.stdout) == info

    (ws / "a" / "b" / "f").write_bytes(b"x")
    (ws / "c").mkdir()
    (ws / "c" / "g").write_bytes(b"y")
    node_rm = node(server, node_client, "rm", "-r", str(ws / "a"))
    python_rm = python_cli(server, "rm", "-r", "--json", str(ws / "c"))
    assert json.loads(node_rm.stdout) == {"removed": 3}  # a, b, f
    assert json.loads(python_rm.stdout) == {"removed": 2}
    gone = node(server, node_client, "rm", "-f", str(ws / "a"))
    assert (gone.returncode, json.loads(gone.stdout)) == (0, {"removed": 0})
    assert os.listdir(ws) == []

    node_info = node(server, node_client, "info")
    python_info = python_cli(server, "info", "--json")
    assert node_info.returncode == python_info.returncode == 0, node_info.stderr
    assert json.loads(node_info.stdout) == json.loads(python_info.stdout)
    with Client(server.target) as client:
        assert json.loads(node_info.stdout)["version"] == client.server_info().version


def test_node_namespace_errors_carry_the_code_and_reason(
        server: ServerProcess, node_client: Path, ws: Path) -> None:  # noqa: F811
    (ws / "d").mkdir()
    (ws / "d" / "f").write_bytes(b"x")
    before = snapshot(server.root.parent)
    for args, code, name, reason in (
            (("rm", str(ws / "d")), 1, "FAILED_PRECONDITION", "NOT_EMPTY"),
            (("mkdir", str(ws / "d")), 5, "ALREADY_EXISTS", "ALREADY_EXISTS"),
            (("rm", "-r", str(server.root)), 4, "PERMISSION_DENIED", "PROTECTED_PATH"),
            (("rm", str(ws / "missing")), 3, "NOT_FOUND", "NOT_FOUND"),
            (("mkdir", "--mode", "4755", str(ws / "m")), 2, "INVALID_ARGUMENT",
             "INVALID_REQUEST")):
        result = node(server, node_client, *args)
        assert result.returncode == code and result.stdout == b"", (args, result.stderr)
        assert (error_of(result)["codeName"], error_of(result)["reason"]) == (name, reason)
    assert snapshot(server.root.parent) == before
