"""The computed runtime roots are needed and sufficient, in the alias case that broke Codex.

The server runs from a venv whose ``bin/python`` is a symlink into another directory, with
``--sandbox bwrap``, so the helper's namespace holds nothing but what the runtime roots
name. With every root the helper serves requests; with the alias directory or the real
interpreter directory left out (injected by the test-only launcher
leave_out_runtime_root.py through the executor's ``leave_out_runtime_roots`` seam: the
product reads no test setting), the helper cannot even be exec'd, and the server
answers INTERNAL/HELPER_FAILED at once, with bwrap's stderr in its log -- it never hangs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate_server.runtime_roots import RuntimeFacts

from ..conftest import SRC_PATH, ServerProcess, backend_skip_reason, start_server

_SKIP = backend_skip_reason("bwrap")
pytestmark = pytest.mark.skipif(_SKIP is not None, reason=_SKIP or "")

LAUNCHER = Path(__file__).with_name("leave_out_runtime_root.py")
FAIL_FAST_S = 15.0  # far below the helper timeout (300 s): a hang would blow through it


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("alias") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(path)], check=True)
    return path


def alias_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def real_dir_of(venv: Path) -> str:
    return os.path.dirname(os.path.realpath(alias_of(venv)))


def server_pythonpath() -> str:
    # This checkout, plus wherever this interpreter found grpc & co. (a venv created from
    # a venv only sees the base interpreter's site-packages).
    dirs = [*SRC_PATH.split(os.pathsep), *RuntimeFacts.gather().package_dirs]
    return os.pathsep.join(dict.fromkeys(dirs))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_bytes(b"hello from the workspace\n")
    return ws


def serve_from_venv(tmp_path: Path, venv: Path, ws: Path, drop: str | None = None
                    ) -> ServerProcess:
    env = {"PYTHONPATH": server_pythonpath()}
    entry = ("-m", "fsgate_server") if drop is None else (str(LAUNCHER), drop)
    return start_server(tmp_path, [str(ws)], "bwrap", env=env, python=str(alias_of(venv)),
                        entry=entry)


@pytest.fixture
def stop_after() -> Iterator[list[ServerProcess]]:
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:
        server.stop()


def log_events(server: ServerProcess, event: str) -> list[dict[str, object]]:
    out = []
    for line in server.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            out.append(record)
    return out


def test_venv_python_is_an_alias_into_another_directory(venv: Path) -> None:
    assert alias_of(venv).is_symlink()
    assert real_dir_of(venv) != str(venv / "bin")


def test_helper_exec_d_through_a_venv_alias_serves_stat_and_read(
        tmp_path: Path, venv: Path, workspace: Path, stop_after: list[ServerProcess]) -> None:
    server = serve_from_venv(tmp_path, venv, workspace)
    stop_after.append(server)
    target = workspace / "hello.txt"
    with fsgate.Client(server.target) as client:
        info = client.stat(str(target))
        data = client.read_file(str(target))
    assert info.size == len(data)
    assert data == b"hello from the workspace\n"
    served = log_events(server, "serving")
    assert served and served[0]["backend"] == "bwrap"
    roots = served[0]["runtime_roots"]
    assert isinstance(roots, list)
    assert str(venv / "bin") in roots and real_dir_of(venv) in roots


@pytest.mark.parametrize("left_out", ["alias directory", "real interpreter directory"])
def test_a_runtime_root_left_out_fails_the_helper_with_helper_failed_not_a_hang(
        tmp_path: Path, venv: Path, workspace: Path, stop_after: list[ServerProcess],
        left_out: str) -> None:
    drop = str(venv / "bin") if left_out == "alias directory" else real_dir_of(venv)
    server = serve_from_venv(tmp_path, venv, workspace, drop=drop)
    stop_after.append(server)
    target = str(workspace / "hello.txt")
    began = time.monotonic()
    with fsgate.Client(server.target) as client:
        with pytest.raises(fsgate.HelperFailed) as failed:
            client.stat(target, timeout=60)
        assert time.monotonic() - began < FAIL_FAST_S
        assert failed.value.code == grpc.StatusCode.INTERNAL
        assert failed.value.reason == fsgate.Reason.HELPER_FAILED
        with pytest.raises(fsgate.HelperFailed):  # and the server keeps serving
            client.read_file(target, timeout=60)
    assert server.proc.poll() is None
    failures = log_events(server, "helper_failed")
    assert failures, server.log()
    stderr = str(failures[0].get("stderr", ""))
    assert "execvp" in stderr and "No such file or directory" in stderr, failures[0]
    assert log_events(server, "runtime_root_dropped_for_test")[0]["matched"] is True
