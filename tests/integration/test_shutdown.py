"""Graceful shutdown of a real server: SIGTERM turns health NOT_SERVING, lets in-flight
requests finish within --shutdown-grace, cancels the rest without touching their targets,
kills every helper and exits 0."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot
from .test_operations import log_events, scrape, wait_serving

ORIGINAL = b"original content\n"


def stalled_write(path: str, sent: threading.Event, release: threading.Event
                  ) -> Iterator[pb.WriteFileRequest]:
    yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
    yield pb.WriteFileRequest(data=b"first half, ")
    sent.set()
    release.wait(60)
    yield pb.WriteFileRequest(data=b"second half\n")


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def descendants(pid: int) -> set[int]:
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def helpers_running(server: ServerProcess) -> float:
    return scrape(server).get(("fsgate_helpers_running", ()), -1.0)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    d.mkdir()
    (d / "target").write_bytes(ORIGINAL)
    return d


def serve(tmp_path: Path, root: Path, backend: str, grace: str) -> ServerProcess:
    server = start_server(tmp_path, [str(root)], backend, "--shutdown-grace", grace,
                          "--metrics-listen", "127.0.0.1:0")
    wait_serving(server.target)
    return server


def test_sigterm_mid_write_cancels_it_after_the_grace_and_leaves_nothing_behind(
        tmp_path: Path, root: Path, backend: str) -> None:
    server = serve(tmp_path, root, backend, grace="1")
    before = snapshot(root)
    sent, release = threading.Event(), threading.Event()
    channel = grpc.insecure_channel(server.target)
    try:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        write = stub.WriteFile.future(stalled_write(str(root / "target"), sent, release),
                                      timeout=60)
        assert sent.wait(20)
        wait_for(lambda: helpers_running(server) == 1, "the write's helper")
        processes = descendants(server.proc.pid)  # fork server or bwrap, and every helper
        assert processes
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0, server.log()
        assert time.monotonic() - started >= 0.9  # the in-flight write was given its grace
        with pytest.raises(grpc.RpcError) as err:
            write.result(timeout=30)
        assert err.value.code() in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.DEADLINE_EXCEEDED)
    finally:
        release.set()
        channel.close()
        server.stop()
    assert snapshot(root) == before  # the target is unchanged and no .fsgate-tmp-* is left
    assert (root / "target").read_bytes() == ORIGINAL
    left = sorted(pid for pid in processes if alive(pid))
    assert not left, f"helper processes left behind: {left}"
    events = [e["event"] for e in log_events(server)]
    assert events.index("shutting_down") < events.index("drained") < events.index("stopped")


def test_sigterm_lets_an_in_flight_write_finish_within_the_grace(
        tmp_path: Path, root: Path, backend: str) -> None:
    server = serve(tmp_path, root, backend, grace="30")
    sent, release = threading.Event(), threading.Event()
    channel = grpc.insecure_channel(server.target)
    try:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=60)
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        write = stub.WriteFile.future(stalled_write(str(root / "target"), sent, release),
                                      timeout=60)
        assert sent.wait(20)
        wait_for(lambda: helpers_running(server) == 1, "the write's helper")
        server.proc.send_signal(signal.SIGTERM)
        # Draining: health says NOT_SERVING to whoever watches it...
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        # ...and the write that was already running may still complete.
        release.set()
        reply = write.result(timeout=30)
        assert reply.bytes_written == len(b"first half, second half\n")
        assert server.proc.wait(timeout=30) == 0, server.log()
    finally:
        release.set()
        channel.close()
        server.stop()
    assert (root / "target").read_bytes() == b"first half, second half\n"
    assert "Traceback" not in server.log()  # ending the Watch stream at drain is clean
