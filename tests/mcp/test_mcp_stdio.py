"""``fsgate mcp`` as a process: the SDK's client over stdio (--target and --root), the
private server's lifetime, and streamable HTTP with its loopback and token rules."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from mcp import Client

from tests.conftest import SRC_PATH, ServerProcess, server_env
from tests.mcp import scenario
from tests.mcp.session import fsgate_mcp, ok, over_stdio, run


def test_every_tool_over_stdio_with_target(served: ServerProcess, ws: Path) -> None:
    async def go() -> None:
        async with over_stdio(fsgate_mcp("--target", served.target)) as client:
            await scenario.lists_tools(client)
            await scenario.every_tool_succeeds(client, ws / "ok")
            await scenario.every_failure_is_refused(client, ws / "bad", served.root.parent)

    (ws / "ok").mkdir()
    (ws / "bad").mkdir()
    run(go)


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _private_dirs() -> set[str]:
    return {p.name for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("fsgate-mcp-*")}


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import sys; from fsgate._main import main; "
                             "sys.exit(main())", "mcp", *args],
                            env=server_env({"PYTHONPATH": SRC_PATH}), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=open(tmp_path / "mcp.log", "wb"))


def _wait_for_child(proc: subprocess.Popen[bytes], tmp_path: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "mcp.log").read_text()
        kids = _children(proc.pid)
        if kids and any(Path(f"/proc/{k}/cmdline").read_bytes().find(b"fsgate_server") > 0
                        for k in kids):
            return kids[0]
        time.sleep(0.1)
    raise AssertionError("no private server started")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_root_starts_a_private_server_over_stdio_and_stops_it(backend: str,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "hello.txt").write_text("hi\n")
    before = _private_dirs()

    async def go() -> None:
        params = fsgate_mcp("--root", str(root), "--root", f"{tmp_path}/ro:ro",
                            "--sandbox", backend)
        async with over_stdio(params) as client:
            assert await ok(client, "read_text_file", path="hello.txt") == "hi\n"
            allowed = await ok(client, "list_allowed_directories")
            assert allowed.splitlines()[1:] == sorted([str(tmp_path / "ro"), str(root)])
            assert (await client.call_tool("write_file", {
                "path": f"{tmp_path}/ro/x", "content": "x"})).is_error
            assert len(_private_dirs() - before) == 1
            directory = Path(os.environ.get("TMPDIR", "/tmp")) / (_private_dirs() - before).pop()
            assert directory.stat().st_mode & 0o777 == 0o700

    (tmp_path / "ro").mkdir()
    run(go)
    assert _private_dirs() - before == set()  # removed on exit


@pytest.mark.parametrize("how", ["SIGTERM", "stdin closed", "SIGKILL"])
def test_private_server_never_outlives_fsgate_mcp(backend: str, tmp_path: Path,
                                                  how: str) -> None:
    (tmp_path / "ws").mkdir()
    proc = _start(tmp_path, "--root", str(tmp_path / "ws"), "--sandbox", backend)
    server = _wait_for_child(proc, tmp_path)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    elif how == "SIGKILL":
        proc.kill()  # no cleanup runs: PR_SET_PDEATHSIG stops the server
    else:
        assert proc.stdin is not None
        proc.stdin.close()
    proc.wait(timeout=30)
    assert _gone(server), f"private server {server} outlived fsgate mcp ({how})"
    if how != "SIGKILL":
        assert proc.returncode in (0, 130), (tmp_path / "mcp.log").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_http(url: str, proc: subprocess.Popen[bytes], tmp_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "mcp.log").read_text()
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("HTTP not up")


def test_streamable_http_on_loopback(served: ServerProcess, ws: Path, tmp_path: Path) -> None:
    (ws / "h.txt").write_text("over http\n")
    port = _free_port()
    proc = _start(tmp_path, "--target", served.target, "--http", f"127.0.0.1:{port}")
    try:
        _wait_http(f"http://127.0.0.1:{port}/mcp", proc, tmp_path)

        async def go() -> None:
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                await scenario.lists_tools(client)
                assert await ok(client, "read_text_file", path=str(ws / "h.txt")) \
                    == "over http\n"

        run(go)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_http_with_a_token_refuses_a_request_without_it(served: ServerProcess,
                                                        tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# MCP clients\ns3cret-token\n")
    port = _free_port()
    proc = _start(tmp_path, "--target", served.target, "--http", f"127.0.0.1:{port}",
                  "--auth-token-file", str(tokens))
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        _wait_http(url, proc, tmp_path)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"accept": "application/json, text/event-stream"}
        for wrong in ({}, {"authorization": "Bearer nope"}, {"authorization": "s3cret-token"}):
            response = httpx.post(url, json=body, headers={**headers, **wrong}, timeout=10)
            assert response.status_code == 401, wrong
            assert response.json()["error"] == "UNAUTHENTICATED"

        async def go() -> None:
            http = httpx.AsyncClient(headers={"authorization": "Bearer s3cret-token"})
            from mcp.client.streamable_http import streamable_http_client

            async with http, Client(streamable_http_client(url, http_client=http)) as client:
                await scenario.lists_tools(client)

        run(go)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--http", "0.0.0.0:8808"], "refusing a non-loopback address without --auth-token-file"),
    (["--http", "192.0.2.1:8808"], "refusing a non-loopback address"),
    (["--http", "nonsense"], "must be HOST:PORT"),
    (["--sandbox", "bwrap"], "need --root"),
    (["--tls-cert", "c.pem", "--http", "127.0.0.1:1"], "give both or neither"),
])
def test_bad_options_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-c", "import sys; from fsgate._main import main; "
                             "sys.exit(main())", "mcp", *args],
                            env=server_env({"PYTHONPATH": SRC_PATH}), capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.startswith("fsgate mcp: ")
    assert result.stdout == ""


def _blocked(blocked: tuple[str, ...], *argv: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None\n"
            "from fsgate._main import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL,
                          env=server_env({"PYTHONPATH": SRC_PATH}))


@pytest.mark.parametrize("module, args", [
    ("mcp", []), ("pydantic", []), ("starlette", []), ("uvicorn", ["--http", "127.0.0.1:1"])])
def test_without_the_mcp_extra_it_says_what_to_install(module: str, args: list[str]) -> None:
    result = _blocked((module,), "mcp", "--target", "unix:/nonexistent", *args)
    assert result.returncode == 2, result.stderr
    assert "pip install 'fsgate[mcp]'" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_root_without_the_server_package_says_what_to_install(tmp_path: Path) -> None:
    result = _blocked(("fsgate_server",), "mcp", "--root", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "pip install 'fsgate[mcp,server]'" in result.stderr
    assert result.stdout == ""
