"""A WatchDir helper's confinement, by the kernel, in a forked child: it may read the
watched tree and nothing else of the root, write nothing, and it alone may use inotify
(every other helper's seccomp filter refuses it)."""
from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsgate_server.helper.messages import Request, StatArgs, WatchArgs
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import EffectivePolicy
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox.confine import confine
from fsgate_server.sandbox.rlimits import Limits

Run = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "root" / "watched" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "watched" / "in.txt").write_text("inside")
    (tmp_path / "root" / "beside.txt").write_text("beside")
    return tmp_path / "root"


def watch_request(tree: Path) -> WatchArgs:
    """What the server sends: the policy narrowed to the watched tree, the namespace the
    request's own (read-write here)."""
    whole = EffectivePolicy(readable=(str(tree),), writable=(str(tree),), denied=())
    narrowed = EffectivePolicy(readable=(str(tree / "watched"),), writable=(), denied=())
    return WatchArgs(str(tree / "watched"), narrowed, namespace=whole, max_dirs=10)


def confined(req: Request, address_space: int, report_fd: int) -> None:
    settings = HelperSettings(runtime_roots=runtime_roots(),
                              limits=Limits(address_space_bytes=address_space))
    confine(confinement_for(req, settings, (report_fd,)))


def inotify_errno() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        return ctypes.get_errno()
    os.close(fd)
    return 0


def test_a_watch_helper_is_confined_to_reading_its_tree(
        in_child: Run, tree: Path, address_space: int, landlock_abi: int) -> None:
    req = watch_request(tree)
    c = confinement_for(req, HelperSettings(runtime_roots=(), limits=Limits()), ())
    assert (c.read, c.write) == ((str(tree / "watched"),), ())

    def child(fd: int) -> object:
        confined(req, address_space, fd)
        out: list[object] = [(tree / "watched" / "in.txt").read_text(),
                             sorted(os.listdir(tree / "watched"))]
        for attempt in (lambda: (tree / "beside.txt").read_text(),
                        lambda: os.listdir(tree),
                        lambda: (tree / "watched" / "in.txt").write_text("changed"),
                        lambda: (tree / "watched" / "new.txt").write_text("new"),
                        lambda: os.mkdir(tree / "watched" / "d"),
                        lambda: os.unlink(tree / "watched" / "in.txt")):
            try:
                attempt()
                out.append("allowed")
            except OSError as exc:
                out.append(exc.errno)
        return out

    result = in_child(child)
    assert result.outcome == "returned", result
    assert result.value == ["inside", ["in.txt", "sub"], *[errno.EACCES] * 6]
    assert (tree / "watched" / "in.txt").read_text() == "inside"
    assert sorted(os.listdir(tree / "watched")) == ["in.txt", "sub"]


def test_only_a_watch_helper_may_use_inotify(in_child: Run, tree: Path,
                                             address_space: int, landlock_abi: int) -> None:
    policy = EffectivePolicy(readable=(str(tree),), writable=(), denied=())
    for req, expected in ((StatArgs(str(tree), policy), errno.EPERM),
                          (watch_request(tree), 0)):
        def child(fd: int, req: Request = req) -> object:
            confined(req, address_space, fd)
            return inotify_errno()

        result = in_child(child)
        assert (result.outcome, result.value) == ("returned", expected), type(req).__name__
