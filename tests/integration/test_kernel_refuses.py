"""The kernel is the wall, not the helper's own checks: with the helper's user-space policy
check deliberately widened (a lying policy), the confined helper still cannot read outside,
follow a symlink out, or write to a read-only root. Each helper runs in a forked child,
confined by the same `confine()` the backends use."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import FileFacts, ReadArgs, Request, WriteArgs
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.confine import Confinement
from fsgate_server.sandbox.rlimits import Limits

from .confined_child import confined_client

pytestmark = pytest.mark.skipif(landlock.abi_version() == 0, reason="Landlock unavailable")

EVERYTHING = EffectivePolicy(readable=("/",), writable=("/",), denied=())


def run_confined(req: Request, *, read: tuple[str, ...], write: tuple[str, ...],
                 data: bytes = b"") -> tuple[FileFacts, bytes] | Failure:
    """Fork a child confined to read/write, run req in it (HelperClient on our side), and
    return what it answered: the facts and the content read or written, or its Failure."""
    confinement = Confinement(read_exec=runtime_roots(), read=read, write=write,
                              limits=Limits(address_space_bytes=4 << 30), keep_fds=())
    try:
        with confined_client(confinement, req) as client:
            if isinstance(req, ReadArgs):
                with client.read(req) as (info, content):
                    return info, b"".join(content)
            assert isinstance(req, WriteArgs)
            return client.write(req, [data], lambda: True).info, data
    except Failure as exc:
        return exc


def refused(answer: tuple[FileFacts, bytes] | Failure) -> str:
    assert isinstance(answer, Failure), answer
    return answer.reason.value


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
    req = ReadArgs(str(layout / "outside" / "secret"), EVERYTHING, chunk_size=4096,
                   max_bytes=1 << 20)
    answer = run_confined(req, read=(str(layout / "ws"),), write=())
    assert refused(answer) == "SANDBOX_DENIED"
    assert "top secret" not in str(answer)


def test_kernel_refuses_symlink_out_even_when_helper_check_is_bypassed(layout: Path) -> None:
    req = ReadArgs(str(layout / "ws" / "escape"), EVERYTHING, chunk_size=4096,
                   max_bytes=1 << 20)
    answer = run_confined(req, read=(str(layout / "ws"),), write=())
    assert refused(answer) == "SANDBOX_DENIED"


def test_kernel_refuses_write_to_read_only_root_even_when_helper_check_is_bypassed(
        layout: Path) -> None:
    req = WriteArgs(str(layout / "ro" / "keep"), EVERYTHING, max_bytes=1 << 20)
    answer = run_confined(req, read=(str(layout / "ro"),), write=(str(layout / "ws"),),
                          data=b"overwritten")
    assert refused(answer) == "SANDBOX_DENIED"
    assert (layout / "ro" / "keep").read_text() == "keep"
    assert os.listdir(layout / "ro") == ["keep"]


def test_same_requests_succeed_when_the_kernel_allows_them(layout: Path) -> None:
    """Control: the refusals above come from the confinement, not from a broken helper."""
    read = ReadArgs(str(layout / "outside" / "secret"), EVERYTHING, chunk_size=4096,
                    max_bytes=1 << 20)
    answer = run_confined(read, read=(str(layout),), write=())
    assert not isinstance(answer, Failure) and answer[1] == b"top secret"
    write = WriteArgs(str(layout / "ro" / "keep"), EVERYTHING, max_bytes=1 << 20)
    answer = run_confined(write, read=(), write=(str(layout / "ro"),), data=b"changed")
    assert not isinstance(answer, Failure) and answer[0].size == len(b"changed")
    assert (layout / "ro" / "keep").read_text() == "changed"
