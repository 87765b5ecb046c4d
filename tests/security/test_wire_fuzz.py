"""Wire fuzz: random paths and policies straight onto the wire. The server must never answer
INTERNAL or UNKNOWN, never crash, and never let an outside secret through."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import ServerProcess

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.FAILED_PRECONDITION,
           grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.ABORTED,
           grpc.StatusCode.RESOURCE_EXHAUSTED}

_PIECES = st.sampled_from(["", ".", "..", "ws", "ro", "outside", "ws2", "secret.txt",
                           "readme.txt", "a", "\x00", "~", "%2e%2e", "\u2025", "/", "//",
                           "x" * 256, ".git", "config"])
_PATHS = st.one_of(
    st.lists(_PIECES, max_size=8).map(lambda parts: "/".join(parts)),
    st.text(max_size=64),
)


def _absolute(served: ServerProcess) -> st.SearchStrategy[str]:
    base = str(served.root.parent)
    return st.one_of(_PATHS, _PATHS.map(lambda p: base + "/" + p))


def _policies(served: ServerProcess) -> st.SearchStrategy[pb.SandboxPolicy | None]:
    paths = _absolute(served)
    return st.one_of(st.none(), st.builds(
        lambda r, w, d, cwd: pb.SandboxPolicy(readable_roots=r, writable_roots=w,
                                              denied_paths=d, cwd=cwd),
        st.lists(paths, max_size=3), st.lists(paths, max_size=3), st.lists(paths, max_size=3),
        st.one_of(st.just(""), paths)))


def check(call: Callable[[], Any]) -> None:
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "info"):
            for msg in result:
                assert b"top secret" not in msg.data
        else:
            assert "top secret" not in str(result)
    except grpc.RpcError as exc:
        assert exc.code() in ALLOWED, (exc.code(), exc.details())
        assert "top secret" not in (exc.details() or "")


def test_random_requests_never_fail_internal_or_leak(served: ServerProcess) -> None:
    channel = grpc.insecure_channel(served.target)
    stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(path=_absolute(served), policy=_policies(served), op=st.integers(0, 3),
           follow=st.booleans(), depth=st.integers(0, 20))
    def fuzz(path: str, policy: pb.SandboxPolicy | None, op: int, follow: bool,
             depth: int) -> None:
        kw: dict[str, Any] = {"sandbox": policy} if policy is not None else {}
        if op == 0:
            check(lambda: stub.Stat(pb.StatRequest(path=path, follow_symlinks=follow, **kw)))
        elif op == 1:
            check(lambda: stub.ReadFile(pb.ReadFileRequest(path=path, **kw)))
        elif op == 2:
            check(lambda: stub.ListDir(pb.ListDirRequest(path=path, depth=depth, **kw)))
        else:
            header = pb.WriteFileRequest.Header(path=path, mode=pb.WRITE_MODE_CREATE_NEW, **kw)
            check(lambda: stub.WriteFile(iter([pb.WriteFileRequest(header=header),
                                               pb.WriteFileRequest(data=b"fuzz")])))

    try:
        fuzz()
    finally:
        channel.close()
    assert served.proc.poll() is None  # still alive
    assert "top secret" in (served.root.parent / "outside" / "secret.txt").read_text()
