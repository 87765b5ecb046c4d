"""What a new user meets at start-up and in the log: roots that cannot be served and busy
ports are refused with exit 2 and one clear line; a read-write root holding the server's own
runtime is refused; refused and cancelled requests are logged for what they are."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import REPO, ServerProcess, server_env, start_server, wait_ready
from ..helpers import rpc_reason, snapshot
from .test_operations import log_events, scrape, wait_serving
from .test_shutdown import helpers_running, stalled_write, wait_for


def fsgate_serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", "serve", "--log-format", "json",
                           "--listen", f"unix:{cwd / 'never.sock'}", *args],
                          env=server_env(), cwd=cwd, capture_output=True, text=True, timeout=60)


# --- roots that cannot be served --------------------------------------------------------

def test_serve_with_a_missing_root_exits_2_naming_it(tmp_path: Path) -> None:
    result = fsgate_serve("--root", "./missing", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"fsgate serve: --root {tmp_path / 'missing'}: no such "
                                    "directory")
    assert "serving" not in result.stderr
    assert not (tmp_path / "missing").exists()


def test_serve_with_a_file_as_root_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# not a directory\n")
    result = fsgate_serve("--root", "./README.md", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"fsgate serve: --root {tmp_path / 'README.md'}: not a "
                                    "directory")
    assert "serving" not in result.stderr


# --- a writable root over the server's own runtime --------------------------------------

def test_serving_the_checkout_with_its_venv_read_write_is_refused(tmp_path: Path) -> None:
    """The checkout holds .venv and the source packages every helper runs: a client could
    rewrite them (Landlock cannot carve a read-only hole in a writable grant)."""
    result = fsgate_serve("--root", str(REPO), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert line.startswith(f"fsgate serve: --root {REPO}: this read-write root overlaps the "
                           "server's own runtime"), line
    assert str(REPO / "service") in line or str(REPO / ".venv") in line  # names the runtime
    assert f"--root {REPO}:ro" in line and "install fsgate outside" in line  # what to do
    assert len(result.stderr.strip().splitlines()) == 1  # nothing started before it


def test_serving_a_root_inside_the_runtime_read_write_is_refused(tmp_path: Path) -> None:
    result = fsgate_serve("--root", str(REPO / "service" / "fsgate_server"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "overlaps the server's own runtime" in result.stderr


def test_serving_the_checkout_read_only_starts_with_a_warning(tmp_path: Path,
                                                              backend: str) -> None:
    server = start_server(tmp_path, [f"{REPO}:ro"], backend)
    try:
        warnings = [e for e in log_events(server)
                    if e["event"] == "served_root_contains_runtime_roots"]
        assert warnings and warnings[0]["root"] == str(REPO)
    finally:
        assert server.stop() == 0


# --- listening ---------------------------------------------------------------------------

def test_busy_port_is_refused_first_and_alone(tmp_path: Path, backend: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "ws").mkdir()
        result = subprocess.run(
            [sys.executable, "-m", "fsgate_server", "serve", "--sandbox", backend,
             "--log-format", "json", "--root", str(tmp_path / "ws"),
             "--listen", f"127.0.0.1:{port}"],
            env=server_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"fsgate serve: --listen 127.0.0.1:{port}: cannot listen")
    assert len(lines) == 1, lines  # no add_port.cc line, no fork server started before it
    assert "add_port" not in result.stderr and "forkserver" not in result.stderr


def test_serving_log_shows_a_unix_socket_by_its_path(served: ServerProcess) -> None:
    (line,) = [e for e in log_events(served) if e["event"] == "serving"]
    assert line["listen"] == [served.target]
    assert "ports" not in line  # a Unix socket has no port ("port 1" said gRPC)


def test_sigterm_to_the_process_group_logs_shutting_down_once(tmp_path: Path,
                                                              backend: str) -> None:
    (tmp_path / "ws").mkdir()
    sock, log_path = tmp_path / "s.sock", tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fsgate_server", "serve", "--sandbox", backend,
             "--log-format", "json", "--root", str(tmp_path / "ws"), "--listen", f"unix:{sock}"],
            env=server_env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own group: killpg reaches every process it started
    server = ServerProcess(proc, f"unix:{sock}", tmp_path / "ws", backend, log_path)
    try:
        wait_ready(server)
        wait_serving(server.target)
        os.killpg(proc.pid, signal.SIGTERM)
        os.killpg(proc.pid, signal.SIGINT)  # a second signal (Ctrl-C after a kill) too
        assert proc.wait(timeout=30) == 0, server.log()
    finally:
        server.stop()
    events = [e["event"] for e in log_events(server)]
    assert events.count("shutting_down") == 1, events
    assert events[-1] == "stopped"


# --- the request log -------------------------------------------------------------------

def test_request_refused_by_the_policy_is_logged_with_its_path(served: ServerProcess) -> None:
    outside = str(served.root.parent / "outside" / "secret.txt")
    with grpc.insecure_channel(served.target) as channel, \
            pytest.raises(grpc.RpcError) as err:
        fsgate_pb2_grpc.FileSystemServiceStub(channel).Stat(
            pb.StatRequest(path=outside), metadata=(("x-request-id", "refused-path-1"),))
    assert rpc_reason(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY")
    wait_for(lambda: any(e.get("request_id") == "refused-path-1" for e in log_events(served)),
             "the request line")
    (line,) = [e for e in log_events(served) if e.get("request_id") == "refused-path-1"]
    assert line["code"] == "PERMISSION_DENIED" and line["reason"] == "OUTSIDE_POLICY"
    assert line["path"] == outside


def test_refused_request_with_a_long_path_logs_it_shortened(served: ServerProcess) -> None:
    long = str(served.root.parent / "outside") + ("/" + "q" * 250) * 15
    with grpc.insecure_channel(served.target) as channel, pytest.raises(grpc.RpcError):
        fsgate_pb2_grpc.FileSystemServiceStub(channel).Stat(
            pb.StatRequest(path=long), metadata=(("x-request-id", "refused-long-1"),))
    wait_for(lambda: any(e.get("request_id") == "refused-long-1" for e in log_events(served)),
             "the request line")
    (line,) = [e for e in log_events(served) if e.get("request_id") == "refused-long-1"]
    assert line["reason"] == "OUTSIDE_POLICY"
    assert len(line["path"].encode()) <= 512 and line["path"].startswith(long[:100])


def test_write_cancelled_by_the_client_mid_stream_is_logged_and_counted_as_cancelled(
        tmp_path: Path, backend: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "target").write_bytes(b"original\n")
    server = start_server(tmp_path, [str(root)], backend, "--metrics-listen", "127.0.0.1:0")
    try:
        wait_serving(server.target)
        before = snapshot(root)
        sent, release = threading.Event(), threading.Event()
        with grpc.insecure_channel(server.target) as channel:
            write = fsgate_pb2_grpc.FileSystemServiceStub(channel).WriteFile.future(
                stalled_write(str(root / "target"), sent, release), timeout=60,
                metadata=(("x-request-id", "cancelled-write-1"),))
            assert sent.wait(20)
            wait_for(lambda: helpers_running(server) == 1, "the write's helper")
            write.cancel()
            release.set()
            wait_for(lambda: any(e.get("request_id") == "cancelled-write-1"
                                 for e in log_events(server)), "the request line")
        (line,) = [e for e in log_events(server) if e.get("request_id") == "cancelled-write-1"]
        assert line["method"] == "WriteFile" and line["code"] == "CANCELLED", line
        assert line["reason"] == ""
        assert "internal_error" not in [e["event"] for e in log_events(server)]
        assert "Traceback" not in server.log()
        metrics = scrape(server)
        counted = {labels: v for (name, labels), v in metrics.items()
                   if name == "fsgate_requests_total" and ("method", "WriteFile") in labels}
        assert counted == {(("code", "CANCELLED"), ("method", "WriteFile"), ("reason", "")):
                           1.0}, counted
        assert snapshot(root) == before
    finally:
        server.stop()


def test_write_cancelled_by_shutdown_is_logged_as_cancelled_without_a_traceback(
        tmp_path: Path, backend: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "target").write_bytes(b"original\n")
    server = start_server(tmp_path, [str(root)], backend, "--shutdown-grace", "0.5",
                          "--metrics-listen", "127.0.0.1:0")
    sent, release = threading.Event(), threading.Event()
    try:
        wait_serving(server.target)
        before = snapshot(root)
        with grpc.insecure_channel(server.target) as channel:
            write = fsgate_pb2_grpc.FileSystemServiceStub(channel).WriteFile.future(
                stalled_write(str(root / "target"), sent, release), timeout=60,
                metadata=(("x-request-id", "shutdown-write-1"),))
            assert sent.wait(20)
            wait_for(lambda: helpers_running(server) == 1, "the write's helper")
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(timeout=30) == 0, server.log()
            with pytest.raises(grpc.RpcError):
                write.result(timeout=30)
    finally:
        release.set()
        server.stop()
    (line,) = [e for e in log_events(server) if e.get("request_id") == "shutdown-write-1"]
    # cancelled by gRPC at the end of the grace, or refused by the server just before
    assert (line["code"], line["reason"]) in {("CANCELLED", ""),
                                              ("UNAVAILABLE", "SHUTTING_DOWN")}, line
    assert "Traceback" not in server.log() and "internal_error" not in server.log()
    assert snapshot(root) == before
