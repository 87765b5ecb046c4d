"""process: the helper dies with its parent and keeps only the descriptors it is given."""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable
from typing import Any

from fsgate_server.sandbox import process

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult


def _open_fds(upto: int = 256) -> list[int]:
    fds = []
    for fd in range(upto):
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.append(fd)
    return fds


def test_parent_death_signal_kills_the_grandchild_when_its_parent_dies() -> None:
    alive_r, alive_w = os.pipe()  # only the grandchild holds alive_w: EOF means it died
    ready_r, ready_w = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(alive_r)
            me = os.getpid()
            if os.fork() == 0:
                try:
                    os.close(ready_r)
                    process.set_parent_death_signal(signal.SIGKILL, expected_parent=me)
                    os.write(ready_w, b"r")
                    while True:
                        signal.pause()  # blocks until the death signal
                finally:
                    os._exit(0)
            os.close(alive_w)
            os.close(ready_w)
            os.read(ready_r, 1)  # the grandchild has armed its death signal
        finally:
            os._exit(0)
    os.close(alive_w)
    os.close(ready_w)
    os.close(ready_r)
    os.waitpid(middle, 0)
    try:
        readable, _, _ = select.select([alive_r], [], [], 10)
        assert readable, "the grandchild outlived its parent"
        assert os.read(alive_r, 1) == b""
    finally:
        os.close(alive_r)


def test_parent_death_signal_exits_when_the_parent_is_already_gone(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        process.set_parent_death_signal(expected_parent=os.getpid())  # never our parent
        return "kept running"

    result = in_child(child)
    assert (result.outcome, result.exit_code) == ("died", 1)


def test_parent_death_signal_keeps_running_under_the_expected_parent(in_child: Runner) -> None:
    parent = os.getpid()

    def child(_fd: int) -> object:
        process.set_parent_death_signal(expected_parent=parent)
        return "kept running"

    assert in_child(child).value == "kept running"


def test_close_fds_except_keeps_only_the_given_fds(in_child: Runner) -> None:
    def child(report_fd: int) -> object:
        extra = [os.open("/dev/null", os.O_RDONLY) for _ in range(5)]
        keep = extra[2]
        process.close_fds_except([report_fd, keep])
        return _open_fds() == sorted([report_fd, keep])

    assert in_child(child).value is True


def test_close_fds_except_keeps_stdio_only_when_asked(in_child: Runner) -> None:
    def child(report_fd: int) -> object:
        process.close_fds_except([0, 2, report_fd])
        return _open_fds()[:2]

    assert in_child(child).value == [0, 2]


def test_set_no_new_privs_is_visible_in_proc(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        process.set_no_new_privs()
        with open("/proc/self/status") as f:
            return [line.split()[1] for line in f if line.startswith("NoNewPrivs")]

    assert in_child(child).value == ["1"]
