"""Attacks on the policy and the sandbox, each named for the attack; every refusal asserts
the status code and reason, and that nothing changed on disk."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import ServerProcess
from ..helpers import rpc_reason, snapshot


def base(served: ServerProcess) -> Path:
    return served.root.parent


@pytest.fixture
def stub(served: ServerProcess) -> Iterator[fsgate_pb2_grpc.FileSystemServiceStub]:
    channel = grpc.insecure_channel(served.target)
    yield fsgate_pb2_grpc.FileSystemServiceStub(channel)
    channel.close()


def test_symlink_inside_root_to_outside_is_refused_by_the_sandbox(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "escape").symlink_to(base(served) / "outside" / "secret.txt")
    with pytest.raises(fsgate.SandboxDenied) as err:
        client.read_file(str(ws / "escape"))
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "SANDBOX_DENIED"
    assert "top secret" not in str(err.value)


def test_symlink_to_outside_leaks_nothing_through_stat(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "escape").symlink_to(base(served) / "outside" / "secret.txt")
    (ws / "ghost").symlink_to(base(served) / "outside" / "does-not-exist")
    errors = []
    for name in ("escape", "ghost"):
        with pytest.raises(fsgate.SandboxDenied) as err:
            client.stat(str(ws / name), follow_symlinks=True)
        errors.append(str(err.value).replace(name, "X"))
        with pytest.raises(fsgate.SandboxDenied):
            client.read_file(str(ws / name))
    # An existing and a missing outside target read exactly alike: existence does not leak.
    assert errors[0] == errors[1]


def test_parent_directory_symlink_to_outside_is_refused(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "door").symlink_to(base(served) / "outside")
    with pytest.raises(fsgate.SandboxDenied):
        client.read_file(str(ws / "door" / "secret.txt"))
    with pytest.raises(fsgate.SandboxDenied):
        list(client.list_dir(str(ws / "door")))
    before = snapshot(base(served) / "outside")
    with pytest.raises(fsgate.SandboxDenied):
        client.write_file(str(ws / "door" / "planted.txt"), b"pwned")
    assert snapshot(base(served) / "outside") == before


def test_write_through_symlink_into_read_only_root_is_refused(
        client: Client, served: ServerProcess, ws: Path) -> None:
    ro = base(served) / "ro"
    (ws / "to-ro").symlink_to(ro / "readme.txt")
    before = snapshot(ro)
    with pytest.raises(fsgate.PermissionDenied) as err:
        client.write_file(str(ws / "to-ro"), b"overwritten")
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert snapshot(ro) == before


def test_write_to_read_only_root_is_refused(client: Client, served: ServerProcess) -> None:
    ro = base(served) / "ro"
    before = snapshot(ro)
    with pytest.raises(fsgate.OutsidePolicy) as err:
        client.write_file(str(ro / "readme.txt"), b"overwritten")
    assert err.value.reason == "OUTSIDE_POLICY"
    with pytest.raises(fsgate.OutsidePolicy):
        client.write_file(str(ro / "new.txt"), b"new")
    assert snapshot(ro) == before


def test_write_outside_writable_roots_is_refused(served: ServerProcess, ws: Path) -> None:
    (ws / "allowed").mkdir()
    (ws / "other").mkdir()
    policy = Policy(writable_roots=(str(ws / "allowed"),))
    before = snapshot(ws)
    with Client(served.target, policy=policy) as c:
        with pytest.raises(fsgate.OutsidePolicy) as err:
            c.write_file(str(ws / "other" / "f"), b"x")
        assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
        assert snapshot(ws) == before
        c.write_file(str(ws / "allowed" / "f"), b"x")
    assert (ws / "allowed" / "f").read_bytes() == b"x"


def test_symlink_from_writable_root_to_readable_only_path_cannot_be_written(
        served: ServerProcess, ws: Path) -> None:
    (ws / "w").mkdir()
    (ws / "r").mkdir()
    (ws / "r" / "keep").write_text("keep")
    (ws / "w" / "link").symlink_to(ws / "r" / "keep")
    policy = Policy(writable_roots=(str(ws / "w"),))
    with Client(served.target, policy=policy) as c, pytest.raises(fsgate.SandboxDenied):
        c.write_file(str(ws / "w" / "link"), b"changed")
    assert (ws / "r" / "keep").read_text() == "keep"


def test_prefix_sibling_is_not_inside_root(client: Client, served: ServerProcess) -> None:
    # /base/ws2 shares a string prefix with the served root /base/ws
    with pytest.raises(fsgate.OutsidePolicy) as err:
        client.read_file(str(base(served) / "ws2" / "sibling.txt"))
    assert err.value.reason == "OUTSIDE_POLICY"


def test_dotdot_cannot_escape_the_root(client: Client, served: ServerProcess) -> None:
    path = str(served.root) + "/../outside/secret.txt"
    with pytest.raises(fsgate.OutsidePolicy) as err:
        client.read_file(path)
    assert err.value.reason == "OUTSIDE_POLICY"
    assert "top secret" not in str(err.value)


def test_request_policy_cannot_widen_the_ceiling(served: ServerProcess) -> None:
    policy = Policy(readable_roots=("/",), writable_roots=("/",))
    with Client(served.target, policy=policy) as c:
        with pytest.raises(fsgate.OutsidePolicy):
            c.read_file(str(base(served) / "outside" / "secret.txt"))
        with pytest.raises(fsgate.OutsidePolicy):
            c.write_file(str(base(served) / "ro" / "readme.txt"), b"x")


def test_denied_path_is_refused_inside_a_readable_root(served: ServerProcess, ws: Path) -> None:
    (ws / "private").mkdir()
    (ws / "private" / "key").write_text("k")
    (ws / "alias").symlink_to(ws / "private" / "key")
    (ws / "public").write_text("p")
    policy = Policy(denied_paths=(str(ws / "private"),))
    with Client(served.target, policy=policy) as c:
        with pytest.raises(fsgate.OutsidePolicy):
            c.read_file(str(ws / "private" / "key"))
        with pytest.raises(fsgate.SandboxDenied):
            c.read_file(str(ws / "alias"))
        assert [e.name for e in c.list_dir(str(ws))] == ["alias", "public"]


@pytest.mark.parametrize(("path", "reason"), [
    ("", "INVALID_PATH"),
    ("/tmp/nul\x00byte", "INVALID_PATH"),
    ("/" + "a" * 256, "INVALID_PATH"),
    ("/" + "/".join(["abcdefgh"] * 500), "INVALID_PATH"),
    ("relative/path", "CWD_REQUIRED"),
])
def test_bad_paths_are_invalid_argument(stub: fsgate_pb2_grpc.FileSystemServiceStub,
                                        served: ServerProcess, path: str, reason: str) -> None:
    before = snapshot(base(served))
    with pytest.raises(grpc.RpcError) as err:
        stub.Stat(pb.StatRequest(path=path))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, reason)

    def writes() -> object:
        yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
        yield pb.WriteFileRequest(data=b"x")

    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(writes())
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, reason)
    assert snapshot(base(served)) == before


def test_relative_policy_entry_without_cwd_is_cwd_required(
        stub: fsgate_pb2_grpc.FileSystemServiceStub, served: ServerProcess) -> None:
    req = pb.StatRequest(path=str(served.root), sandbox=pb.SandboxPolicy(readable_roots=["ws"]))
    with pytest.raises(grpc.RpcError) as err:
        stub.Stat(req)
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "CWD_REQUIRED")


@pytest.mark.parametrize(("build", "reason"), [
    (lambda p: pb.ReadFileRequest(path=p, chunk_size=100), "INVALID_REQUEST"),
    (lambda p: pb.ReadFileRequest(path=p, chunk_size=(4 << 20) + 1), "INVALID_REQUEST"),
])
def test_bad_read_requests_are_invalid_argument(
        stub: fsgate_pb2_grpc.FileSystemServiceStub, ws: Path,
        build: Callable[[str], pb.ReadFileRequest], reason: str) -> None:
    (ws / "f").write_text("x")
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ReadFile(build(str(ws / "f"))))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, reason)


def test_write_without_header_or_with_two_headers_changes_nothing(
        stub: fsgate_pb2_grpc.FileSystemServiceStub, ws: Path) -> None:
    (ws / "f").write_text("old")
    before = snapshot(ws)
    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(iter([pb.WriteFileRequest(data=b"no header")]))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    header = pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(ws / "f")))
    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(iter([header, pb.WriteFileRequest(data=b"new"), header]))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    bad_mode = pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(ws / "f"),
                                                                      file_mode=0o4755))
    with pytest.raises(grpc.RpcError) as err:
        stub.WriteFile(iter([bad_mode, pb.WriteFileRequest(data=b"new")]))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")
    assert snapshot(ws) == before


def test_list_depth_over_server_cap_is_invalid(stub: fsgate_pb2_grpc.FileSystemServiceStub,
                                               ws: Path) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stub.ListDir(pb.ListDirRequest(path=str(ws), depth=10_000))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


def test_each_request_runs_in_a_fresh_helper_process(client: Client, served: ServerProcess,
                                                     ws: Path) -> None:
    (ws / "f").write_text("x")
    for _ in range(5):
        client.stat(str(ws / "f"))
    lines = [json.loads(line) for line in served.log().splitlines() if line.startswith("{")]
    pids = [line["helper_pid"] for line in lines
            if line.get("event") == "request" and line.get("path") == str(ws / "f")]
    assert len(pids) == 5
    assert len(set(pids)) == 5  # never reused
    assert served.proc.pid not in pids  # never the server itself
