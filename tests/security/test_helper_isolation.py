"""What a live helper is, seen from outside: no server secrets in its environment, no new
privileges, a seccomp filter, no network; and, confined exactly as the server confines a
request, no TCP or UDP socket."""
from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from fsgate_server.config import Config
from fsgate_server.helper.messages import WriteArgs
from fsgate_server.helper.settings import confinement_for
from fsgate_server.policy import Root, effective_policy
from fsgate_server.sandbox.confine import confine

from ..conftest import ServerProcess, start_server
from ..integration.test_faults import confined_helpers, wait_for

SECRET = "hunter2-do-not-leak"


def stalled_write(path: str, started: threading.Event, release: threading.Event
                  ) -> Iterator[pb.WriteFileRequest]:
    yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
    yield pb.WriteFileRequest(data=b"x")
    started.set()
    release.wait(30)


@pytest.fixture
def live_helper(tmp_path: Path, backend: str) -> Iterator[tuple[ServerProcess, int]]:
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(tmp_path, [str(root)], backend,
                          env={"FSGATE_TEST_SECRET": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET})
    channel = grpc.insecure_channel(server.target)
    started, release = threading.Event(), threading.Event()
    fut = fsgate_pb2_grpc.FileSystemServiceStub(channel).WriteFile.future(
        stalled_write(str(root / "f"), started, release))
    try:
        assert started.wait(20)
        wait_for(lambda: confined_helpers(server))
        yield server, confined_helpers(server)[0]
    finally:
        release.set()
        fut.cancel()
        channel.close()
        server.stop()


def test_helper_cannot_see_the_servers_secrets_in_its_environment(
        live_helper: tuple[ServerProcess, int]) -> None:
    server, pid = live_helper
    with open(f"/proc/{server.proc.pid}/environ", "rb") as fh:
        assert SECRET.encode() in fh.read()  # the server has it ...
    with open(f"/proc/{pid}/environ", "rb") as fh:
        helper_env = fh.read()
    assert SECRET.encode() not in helper_env  # ... its helper does not
    names = {item.split(b"=", 1)[0] for item in helper_env.split(b"\0") if item}
    assert names <= {b"PATH", b"TMPDIR", b"TMP", b"TEMP", b"LANG", b"LANGUAGE",
                     b"PYTHONPATH", b"PYTHONDONTWRITEBYTECODE", b"PWD"} | {
        n for n in names if n.startswith(b"LC_")}


def test_helper_runs_with_no_new_privs_and_a_seccomp_filter(
        live_helper: tuple[ServerProcess, int]) -> None:
    _, pid = live_helper
    with open(f"/proc/{pid}/status") as fh:
        status = fh.read()
    assert "NoNewPrivs:\t1" in status
    assert "Seccomp:\t2" in status


def test_helper_has_no_inherited_descriptors_but_its_channel(
        live_helper: tuple[ServerProcess, int]) -> None:
    _, pid = live_helper
    fds = {int(fd): os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    sockets = [t for t in fds.values() if t.startswith("socket:")]
    assert len(sockets) == 1, fds  # its one channel to the server
    assert not [t for fd, t in fds.items() if fd > 2 and t.endswith(".sock")]


def test_bwrap_helper_lives_in_its_own_network_namespace(
        live_helper: tuple[ServerProcess, int], backend: str) -> None:
    server, pid = live_helper
    if backend != "bwrap":
        pytest.skip("only bwrap gives the helper a network namespace; Landlock and seccomp "
                    "refuse sockets instead (see the next test)")
    assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink(f"/proc/{server.proc.pid}/ns/net")


def test_helper_confined_like_a_request_cannot_open_tcp_or_udp_sockets(tmp_path: Path) -> None:
    from fsgate_server.runtime_roots import runtime_roots
    from fsgate_server.transport.server import helper_settings

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    roots = (Root(str(tmp_path), True),)
    cfg = Config(roots=roots)
    settings = helper_settings(cfg)
    assert settings.runtime_roots == runtime_roots()
    req = WriteArgs(str(tmp_path / "f"), effective_policy(roots, None), max_bytes=0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            confine(confinement_for(req, settings, (write_end,)))
            results = []
            for family, kind in ((socket.AF_INET, socket.SOCK_STREAM),
                                 (socket.AF_INET, socket.SOCK_DGRAM),
                                 (socket.AF_INET6, socket.SOCK_STREAM)):
                try:
                    s = socket.socket(family, kind)
                    s.connect(("127.0.0.1", port))
                    results.append("connected")
                except OSError as exc:
                    results.append(str(exc.errno))
            os.write(write_end, ",".join(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    out = os.read(read_end, 1024).decode()
    os.waitpid(pid, 0)
    listener.close()
    assert out.split(",") == [str(errno.EPERM)] * 3, out
