"""confine: every facility, in order, in one call; all or nothing."""

from __future__ import annotations

import errno
import os
import resource
import socket
import sys
import sysconfig
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsgate_server.sandbox import _syscall
from fsgate_server.sandbox import confine as confine_mod
from fsgate_server.sandbox.confine import Confinement, ConfinementError, confine
from fsgate_server.sandbox.rlimits import Limits

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult
ErrnoOf = Callable[..., int | None]

STDLIB = sysconfig.get_paths()["stdlib"]


def _no_new_privs() -> int:
    return _syscall.prctl(39)  # PR_GET_NO_NEW_PRIVS; /proc is outside the sandbox


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("readable", "writable", "outside")}
    for path in dirs.values():
        path.mkdir()
    (dirs["outside"] / "secret").write_text("secret")
    return dirs


def test_confine_steps_run_in_documented_order() -> None:
    assert [step.__name__ for step in confine_mod.STEPS] == [
        "require_single_thread",
        "close_fds",
        "limit_resources",
        "no_new_privs",
        "restrict_paths",
        "filter_syscalls",
    ]


def test_confine_applies_every_layer(
    in_child: Runner,
    errno_of: ErrnoOf,
    landlock_abi: int,
    roots: dict[str, Path],
    address_space: int,
) -> None:
    stray = os.open("/dev/null", os.O_RDONLY)  # an inherited descriptor the helper must lose
    try:

        def child(report_fd: int) -> object:
            confine(
                Confinement(
                    read_exec=(STDLIB,),
                    read=(str(roots["readable"]),),
                    write=(str(roots["writable"]),),
                    limits=Limits(
                        open_files=32, file_size_bytes=1 << 20, address_space_bytes=address_space
                    ),
                    keep_fds=(report_fd,),
                )
            )
            (roots["writable"] / "out").write_text("written")
            return {
                "read_outside": errno_of(lambda: (roots["outside"] / "secret").read_text()),
                "write_readable": errno_of(lambda: (roots["readable"] / "x").write_text("x")),
                "socket": errno_of(lambda: socket.socket(socket.AF_INET)),
                "stray_fd": errno_of(lambda: os.fstat(stray)),
                "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
                "fsize": resource.getrlimit(resource.RLIMIT_FSIZE),
                "no_new_privs": _no_new_privs(),
            }

        assert in_child(child).value == {
            "read_outside": errno.EACCES,
            "write_readable": errno.EACCES,
            "socket": errno.EPERM,
            "stray_fd": errno.EBADF,
            "nofile": (32, 32),
            "fsize": (1 << 20, 1 << 20),
            "no_new_privs": 1,
        }
        assert (roots["writable"] / "out").read_text() == "written"
    finally:
        os.close(stray)


def _setrlimit_refused() -> bool:
    """Whether even lowering a limit is refused (resource reports EPERM as ValueError)."""
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (16, 16))
    except ValueError:
        return True
    return False


def test_a_forked_helpers_stages_confine_like_confine_does(
    in_child: Runner,
    errno_of: ErrnoOf,
    landlock_abi: int,
    roots: dict[str, Path],
    address_space: int,
) -> None:
    """The fork server's three stages (confine.py): inherit_to_helpers in the fork server,
    BEFORE_REQUEST and prepare_paths while the helper waits, restrict_prepared with the
    request. Here in one process: seccomp filters and no_new_privs survive fork as they are."""
    stray = os.open("/dev/null", os.O_RDONLY)
    try:

        def child(report_fd: int) -> object:
            limits = Limits(open_files=32, file_size_bytes=1 << 20,
                            address_space_bytes=address_space)
            idle = Confinement(read_exec=(STDLIB,), read=(), write=(), limits=limits,
                               keep_fds=(report_fd,))
            confine_mod.inherit_to_helpers()
            for step in confine_mod.BEFORE_REQUEST:
                step(idle)
            ruleset = confine_mod.prepare_paths(idle)
            before = errno_of(lambda: (roots["outside"] / "secret").read_text())
            request = Confinement(read_exec=(STDLIB,), read=(str(roots["readable"]),),
                                  write=(str(roots["writable"]),), limits=limits,
                                  keep_fds=(report_fd,))
            confine_mod.restrict_prepared(ruleset, request)
            (roots["writable"] / "out").write_text("written")
            return {
                "read_outside_before_the_request": before,
                "read_outside": errno_of(lambda: (roots["outside"] / "secret").read_text()),
                "write_readable": errno_of(lambda: (roots["readable"] / "x").write_text("x")),
                "socket": errno_of(lambda: socket.socket(socket.AF_INET)),
                "stray_fd": errno_of(lambda: os.fstat(stray)),
                "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
                "set_limits": _setrlimit_refused(),
                "no_new_privs": _no_new_privs(),
            }

        assert in_child(child).value == {
            "read_outside_before_the_request": None,  # not yet confined to paths
            "read_outside": errno.EACCES,
            "write_readable": errno.EACCES,
            "socket": errno.EPERM,
            "stray_fd": errno.EBADF,
            "nofile": (32, 32),
            "set_limits": True,
            "no_new_privs": 1,
        }
        assert (roots["writable"] / "out").read_text() == "written"
    finally:
        os.close(stray)


def test_a_forked_helper_applies_every_step_but_the_paths_before_its_request() -> None:
    assert [step.__name__ for step in confine_mod.BEFORE_REQUEST] == [
        "require_single_thread", "close_fds", "limit_resources", "no_new_privs",
        "guard_limits"]


def test_confined_child_can_import_a_stdlib_module_not_yet_imported(
    in_child: Runner,
    errno_of: ErrnoOf,
    landlock_abi: int,
    roots: dict[str, Path],
    address_space: int,
) -> None:
    # decimal loads a C extension from lib-dynload; json.tool is pure Python.
    fresh = [m for m in ("decimal", "json.tool") if m not in sys.modules]
    assert fresh, "both probe modules were already imported; pick others"

    def child(report_fd: int) -> object:
        confine(
            Confinement(
                read_exec=(STDLIB,),
                read=(),
                write=(),
                limits=Limits(address_space_bytes=address_space),
                keep_fds=(report_fd,),
            )
        )
        for name in fresh:
            __import__(name)
        import decimal

        return (
            str(decimal.Decimal("1.10") + decimal.Decimal("2.20")),
            errno_of(lambda: (roots["outside"] / "secret").read_text()),
        )

    assert in_child(child).value == ("3.30", errno.EACCES)


def test_confine_refuses_to_run_with_a_second_thread(in_child: Runner) -> None:
    def child(report_fd: int) -> object:
        stop = threading.Event()
        threading.Thread(target=stop.wait, daemon=True).start()
        try:
            confine(Confinement((), (), (), Limits(), (report_fd,)))
        except ConfinementError:
            return _no_new_privs(), resource.getrlimit(resource.RLIMIT_NOFILE)[0] != 64
        finally:
            stop.set()
        return "confined"

    assert in_child(child).value == (0, True)


def test_confine_without_landlock_still_filters_syscalls_and_limits(
    in_child: Runner, errno_of: ErrnoOf, roots: dict[str, Path], address_space: int
) -> None:
    limits = Limits(open_files=32, address_space_bytes=address_space)

    def child(report_fd: int) -> object:
        confine(Confinement((), (), (), limits, (report_fd,), landlock=False))
        return (
            (roots["outside"] / "secret").read_text(),  # bwrap's mount namespace guards this
            errno_of(lambda: socket.socket(socket.AF_INET)),
            resource.getrlimit(resource.RLIMIT_NOFILE),
        )

    assert in_child(child).value == ("secret", errno.EPERM, (32, 32))
