"""Helper deadlines through the real servicer in-process (the helper is faked): a burst of
requests is watched by one deadline thread, not a timer thread each; a helper whose
deadline passes while the handler waits on the client is killed and the call ends
DEADLINE_EXCEEDED with nothing committed."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from fsgate_server.config import Config
from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import FileFacts, FileType, WriteArgs, WriteDone
from fsgate_server.helper.protocol import Kind
from fsgate_server.policy import Root
from fsgate_server.transport.deadlines import COMPACT_AT
from fsgate_server.transport.handlers import FileSystemServicer
from fsgate_server.transport.lifecycle import Lifecycle

WORKERS = 20
BURST = 200  # a multiple of WORKERS: every round fills the barrier
WORKER_PREFIX = "test-rpc-worker"
WAIT = 10.0


class FakeHelper:
    pid = 4242

    def __init__(self) -> None:
        self.killed = threading.Event()

    def kill(self) -> None:
        self.killed.set()


class FakeCall:
    def __init__(self, req: Any, barrier: threading.Barrier | None) -> None:
        self.helper = FakeHelper()
        self.pid = FakeHelper.pid
        self.req = req
        self.path = req.path
        self.barrier = barrier
        self.sent: list[Kind] = []
        self.closed = threading.Event()

    def _channel(self) -> None:
        # a killed helper's channel is broken, as with a real one: nothing reaches it
        if self.helper.killed.is_set():
            raise Failure(Reason.HELPER_FAILED, "helper channel broke", self.path)

    def expect(self, kind: Kind) -> bytes | None:
        self._channel()
        if kind is Kind.READY:
            return None
        if self.barrier is not None:  # hold the helper until WORKERS calls hold theirs
            self.barrier.wait()
        info = FileFacts(path=self.path, type=FileType.REGULAR, size=0, mode=0o644,
                         mtime_ns=0, version="v1")
        if isinstance(self.req, WriteArgs):
            return codec.encode(WriteDone(info=info, bytes_written=0))
        return codec.encode(info)

    def send(self, kind: Kind, payload: bytes = b"") -> None:
        self._channel()
        self.sent.append(kind)

    def close(self) -> None:
        self.closed.set()


class FakeExecutor:
    name = "fake"

    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None
        self.calls: list[FakeCall] = []

    def start(self, req: Any, deadline: float | None) -> FakeCall:
        call = FakeCall(req, self.barrier)
        self.calls.append(call)
        return call

    def stop(self) -> None:
        pass


def serve(tmp_path: Path, executor: FakeExecutor, **config: Any
          ) -> Iterator[tuple[FileSystemServicer, Any, Path]]:
    root = tmp_path / "ws"
    root.mkdir()
    servicer = FileSystemServicer(Config(roots=(Root(str(root), True),), **config),
                                  executor, lifecycle=Lifecycle())  # type: ignore[arg-type]  # fake executor
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS,
                                                    thread_name_prefix=WORKER_PREFIX))
    fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(
        servicer, server)
    server.add_insecure_port(f"unix:{tmp_path / 's.sock'}")
    server.start()
    channel = grpc.insecure_channel(f"unix:{tmp_path / 's.sock'}")
    try:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        yield servicer, stub, root
    finally:
        channel.close()
        server.stop(None)
        servicer.deadlines.stop()


@pytest.fixture
def executor() -> FakeExecutor:
    return FakeExecutor()


@pytest.fixture
def burst_server(tmp_path: Path, executor: FakeExecutor
                 ) -> Iterator[tuple[FileSystemServicer, Any, Path]]:
    yield from serve(tmp_path, executor, max_concurrent_helpers=WORKERS)


@pytest.fixture
def short_timeout_server(tmp_path: Path, executor: FakeExecutor
                         ) -> Iterator[tuple[FileSystemServicer, Any, Path]]:
    yield from serve(tmp_path, executor, helper_timeout=0.3)


def wait_until(predicate: Any, timeout: float = WAIT) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def other_threads() -> set[threading.Thread]:
    """Threads other than the server's RPC workers (which the pool starts on demand)."""
    return {t for t in threading.enumerate() if not t.name.startswith(WORKER_PREFIX)}


# grpc-python's own polling threads come and go with the calls in flight; a thread per
# request would add WORKERS each round.
GRPC_SLACK = 2


def test_a_burst_of_requests_starts_no_thread_per_request(
        burst_server: Any, executor: FakeExecutor) -> None:
    servicer, stub, root = burst_server
    seen: list[set[threading.Thread]] = []
    # Each round, WORKERS handlers hold a helper (and its deadline) at the same moment.
    executor.barrier = threading.Barrier(WORKERS, action=lambda: seen.append(other_threads()),
                                         timeout=WAIT)
    warm = [stub.Stat.future(pb.StatRequest(path=str(root))) for _ in range(WORKERS)]
    assert all(f.result(timeout=WAIT) for f in warm)  # client and deadline threads exist
    baseline = other_threads()
    assert servicer.deadlines.thread in baseline
    seen.clear()
    burst = [stub.Stat.future(pb.StatRequest(path=str(root))) for _ in range(BURST)]
    assert all(f.result(timeout=WAIT) for f in burst)
    assert len(seen) == BURST // WORKERS
    started = set().union(*seen) - baseline
    assert not [t for t in started if isinstance(t, threading.Timer)]
    assert max(len(threads - baseline) for threads in seen) <= GRPC_SLACK, started
    assert wait_until(lambda: servicer.admission.running() == 0)
    assert len(servicer.deadlines) < COMPACT_AT  # the cancelled deadlines were dropped


def stalled_upload(path: str, release: threading.Event) -> Iterator[pb.WriteFileRequest]:
    yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
    yield pb.WriteFileRequest(data=b"half of it")
    release.wait(WAIT)  # the client stalls past the helper deadline


def test_helper_deadline_kills_a_stalled_upload_and_ends_it_deadline_exceeded(
        short_timeout_server: Any, executor: FakeExecutor) -> None:
    servicer, stub, root = short_timeout_server
    release = threading.Event()
    try:
        with structlog.testing.capture_logs() as logs, pytest.raises(grpc.RpcError) as err:
            stub.WriteFile(stalled_upload(str(root / "f"), release), timeout=WAIT)
    finally:
        release.set()
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    (call,) = executor.calls
    assert call.helper.killed.is_set()
    assert Kind.COMMIT not in call.sent and Kind.END not in call.sent
    (expired,) = [e for e in logs if e["event"] == "helper_deadline_exceeded"]
    assert expired["path"] == str(root / "f")
    # the client hears first; the handler unwinds (and lets go of its helper) just after
    assert wait_until(lambda: servicer.admission.running() == 0)
