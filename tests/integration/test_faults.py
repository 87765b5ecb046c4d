"""Limits, deadlines and fault injection: whatever goes wrong mid-request, the target stays
byte-identical, no temporary remains, and the server keeps serving."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from bench.soak_tree import children, descendants  # bench/ is a top-level package
from bench.soak_tree import confined_helpers as confined_helpers_of

from ..conftest import ServerProcess, start_server
from ..helpers import rpc_reason, snapshot


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    d.mkdir()
    (d / "target").write_bytes(b"original content")
    return d


def stub_for(server: ServerProcess) -> tuple[grpc.Channel, fsgate_pb2_grpc.FileSystemServiceStub]:
    channel = grpc.insecure_channel(server.target)
    return channel, fsgate_pb2_grpc.FileSystemServiceStub(channel)


def stalled_write(path: str, started: threading.Event, release: threading.Event
                  ) -> Iterator[pb.WriteFileRequest]:
    yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
    yield pb.WriteFileRequest(data=b"half of the new content")
    started.set()
    release.wait(30)
    yield pb.WriteFileRequest(data=b" and the rest")


def confined_helpers(server: ServerProcess) -> list[int]:
    """Helpers that have received a request (named so; idle ones are not yet)."""
    return confined_helpers_of(server.proc.pid)


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def no_temporaries(d: Path) -> bool:
    return not any(n.startswith(".fsgate-tmp-") for _, _, names in os.walk(d) for n in names)


def test_helper_timeout_kills_a_stalled_write_and_changes_nothing(
        tmp_path: Path, root: Path, backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend, "--helper-timeout", "1")
    channel, stub = stub_for(server)
    before = snapshot(root)
    started, release = threading.Event(), threading.Event()
    try:
        with pytest.raises(grpc.RpcError) as err:
            stub.WriteFile(stalled_write(str(root / "target"), started, release), timeout=20)
        release.set()
        assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        assert snapshot(root) == before
        wait_for(lambda: not confined_helpers(server))  # the helper was killed
        assert stub.Stat(pb.StatRequest(path=str(root / "target"))).info.size == 16
    finally:
        release.set()
        channel.close()
        server.stop()


def test_too_many_concurrent_requests_get_busy(tmp_path: Path, root: Path,
                                               backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend, "--max-concurrent-helpers", "1",
                          "--queue-timeout", "0.2")
    channel, stub = stub_for(server)
    started, release = threading.Event(), threading.Event()
    holder = stub.WriteFile.future(stalled_write(str(root / "target"), started, release))
    try:
        assert started.wait(10)
        wait_for(lambda: confined_helpers(server))
        with pytest.raises(grpc.RpcError) as err:
            stub.Stat(pb.StatRequest(path=str(root / "target")))
        assert rpc_reason(err.value) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "BUSY")
        release.set()
        holder.result(timeout=20)
        assert (root / "target").read_bytes() == b"half of the new content and the rest"
    finally:
        release.set()
        channel.close()
        server.stop()


def test_read_over_max_read_bytes_is_too_large(tmp_path: Path, root: Path,
                                               backend: str) -> None:
    (root / "big").write_bytes(b"x" * 5000)
    server = start_server(tmp_path, [str(root)], backend, "--max-read-bytes", "4096")
    try:
        with fsgate.Client(server.target) as c:
            with pytest.raises(fsgate.TooLarge) as err:
                c.read_file(str(root / "big"))
            assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
            with pytest.raises(fsgate.TooLarge):
                c.read_file(str(root / "big"), length=5000)
            assert c.read_file(str(root / "big"), length=4096) == b"x" * 4096
    finally:
        server.stop()


def test_helper_killed_mid_write_leaves_target_and_server_intact(
        tmp_path: Path, root: Path, backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend)
    channel, stub = stub_for(server)
    before = snapshot(root)
    started, release = threading.Event(), threading.Event()
    fut = stub.WriteFile.future(stalled_write(str(root / "target"), started, release))
    try:
        assert started.wait(10)
        wait_for(lambda: confined_helpers(server))
        for pid in confined_helpers(server):
            os.kill(pid, signal.SIGKILL)
        release.set()
        with pytest.raises(grpc.RpcError) as err:
            fut.result(timeout=20)
        assert rpc_reason(err.value) == (grpc.StatusCode.INTERNAL, "HELPER_FAILED")
        assert snapshot(root) == before
        assert no_temporaries(root)
        assert stub.Stat(pb.StatRequest(path=str(root / "target"))).info.size == 16
    finally:
        release.set()
        channel.close()
        server.stop()


def test_server_killed_mid_write_leaves_target_and_no_helper(tmp_path: Path, root: Path,
                                                             backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend)
    channel, stub = stub_for(server)
    before = snapshot(root)
    started, release = threading.Event(), threading.Event()
    fut = stub.WriteFile.future(stalled_write(str(root / "target"), started, release))
    try:
        assert started.wait(10)
        wait_for(lambda: confined_helpers(server))
        helpers = confined_helpers(server)
        forkservers = descendants(server.proc.pid)
        server.proc.kill()
        server.proc.wait()
        release.set()
        with pytest.raises(grpc.RpcError):
            fut.result(timeout=20)
        wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in helpers + forkservers))
        assert snapshot(root) == before
        assert no_temporaries(root)
    finally:
        release.set()
        channel.close()
        server.stop()


def test_stale_temporaries_are_removed_at_startup(tmp_path: Path, root: Path,
                                                  backend: str) -> None:
    (root / "deep" / "er").mkdir(parents=True)
    stale = [root / ".fsgate-tmp-0123456789abcdef", root / "deep" / "er" /
             ".fsgate-tmp-fedcba9876543210"]
    for p in stale:  # what a killed helper leaves: the name, and the mark it set first
        p.write_bytes(b"half-written")
        os.setxattr(p, "user.fsgate.temp", p.name.removeprefix(".fsgate-tmp-").encode())
    (root / ".fsgate-tmp-not-ours").write_text("keep")
    (root / ".fsgate-tmp-aaaaaaaaaaaaaaaa").write_text("keep: marked for another name")
    os.setxattr(root / ".fsgate-tmp-aaaaaaaaaaaaaaaa", "user.fsgate.temp", b"bbbbbbbbbbbbbbbb")
    server = start_server(tmp_path, [str(root)], backend)
    try:
        wait_for(lambda: "sweep_done" in server.log())
        assert not any(p.exists() for p in stale)
        assert (root / ".fsgate-tmp-not-ours").exists()
        assert (root / ".fsgate-tmp-aaaaaaaaaaaaaaaa").exists()
        assert (root / "target").read_bytes() == b"original content"
    finally:
        server.stop()


TEMP_LIKE_NAMES = (".fsgate-tmp-0123456789abcdef", ".fsgate-tmp-not-ours",
                   ".fsgate-tmp-0000000000000000", ".fsgate-tmp-ffffffffffffffff",
                   ".fsgate-tmp-FEDCBA9876543210", ".fsgate-tmp-0123456789abcdef0",
                   ".fsgate-tmp-", "deep/er/.fsgate-tmp-fedcba9876543210")


def test_client_files_named_like_temporaries_survive_a_restart(tmp_path: Path, root: Path,
                                                               backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend)
    try:
        wait_for(lambda: "sweep_done" in server.log())
        with fsgate.Client(server.target) as c:
            for i, rel in enumerate(TEMP_LIKE_NAMES):
                mode = fsgate.WriteMode.CREATE_NEW if i % 2 else fsgate.WriteMode.REPLACE
                c.write_file(str(root / rel), rel.encode(), create_parents=True, mode=mode)
                c.write_file(str(root / rel), rel.encode())  # and replaced once
    finally:
        server.stop()
    for rel in TEMP_LIKE_NAMES:  # the mark is gone once a file has its name
        assert "user.fsgate.temp" not in os.listxattr(root / rel)
    before = snapshot(root)
    server = start_server(tmp_path, [str(root)], backend)
    try:
        wait_for(lambda: "sweep_done" in server.log())
        assert snapshot(root) == before
        assert all((root / rel).read_bytes() == rel.encode() for rel in TEMP_LIKE_NAMES)
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_fails_no_space_and_changes_nothing(tmp_path: Path, backend: str) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (disk / "target").write_bytes(b"original")
        server = start_server(tmp_path, [str(disk)], backend)
        try:
            before = snapshot(disk)
            with fsgate.Client(server.target) as c:
                with pytest.raises(fsgate.NoSpace) as err:
                    c.write_file(str(disk / "target"), os.urandom(2 << 20))
                assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert err.value.reason == "NO_SPACE"
                with pytest.raises(fsgate.NoSpace):
                    c.write_file(str(disk / "new"), os.urandom(2 << 20))
            assert snapshot(disk) == before
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_fork_server_killed_is_started_again(tmp_path: Path, root: Path, backend: str) -> None:
    server = start_server(tmp_path, [str(root)], backend)
    channel, stub = stub_for(server)
    try:
        assert stub.Stat(pb.StatRequest(path=str(root / "target"))).info.size == 16
        killed = children(server.proc.pid)  # the fork server(s), or the bwrap running them
        assert killed
        for pid in killed:
            os.kill(pid, signal.SIGKILL)

        def gone(pid: int) -> bool:
            try:
                with open(f"/proc/{pid}/status") as fh:
                    return "State:\tZ" in fh.read()
            except OSError:
                return True

        wait_for(lambda: all(gone(p) for p in killed))
        outcomes = []
        for _ in range(3):
            try:
                stub.Stat(pb.StatRequest(path=str(root / "target")))
                outcomes.append("ok")
            except grpc.RpcError as exc:
                outcomes.append(rpc_reason(exc)[1])
        # Nothing of these requests had started when the fork server was found dead: each
        # is served by a new one, never failed.
        assert outcomes == ["ok"] * 3, outcomes
        assert [p for p in children(server.proc.pid) if p not in killed]
    finally:
        channel.close()
        server.stop()
