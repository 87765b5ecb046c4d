"""Landlock: the kernel refuses what the path sets do not grant."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsgate_server.sandbox import landlock

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """readable/ and writable/ roots, plus outside/ that no rule grants."""
    dirs = {name: tmp_path / name for name in ("readable", "writable", "outside")}
    for path in dirs.values():
        path.mkdir()
    (dirs["readable"] / "data").write_text("public")
    (dirs["outside"] / "secret").write_text("secret")
    (dirs["readable"] / "escape").symlink_to(dirs["outside"] / "secret")
    return dirs


def _restrict(tree: dict[str, Path]) -> int:
    return landlock.restrict(
        read_exec=(), read=(str(tree["readable"]),), write=(str(tree["writable"]),)
    )


def test_abi_version_reports_a_non_negative_int() -> None:
    assert isinstance(landlock.abi_version(), int)
    assert landlock.abi_version() >= 0


def test_landlock_refuses_read_outside_readable_set(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    def child(_fd: int) -> object:
        _restrict(tree)
        inside = (tree["readable"] / "data").read_text()
        return inside, errno_of(lambda: os.open(tree["outside"] / "secret", os.O_RDONLY))

    result = in_child(child)
    assert result.value == ("public", errno.EACCES)


def test_landlock_refuses_listing_a_directory_outside_readable_set(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    def child(_fd: int) -> object:
        _restrict(tree)
        return errno_of(lambda: os.listdir(tree["outside"]))

    assert in_child(child).value == errno.EACCES


def test_landlock_refuses_write_into_read_only_root(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    data = tree["readable"] / "data"

    def child(_fd: int) -> object:
        _restrict(tree)
        return (
            errno_of(lambda: os.open(data, os.O_WRONLY)),
            errno_of(lambda: os.truncate(data, 0)),
            errno_of(lambda: os.unlink(data)),
        )

    assert in_child(child).value == (errno.EACCES,) * 3
    assert data.read_text() == "public"


def test_landlock_refuses_creating_a_file_in_read_only_root(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    new = tree["readable"] / "new"

    def child(_fd: int) -> object:
        _restrict(tree)
        return (
            errno_of(lambda: os.open(new, os.O_WRONLY | os.O_CREAT, 0o600)),
            errno_of(lambda: os.mkdir(new)),
            errno_of(lambda: os.symlink("/etc/passwd", new)),
        )

    assert in_child(child).value == (errno.EACCES,) * 3
    assert not new.exists()


def test_landlock_refuses_symlink_inside_root_pointing_outside(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    def child(_fd: int) -> object:
        _restrict(tree)
        return errno_of(lambda: os.open(tree["readable"] / "escape", os.O_RDONLY))

    assert in_child(child).value == errno.EACCES


def test_landlock_refuses_executing_from_readable_root(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    true = tree["readable"] / "true"
    shutil.copy(shutil.which("true") or "/bin/true", true)

    def child(_fd: int) -> object:
        _restrict(tree)
        return errno_of(lambda: os.execv(true, [str(true)]))

    assert in_child(child).value == errno.EACCES


def test_landlock_allows_ordinary_work_in_writable_root(
    in_child: Runner, landlock_abi: int, tree: dict[str, Path]
) -> None:
    w = tree["writable"]

    def child(_fd: int) -> object:
        _restrict(tree)
        (w / "sub").mkdir()
        (w / "sub" / "tmp").write_text("new")
        os.truncate(w / "sub" / "tmp", 2)
        os.replace(w / "sub" / "tmp", w / "final")  # REFER: rename across directories
        os.symlink("final", w / "link")
        os.unlink(w / "link")
        os.rmdir(w / "sub")
        return (w / "final").read_text()

    assert in_child(child).value == "ne"


def test_landlock_refuses_fifos_and_devices_in_writable_root(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    w = tree["writable"]

    def child(_fd: int) -> object:
        _restrict(tree)
        return (
            errno_of(lambda: os.mkfifo(w / "fifo")),
            errno_of(lambda: os.mknod(w / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))),
        )

    assert in_child(child).value == (errno.EACCES, errno.EACCES)


def test_landlock_rule_on_a_file_grants_only_that_file(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    (tree["readable"] / "other").write_text("other")

    def child(_fd: int) -> object:
        landlock.restrict(read_exec=(), read=(str(tree["readable"] / "data"),), write=())
        return (
            (tree["readable"] / "data").read_text(),
            errno_of(lambda: os.open(tree["readable"] / "other", os.O_RDONLY)),
        )

    assert in_child(child).value == ("public", errno.EACCES)


def test_landlock_skips_paths_that_do_not_exist(
    in_child: Runner, landlock_abi: int, tree: dict[str, Path]
) -> None:
    def child(_fd: int) -> object:
        missing = (str(tree["outside"] / "missing"), str(tree["readable"] / "data" / "x"))
        abi = landlock.restrict(read_exec=missing, read=(str(tree["readable"]),), write=())
        return abi, (tree["readable"] / "data").read_text()

    assert in_child(child).value == (landlock_abi, "public")


def test_landlock_refuses_tcp_connect_and_bind_without_seccomp(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    if landlock_abi < 4:
        pytest.skip(f"Landlock TCP rules need ABI >= 4, kernel has {landlock_abi}")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def child(_fd: int) -> object:
            with socket.create_connection(("127.0.0.1", port)):
                pass  # control: the port is reachable before confinement
            _restrict(tree)
            with socket.socket() as s, socket.socket() as b:
                return (
                    errno_of(lambda: s.connect(("127.0.0.1", port))),
                    errno_of(lambda: b.bind(("127.0.0.1", 0))),
                )

        assert in_child(child).value == (errno.EACCES, errno.EACCES)


def test_landlock_scope_refuses_signalling_a_process_outside_the_sandbox(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    if landlock_abi < 6:
        pytest.skip(f"Landlock scopes need ABI >= 6, kernel has {landlock_abi}")
    r, w = os.pipe()
    victim = os.fork()
    if victim == 0:  # blocks until the pipe closes
        try:
            os.close(w)
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    try:

        def child(_fd: int) -> object:
            _restrict(tree)
            return errno_of(lambda: os.kill(victim, 15))

        assert in_child(child).value == errno.EPERM
    finally:
        os.close(w)
        _, status = os.waitpid(victim, 0)
    assert os.WIFEXITED(status)  # the victim was never signalled


def test_landlock_scope_refuses_abstract_unix_socket_outside_the_sandbox(
    in_child: Runner, errno_of: Callable[..., int | None], landlock_abi: int, tree: dict[str, Path]
) -> None:
    if landlock_abi < 6:
        pytest.skip(f"Landlock scopes need ABI >= 6, kernel has {landlock_abi}")
    name = f"\0fsgate-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(name)
        listener.listen()

        def child(_fd: int) -> object:
            _restrict(tree)
            with socket.socket(socket.AF_UNIX) as s:
                return errno_of(lambda: s.connect(name))

        assert in_child(child).value == errno.EPERM


def test_landlock_restrict_raises_unavailable_before_touching_the_process(
    in_child: Runner,
) -> None:
    def child(_fd: int) -> object:
        try:
            landlock.restrict(read_exec=(), read=(), write=(), abi=0)
        except landlock.LandlockUnavailable:
            with open("/proc/self/status") as f:
                return [line.split()[1] for line in f if line.startswith("NoNewPrivs")]
        return "no exception"

    assert in_child(child).value == ["0"]


def test_write_rights_name_every_write_right_once() -> None:
    """Request.rights names come from landlock.RIGHTS; together they are the whole write
    mask, and an unknown name is refused rather than silently granting nothing."""
    assert set(landlock.RIGHTS) == {"write_file", "truncate", "make_reg", "make_dir",
                                    "make_sym", "remove_file", "remove_dir", "refer"}
    assert landlock.write_access(None) == landlock.write_access(landlock.RIGHTS)
    with pytest.raises(ValueError, match="unknown Landlock rights"):
        landlock.write_access({"chmod"})
