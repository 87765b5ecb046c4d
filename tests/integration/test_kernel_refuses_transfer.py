"""The kernel is the wall for Move and Copy too: a helper whose own policy checks are
bypassed (a lying policy that allows everything), confined with exactly the Landlock
rights its request type gets, cannot rename or create anything outside its writable set;
a read request's helper cannot rename or copy anything inside it; a move's helper cannot
write file content and a copy's cannot rename across directories. As in
test_kernel_refuses.py, each helper is a forked child confined by the same ``confine()``
the backends use."""
from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from fsgate_server.backends.channel import HelperCall
from fsgate_server.errors import Failure
from fsgate_server.helper import codec, ops
from fsgate_server.helper.messages import (
    CopyArgs,
    CopyDone,
    MoveAcrossArgs,
    MoveArgs,
    MoveDone,
    Request,
    StatArgs,
)
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.confine import Confinement
from fsgate_server.sandbox.rlimits import Limits

from ..helpers import snapshot
from .confined_child import confined_call

pytestmark = pytest.mark.skipif(landlock.abi_version() < 2,
                                reason="Landlock with REFER (ABI 2) unavailable")

EVERYTHING = EffectivePolicy(readable=("/",), writable=("/",), denied=())
LIMITS = Limits(address_space_bytes=4 << 30)


def confined(read: tuple[str, ...], write: tuple[str, ...], rights: frozenset[str] | None,
             body: Callable[[socket.socket], None]) -> HelperCall:
    """Fork a child confined to read/write with ``rights`` on write, and run body in it."""
    return confined_call(Confinement(read_exec=runtime_roots(), read=read, write=write,
                                     limits=LIMITS, keep_fds=(), write_rights=rights),
                         StatArgs("/", EVERYTHING), body)


def run_confined(req: MoveArgs | CopyArgs, *, read: tuple[str, ...] = (),
                 write: tuple[str, ...], as_request: type[Request] | None = None
                 ) -> MoveDone | CopyDone | Failure:
    """Run req in a child confined as a request of type ``as_request`` (default: req's own
    type) would be, but with the lying policy; its answer or Failure."""
    kind = as_request or type(req)
    rights = kind.rights if kind.writes else None
    call = confined(read, write if kind.writes else (), rights, lambda s: ops.run(s, req))
    try:
        payload = call.expect(Kind.RESULT)
        if isinstance(req, CopyArgs):
            return codec.decode(payload, CopyDone)
        return codec.decode(payload, MoveDone)
    except Failure as exc:
        return exc
    finally:
        call.close()
        os.waitpid(call.pid, 0)


def move(src: Path, dst: Path, *, across: bool = False, create_parents: bool = False
         ) -> MoveArgs:
    cls = MoveAcrossArgs if across else MoveArgs
    return cls(str(src), EVERYTHING, destination=str(dst), max_entries=1000,
               max_bytes=1 << 20, create_parents=create_parents)


def copy(src: Path, dst: Path, *, recursive: bool = False) -> CopyArgs:
    return CopyArgs(str(src), EVERYTHING, destination=str(dst), max_entries=1000,
                    max_bytes=1 << 20, recursive=recursive)


def refused(answer: MoveDone | CopyDone | Failure) -> None:
    """A Failure, or a move whose rename the kernel turned into EXDEV and that did nothing."""
    assert isinstance(answer, Failure) or (isinstance(answer, MoveDone) and answer.info is None), \
        answer


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    for name in ("ws", "ro", "outside"):
        (tmp_path / name).mkdir()
    (tmp_path / "ws" / "a").write_text("mine")
    (tmp_path / "ws" / "dir").mkdir()
    (tmp_path / "ws" / "dir" / "f").write_text("f")
    (tmp_path / "outside" / "secret").write_text("top secret")
    (tmp_path / "ro" / "keep").write_text("keep")
    return tmp_path


def unchanged(layout: Path) -> Callable[[], None]:
    before = snapshot(layout)
    return lambda: None if snapshot(layout) == before else pytest.fail("the tree changed")


@pytest.mark.parametrize("across", [False, True], ids=["move", "move_across"])
def test_kernel_refuses_a_move_out_of_the_writable_set_even_when_checks_are_bypassed(
        layout: Path, across: bool) -> None:
    check = unchanged(layout)
    ws = (str(layout / "ws"),)
    refused(run_confined(move(layout / "ws" / "a", layout / "outside" / "a", across=across),
                         read=(str(layout / "outside"),), write=ws))
    refused(run_confined(move(layout / "ws" / "dir", layout / "ro" / "dir", across=across),
                         read=(str(layout / "ro"),), write=ws))
    check()


@pytest.mark.parametrize("across", [False, True], ids=["move", "move_across"])
def test_kernel_refuses_a_move_into_the_writable_set_from_outside_it(layout: Path,
                                                                     across: bool) -> None:
    check = unchanged(layout)
    refused(run_confined(move(layout / "outside" / "secret", layout / "ws" / "stolen",
                              across=across),
                         read=(str(layout / "outside"),), write=(str(layout / "ws"),)))
    check()


def test_kernel_refuses_to_create_outside_the_writable_set(layout: Path) -> None:
    check = unchanged(layout)
    ws = (str(layout / "ws"),)
    refused(run_confined(copy(layout / "ws" / "a", layout / "outside" / "copy"),
                         read=(str(layout / "outside"),), write=ws))
    refused(run_confined(copy(layout / "ws" / "dir", layout / "outside" / "dir",
                              recursive=True), read=(str(layout / "outside"),), write=ws))
    refused(run_confined(move(layout / "ws" / "a", layout / "outside" / "new" / "a",
                              create_parents=True),
                         read=(str(layout / "outside"),), write=ws))
    check()


def test_a_read_requests_helper_cannot_rename_or_copy_inside_its_own_roots(layout: Path
                                                                          ) -> None:
    check = unchanged(layout)
    ws = (str(layout / "ws"),)
    for req in (move(layout / "ws" / "a", layout / "ws" / "b"),
                move(layout / "ws" / "dir", layout / "ws" / "dir2"),
                copy(layout / "ws" / "a", layout / "ws" / "b")):
        refused(run_confined(req, read=ws, write=ws, as_request=StatArgs))
    check()


def test_the_same_requests_succeed_when_the_kernel_allows_them(layout: Path) -> None:
    """Control: the refusals above come from the confinement, not from a broken helper."""
    everything = (str(layout),)
    done = run_confined(move(layout / "ws" / "a", layout / "outside" / "a"), write=everything)
    assert isinstance(done, MoveDone) and done.info is not None
    done2 = run_confined(copy(layout / "ws" / "dir", layout / "outside" / "dir",
                              recursive=True), write=everything)
    assert isinstance(done2, CopyDone) and done2.entries_copied == 2
    assert (layout / "outside" / "a").read_text() == "mine"


def _attempt(rights: frozenset[str], layout: Path, attempt: Callable[[], object]) -> int:
    """errno of ``attempt`` run in a child confined with ``rights`` on ws (0: it worked)."""

    def body(sock: socket.socket) -> None:
        try:
            attempt()
            code = 0
        except OSError as exc:
            code = exc.errno or -1
        sock.sendall(code.to_bytes(4, "little", signed=True))

    call = confined((), (str(layout / "ws"),), rights, body)
    try:
        data = call.helper.sock.recv(4)
    finally:
        call.close()
        os.waitpid(call.pid, 0)
    return int.from_bytes(data, "little", signed=True)


def test_a_move_helper_cannot_write_file_content(layout: Path) -> None:
    target = layout / "ws" / "a"
    assert _attempt(MoveArgs.rights, layout,
                    lambda: os.close(os.open(target, os.O_WRONLY))) == errno.EACCES
    assert _attempt(MoveArgs.rights, layout, lambda: os.close(
        os.open(layout / "ws", os.O_TMPFILE | os.O_WRONLY, 0o600))) == errno.EACCES
    assert target.read_text() == "mine"
    assert _attempt(MoveAcrossArgs.rights, layout,
                    lambda: os.close(os.open(target, os.O_WRONLY))) == 0  # control


def test_a_copy_helper_cannot_rename_across_directories(layout: Path) -> None:
    code = _attempt(CopyArgs.rights, layout,
                    lambda: os.rename(layout / "ws" / "a", layout / "ws" / "dir" / "a"))
    assert code in (errno.EXDEV, errno.EACCES)  # Landlock refuses a reparenting: no REFER
    assert (layout / "ws" / "a").exists()
    assert _attempt(MoveArgs.rights, layout, lambda: os.rename(
        layout / "ws" / "a", layout / "ws" / "dir" / "a")) == 0  # control


def test_a_copy_helper_cannot_truncate(layout: Path) -> None:
    target = layout / "ws" / "a"
    assert _attempt(CopyArgs.rights, layout,
                    lambda: os.truncate(target, 0)) == errno.EACCES
    assert target.read_text() == "mine"


def test_every_transfer_request_is_confined_with_only_its_own_rights() -> None:
    settings = HelperSettings(runtime_roots=(), limits=LIMITS)
    policy = EffectivePolicy(readable=("/ws",), writable=("/ws",), denied=())
    for req in (MoveArgs("/ws/a", policy, destination="/ws/b", max_entries=1, max_bytes=1),
                CopyArgs("/ws/a", policy, destination="/ws/b", max_entries=1, max_bytes=1)):
        c = confinement_for(req, settings, ())
        assert c.write == ("/ws",) and c.write_rights == type(req).rights
    assert "write_file" not in MoveArgs.rights and "refer" not in CopyArgs.rights
    assert "truncate" not in MoveAcrossArgs.rights | CopyArgs.rights
