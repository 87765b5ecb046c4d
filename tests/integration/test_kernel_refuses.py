"""The kernel is the wall, not the helper's own checks: with the helper's user-space policy
check deliberately widened (a lying policy), the confined helper still cannot read outside,
follow a symlink out, or write to a read-only root. Each helper runs in a forked child,
confined by the same `confine()` the backends use."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from fsgate_server.helper import ops, protocol
from fsgate_server.helper.protocol import Kind
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.confine import Confinement, confine
from fsgate_server.sandbox.rlimits import Limits

pytestmark = pytest.mark.skipif(landlock.abi_version() == 0, reason="Landlock unavailable")

EVERYTHING = EffectivePolicy(readable=("/",), writable=("/",), denied=())


def run_confined(req: ops.Request, *, read: tuple[str, ...], write: tuple[str, ...],
                 data: bytes | None = None) -> dict[str, object]:
    """Fork a child confined to read/write, run req in it, return its answer frame."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            ours.close()
            confine(Confinement(read_exec=runtime_roots(), read=read, write=write,
                                limits=Limits(address_space_bytes=4 << 30),
                                keep_fds=(theirs.fileno(),)))
            ops.run(theirs, req)
            status = 0
        finally:
            os._exit(status)
    theirs.close()
    try:
        answer: dict[str, object] = {}
        readies = 0
        while True:
            kind, payload = protocol.recv(ours)
            if kind is Kind.READY and data is not None:
                readies += 1
                if readies == 1:  # ready for content
                    protocol.send(ours, Kind.DATA, data)
                    protocol.send(ours, Kind.END)
                else:  # prepared: content durable, waiting for the go-ahead
                    protocol.send(ours, Kind.COMMIT)
                continue
            if kind in (Kind.RESULT, Kind.ERROR):
                answer = {"kind": kind.name, **json.loads(payload)}
                if kind is Kind.ERROR or req.op != "read":
                    return answer
            if kind is Kind.END:
                return answer
    finally:
        ours.close()
        os.waitpid(pid, 0)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("top secret")
    (tmp_path / "ro" / "keep").write_text("keep")
    (tmp_path / "ws" / "escape").symlink_to(tmp_path / "outside" / "secret")
    return tmp_path


def test_kernel_refuses_read_outside_even_when_helper_check_is_bypassed(layout: Path) -> None:
    req = ops.Request("read", str(layout / "outside" / "secret"), EVERYTHING,
                      {"chunk_size": 4096, "max_bytes": 1 << 20})
    answer = run_confined(req, read=(str(layout / "ws"),), write=())
    assert answer["kind"] == "ERROR" and answer["reason"] == "SANDBOX_DENIED"
    assert "top secret" not in json.dumps(answer)


def test_kernel_refuses_symlink_out_even_when_helper_check_is_bypassed(layout: Path) -> None:
    req = ops.Request("read", str(layout / "ws" / "escape"), EVERYTHING,
                      {"chunk_size": 4096, "max_bytes": 1 << 20})
    answer = run_confined(req, read=(str(layout / "ws"),), write=())
    assert answer["kind"] == "ERROR" and answer["reason"] == "SANDBOX_DENIED"


def test_kernel_refuses_write_to_read_only_root_even_when_helper_check_is_bypassed(
        layout: Path) -> None:
    req = ops.Request("write", str(layout / "ro" / "keep"), EVERYTHING,
                      {"max_bytes": 1 << 20})
    answer = run_confined(req, read=(str(layout / "ro"),), write=(str(layout / "ws"),),
                          data=b"overwritten")
    assert answer["kind"] == "ERROR" and answer["reason"] == "SANDBOX_DENIED"
    assert (layout / "ro" / "keep").read_text() == "keep"
    assert os.listdir(layout / "ro") == ["keep"]


def test_same_requests_succeed_when_the_kernel_allows_them(layout: Path) -> None:
    """Control: the refusals above come from the confinement, not from a broken helper."""
    req = ops.Request("read", str(layout / "outside" / "secret"), EVERYTHING,
                      {"chunk_size": 4096, "max_bytes": 1 << 20})
    assert run_confined(req, read=(str(layout),), write=())["kind"] == "RESULT"
    req = ops.Request("write", str(layout / "ro" / "keep"), EVERYTHING, {"max_bytes": 1 << 20})
    answer = run_confined(req, read=(), write=(str(layout / "ro"),), data=b"changed")
    assert answer["kind"] == "RESULT"
    assert (layout / "ro" / "keep").read_text() == "changed"
