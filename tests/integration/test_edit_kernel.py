"""The kernel is the wall for EditFile too: a helper confined with EditArgs' Landlock rights
can replace a file as the edit does (temporary, link, rename) and nothing more -- no
directory, no symlink, no truncation -- and with its own policy check bypassed (a lying
policy) it still cannot edit a read-only root."""
from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import EditArgs, EditDone, TextEdit
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox import landlock
from fsgate_server.sandbox.confine import Confinement, confine
from fsgate_server.sandbox.rlimits import Limits

from .confined_child import confined_client

pytestmark = pytest.mark.skipif(landlock.abi_version() == 0, reason="Landlock unavailable")

EVERYTHING = EffectivePolicy(readable=("/",), writable=("/",), denied=())


def confined(write: tuple[str, ...], read: tuple[str, ...] = ()) -> Confinement:
    return Confinement(read_exec=runtime_roots(), read=read, write=write,
                       limits=Limits(address_space_bytes=4 << 30), keep_fds=(),
                       write_rights=EditArgs.rights)


def in_confined_child(confinement: Confinement, act: Callable[[], int]) -> int:
    """The errno ``act`` fails with (0: it succeeded) in a child confined as given."""
    pid = os.fork()
    if pid == 0:
        code = 255
        try:
            confine(confinement)
            try:
                act()
                code = 0
            except OSError as exc:
                code = exc.errno or 254
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_edit_rights_replace_a_file_as_the_edit_does(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("old")

    def replace() -> int:  # as writing.TempFile does: linkat(AT_SYMLINK_FOLLOW) on a dir fd
        dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600, dir_fd=dfd)
        os.write(fd, b"new")
        os.link(f"/proc/self/fd/{fd}", ".tmp", dst_dir_fd=dfd, follow_symlinks=True)
        os.rename(".tmp", "f.txt", src_dir_fd=dfd, dst_dir_fd=dfd)
        return 0

    assert in_confined_child(confined((str(tmp_path),)), replace) == 0
    assert (tmp_path / "f.txt").read_text() == "new"


@pytest.mark.parametrize("attempt", ["mkdir", "symlink", "truncate", "rmdir"])
def test_a_helper_with_edit_rights_cannot_do_more(tmp_path: Path, attempt: str) -> None:
    (tmp_path / "f.txt").write_text("keep")
    (tmp_path / "d").mkdir()
    if attempt == "truncate" and landlock.abi_version() < 3:
        pytest.skip("Landlock ABI < 3 cannot refuse truncation")
    acts: dict[str, Callable[[], object]] = {
        "mkdir": lambda: os.mkdir(tmp_path / "new-dir"),
        "symlink": lambda: os.symlink("/etc/passwd", tmp_path / "link"),
        "truncate": lambda: os.truncate(tmp_path / "f.txt", 0),
        "rmdir": lambda: os.rmdir(tmp_path / "d"),
    }

    def act() -> int:
        acts[attempt]()
        return 0

    assert in_confined_child(confined((str(tmp_path),)), act) == errno.EACCES
    assert (tmp_path / "f.txt").read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["d", "f.txt"]


def run_edit(req: EditArgs, confinement: Confinement) -> EditDone | Failure:
    """Run req in a child confined as given (HelperClient on our side)."""
    try:
        with confined_client(confinement, req) as client:
            return client.edit(req, lambda: True)
    except Failure as exc:
        return exc


def test_kernel_refuses_an_edit_of_a_read_only_root_even_when_helper_check_is_bypassed(
        tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "keep.txt").write_text("keep")
    req = EditArgs(str(tmp_path / "ro" / "keep.txt"), EVERYTHING,
                   edits=(TextEdit("keep", "changed"),), max_bytes=1 << 20)
    answer = run_edit(req, confined((str(tmp_path / "ws"),), read=(str(tmp_path / "ro"),)))
    assert isinstance(answer, Failure) and answer.reason.value == "SANDBOX_DENIED", answer
    assert (tmp_path / "ro" / "keep.txt").read_text() == "keep"
    assert os.listdir(tmp_path / "ro") == ["keep.txt"]

    control = run_edit(req, confined((str(tmp_path / "ro"),)))  # the same, allowed
    assert isinstance(control, EditDone) and control.replacements == 1
    assert (tmp_path / "ro" / "keep.txt").read_text() == "changed"
