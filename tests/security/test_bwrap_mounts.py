"""Attack: a file system mounted inside a served root after the server started (bwrap).

The bwrap backend serves a namespace key from a long-lived namespace built when its fork
server started. A tmpfs mounted over ``W/sub`` afterwards must be what fsgate serves at
``W/sub`` — not the directory hidden under the mount point, where a "successful" write
would be lost to the host — and after the umount the host's view again.
"""
from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import ServerProcess, backend_skip_reason, start_server
from ..helpers import rpc_reason


def _mount_tmpfs(where: Path) -> None:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "fsgate-test", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, ServerProcess]]:
    reason = backend_skip_reason("bwrap")
    if reason:
        pytest.skip(reason)
    w = tmp_path / "W"
    (w / "sub").mkdir(parents=True)
    (w / "sub" / "hidden").write_bytes(b"under the mount point")
    (w / "top.txt").write_bytes(b"top")
    server = start_server(tmp_path, [str(w)], "bwrap")
    try:
        yield w, server
    finally:
        server.stop()


def _write(stub: fsgate_pb2_grpc.FileSystemServiceStub, path: Path, data: bytes) -> None:
    stub.WriteFile(iter([pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(path))),
                         pb.WriteFileRequest(data=data)]), timeout=30)


def _read(stub: fsgate_pb2_grpc.FileSystemServiceStub, path: Path) -> bytes:
    replies = list(stub.ReadFile(pb.ReadFileRequest(path=str(path)), timeout=30))
    return b"".join(r.data for r in replies if r.WhichOneof("payload") == "data")


def _names(stub: fsgate_pb2_grpc.FileSystemServiceStub, path: Path) -> list[str]:
    return sorted(e.name for e in stub.ListDir(pb.ListDirRequest(path=str(path)),
                                               timeout=30).entries)


def _not_found(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    return rpc_reason(err.value)


def test_tmpfs_mounted_inside_a_root_after_start_is_what_is_served(
        served: tuple[Path, ServerProcess]) -> None:
    w, server = served
    sub = w / "sub"
    channel = grpc.insecure_channel(server.target)
    stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
    try:
        # The namespaces exist (reads and writes), before the mount.
        assert _read(stub, sub / "hidden") == b"under the mount point"
        _write(stub, w / "before.txt", b"before")
        _mount_tmpfs(sub)
        try:
            (sub / "on-tmpfs").write_bytes(b"tmpfs content")
            _write(stub, sub / "new", b"written through fsgate")
            # On the tmpfs, seen by the host, not in the directory under the mount point.
            assert (sub / "new").read_bytes() == b"written through fsgate"
            assert _names(stub, sub) == ["new", "on-tmpfs"]
            assert _read(stub, sub / "on-tmpfs") == b"tmpfs content"
            assert _not_found(lambda: _read(stub, sub / "hidden")) == (
                grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
            assert _not_found(lambda: stub.Stat(pb.StatRequest(path=str(sub / "hidden")),
                                                timeout=30)) == (
                grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        finally:
            _umount(sub)
        # The host's view again: the tmpfs and its files are gone, the hidden file is back.
        assert sorted(p.name for p in sub.iterdir()) == ["hidden"]
        assert _names(stub, sub) == ["hidden"]
        assert _read(stub, sub / "hidden") == b"under the mount point"
        assert _not_found(lambda: _read(stub, sub / "new")) == (
            grpc.StatusCode.NOT_FOUND, "NOT_FOUND")
        _write(stub, sub / "after", b"after the umount")
        assert (sub / "after").read_bytes() == b"after the umount"
    finally:
        channel.close()
    assert '"forkserver_replaced"' in server.log()
