"""Write atomicity: readers see old or new, never a mix; an unfinished stream changes nothing."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, WriteMode
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import ServerProcess
from ..helpers import rpc_reason, snapshot


@pytest.fixture
def stub(served: ServerProcess) -> Iterator[fsgate_pb2_grpc.FileSystemServiceStub]:
    channel = grpc.insecure_channel(served.target)
    yield fsgate_pb2_grpc.FileSystemServiceStub(channel)
    channel.close()


def no_temporaries(d: Path) -> bool:
    return not [p for p in os.listdir(d) if p.startswith(".fsgate-tmp-")]


def test_reader_polling_during_replace_sees_old_or_new_only(client: Client, ws: Path) -> None:
    old = b"O" * (4 << 20)
    new = b"N" * (4 << 20)
    target = ws / "big"
    target.write_bytes(old)
    stop = threading.Event()
    seen: set[bytes] = set()

    def poll() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            seen.add(data[:1] + data[-1:] + (b"!" if len(set(data)) != 1 else b""))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for i in range(6):
            client.write_file(str(target), new if i % 2 == 0 else old)
    finally:
        stop.set()
        reader.join()
    assert seen <= {b"OO", b"NN"}, seen  # never torn, never mixed, never empty
    assert no_temporaries(ws)


def _gated_writes(path: str, sent: threading.Event, release: threading.Event
                  ) -> Iterator[pb.WriteFileRequest]:
    yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
    yield pb.WriteFileRequest(data=b"partial " * 1000)
    sent.set()
    release.wait(10)
    # ends "normally" after the cancel: the server must not mistake this for completion


def test_cancel_mid_stream_leaves_target_untouched_every_time(
        stub: fsgate_pb2_grpc.FileSystemServiceStub, ws: Path) -> None:
    target = ws / "keep"
    target.write_bytes(b"original")
    before = snapshot(ws)
    for _ in range(30):
        sent, release = threading.Event(), threading.Event()
        fut = stub.WriteFile.future(_gated_writes(str(target), sent, release))
        assert sent.wait(10)
        fut.cancel()
        release.set()
        with pytest.raises(grpc.FutureCancelledError):
            fut.result()
    # the helper of the last cancel may still be on its way out: wait on the next request
    stub.Stat(pb.StatRequest(path=str(target)))
    assert snapshot(ws) == before
    assert target.read_bytes() == b"original"


def test_deadline_mid_stream_leaves_target_untouched(
        stub: fsgate_pb2_grpc.FileSystemServiceStub, ws: Path) -> None:
    target = ws / "keep"
    target.write_bytes(b"original")
    before = snapshot(ws)
    sent, release = threading.Event(), threading.Event()
    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(_gated_writes(str(target), sent, release), timeout=1.0)
    release.set()
    assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    stub.Stat(pb.StatRequest(path=str(target)))
    assert snapshot(ws) == before


def test_size_limit_breach_mid_stream_changes_nothing(tmp_path: Path, backend: str) -> None:
    from ..conftest import start_server

    root = tmp_path / "root"
    root.mkdir()
    (root / "f").write_bytes(b"before")
    server = start_server(tmp_path, [str(root)], backend, "--max-write-bytes", "10000")
    try:
        with Client(server.target) as c:
            with pytest.raises(fsgate.TooLarge) as err:
                c.write_file(str(root / "f"), b"x" * 20000, chunk_size=4096)
            assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert err.value.reason == "TOO_LARGE"
            c.stat(str(root / "f"))
        assert (root / "f").read_bytes() == b"before"
        assert os.listdir(root) == ["f"]
    finally:
        server.stop()


def test_concurrent_create_new_exactly_one_wins(served: ServerProcess, ws: Path) -> None:
    target = str(ws / "race")

    def attempt(i: int) -> str:
        with Client(served.target) as c:
            try:
                c.write_file(target, f"writer {i}".encode(), mode=WriteMode.CREATE_NEW)
                return "won"
            except fsgate.AlreadyExists:
                return "lost"

    with futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("won") == 1
    assert (ws / "race").read_bytes().startswith(b"writer ")
    assert no_temporaries(ws)


def test_concurrent_if_version_writes_exactly_one_wins(client: Client, served: ServerProcess,
                                                       ws: Path) -> None:
    version = client.write_file(str(ws / "cas"), b"v0").info.version

    def attempt(i: int) -> str:
        with Client(served.target) as c:
            try:
                c.write_file(str(ws / "cas"), f"v1 by {i}".encode(), if_version=version)
                return "won"
            except fsgate.VersionMismatch:
                return "lost"

    with futures.ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    assert outcomes.count("won") == 1


def test_hard_linked_target_is_replaced_not_written_through(client: Client, ws: Path) -> None:
    (ws / "a").write_bytes(b"shared")
    os.link(ws / "a", ws / "b")
    client.write_file(str(ws / "a"), b"new")
    assert (ws / "a").read_bytes() == b"new"
    assert (ws / "b").read_bytes() == b"shared"


def test_write_to_directory_is_refused(stub: fsgate_pb2_grpc.FileSystemServiceStub,
                                       ws: Path) -> None:
    (ws / "d").mkdir()
    before = snapshot(ws)
    req = [pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(ws / "d"))),
           pb.WriteFileRequest(data=b"x")]
    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(iter(req))
    assert rpc_reason(err.value) == (grpc.StatusCode.FAILED_PRECONDITION, "IS_A_DIRECTORY")
    assert snapshot(ws) == before
