"""Attacks on the helper's path resolution (issue 10: items 1, 2, 4, 5, 9-13, 15), one test
per attack on a real server of each backend. Each refusal asserts the status code and the
reason, and that nothing changed on disk."""
from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

SECRET = "top secret"


def outside(served: ServerProcess) -> Path:
    return served.root.parent / "outside"


def denied(call: Callable[..., object]) -> fsgate.FsgateError:
    """`call()` fails SANDBOX_DENIED (`...`: a lambda may bind loop variables as defaults)."""
    with pytest.raises(fsgate.SandboxDenied) as err:
        call()
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "SANDBOX_DENIED"
    assert SECRET not in str(err.value)
    return err.value


def every_op_denied(c: Client, path: Path) -> None:
    """Stat (following), ReadFile, ListDir and WriteFile of path: all SANDBOX_DENIED."""
    denied(lambda: c.stat(str(path), follow_symlinks=True))
    denied(lambda: c.read_file(str(path)))
    denied(lambda: list(c.list_dir(str(path))))
    denied(lambda: c.write_file(str(path), b"pwned"))


def deny(ws: Path, rel: str) -> Policy:
    return Policy(writable_roots=(str(ws),), denied_paths=(str(ws / rel),))


@pytest.fixture
def threads() -> Iterator[list[threading.Thread]]:
    started: list[threading.Thread] = []
    yield started
    for t in started:
        t.join()


# --- item 2: no existence oracle through a link that passes outside ---------------------

@pytest.mark.parametrize("shape", ["dir", "file", "missing"])
def test_link_through_outside_dotdot_is_denied_whatever_exists_outside(
        client: Client, served: ServerProcess, ws: Path, shape: str) -> None:
    out = outside(served)
    probe = out / f"probe-{shape}-{served.backend}"
    if shape == "dir":
        probe.mkdir()
    elif shape == "file":
        probe.write_text("x")
    (ws / "real.txt").write_text("inside")
    # ws is <base>/ws/<test>: up twice is <base>, where outside/ lives.
    (ws / "f").symlink_to(f"../../outside/{probe.name}/../../ws/{ws.name}/real.txt")
    (ws / "d").symlink_to(f"../../outside/{probe.name}/../../ws/{ws.name}")
    before_out, before_ws = snapshot(out), snapshot(ws)
    every_op_denied(client, ws / "f")
    denied(lambda: client.stat(str(ws / "d" / "real.txt")))
    denied(lambda: client.write_file(str(ws / "d" / "new.txt"), b"x"))
    assert snapshot(out) == before_out
    assert snapshot(ws) == before_ws


def test_missing_name_reached_outside_is_denied_not_not_found(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "out").symlink_to(outside(served))
    denied(lambda: client.stat(str(ws / "out" / "no-such-file")))
    denied(lambda: client.stat(str(ws / "out" / "secret.txt" / "below")))
    denied(lambda: client.read_file(str(ws / "out" / "secret.txt")))


# --- item 10: links to the helper's own descriptors and namespaces ----------------------

@pytest.mark.parametrize("target", [*(f"/proc/self/fd/{n}" for n in range(8)),
                                    "/proc/self/ns/net", "/proc/self/ns/mnt",
                                    "/proc/thread-self/fd/3", "/dev/fd/3"])
def test_link_to_proc_self_fd_or_ns_is_sandbox_denied(client: Client, ws: Path,
                                                      target: str) -> None:
    (ws / "magic").symlink_to(target)
    before = snapshot(ws)
    every_op_denied(client, ws / "magic")
    denied(lambda: client.stat(str(ws / "magic" / "x")))
    assert client.stat(str(ws / "magic")).symlink_target == target  # the link itself
    assert snapshot(ws) == before


# --- item 1 and 9: a deep listing while a directory is swapped for a link ---------------

def _swap_dir_for_link(stop: threading.Event, spot: Path, bad: Path) -> None:
    """spot is a directory half of the time, a link to bad the other half."""
    parked = spot.with_name(spot.name + ".parked")
    link = spot.with_name(spot.name + ".link")
    link.symlink_to(bad)
    for n in range(100000):
        if stop.is_set() and n >= 200:
            break
        os.rename(spot, parked)
        os.rename(link, spot)
        os.rename(spot, link)
        os.rename(parked, spot)


def test_deep_listing_never_shows_outside_metadata_while_a_dir_becomes_a_link(
        client: Client, served: ServerProcess, ws: Path,
        threads: list[threading.Thread]) -> None:
    # The same names on both sides: only their facts tell them apart.
    out = outside(served) / f"lure-{served.backend}"
    out.mkdir()
    sub = ws / "p" / "sub"
    sub.mkdir(parents=True)
    for i in range(20):
        (out / f"entry-{i}").write_bytes(b"o" * 12345)
        (sub / f"entry-{i}").write_text("in")
    (out / "entry-link").symlink_to("outside-target")
    (sub / "entry-link").write_text("in")
    stop = threading.Event()
    t = threading.Thread(target=_swap_dir_for_link, args=(stop, sub, out))
    threads.append(t)
    t.start()
    try:
        for _ in range(150):
            entries = list(client.list_dir(str(ws / "p"), depth=2))  # never INTERNAL
            for e in entries:
                assert "outside" not in e.name
                assert e.info.size != 12345
                if e.info.symlink_target is not None:  # only the swapping link itself
                    assert e.name in ("sub", "sub.link", "sub.parked")
                    assert e.info.symlink_target == str(out)
    finally:
        stop.set()


def test_leaf_swapped_for_link_during_writes_is_never_internal(
        client: Client, served: ServerProcess, ws: Path,
        threads: list[threading.Thread]) -> None:
    before = snapshot(outside(served))
    spot = ws / "spot"
    spot.write_text("inside")
    stop = threading.Event()

    def swap() -> None:  # spot is the file half of the time, a link to outside otherwise
        parked, link = ws / "spot.parked", ws / "spot.link"
        link.symlink_to(outside(served) / "secret.txt")
        for n in range(100000):
            if stop.is_set() and n >= 200:
                break
            with contextlib.suppress(FileNotFoundError):  # our write may have renamed it
                os.rename(spot, parked)
            os.rename(link, spot)
            os.rename(spot, link)
            with contextlib.suppress(FileNotFoundError):
                os.rename(parked, spot)

    t = threading.Thread(target=swap)
    threads.append(t)
    t.start()
    try:
        for _ in range(150):
            with contextlib.suppress(fsgate.SandboxDenied, fsgate.NotRegularFile):
                client.write_file(str(spot), b"new")
    finally:
        stop.set()
    assert snapshot(outside(served)) == before


# --- item 15: a write to a symlink loop -------------------------------------------------

def test_write_to_symlink_loop_is_symlink_loop(client: Client, ws: Path) -> None:
    (ws / "self").symlink_to("self")
    (ws / "a").symlink_to("b")
    (ws / "b").symlink_to("a")
    before = snapshot(ws)
    for name in ("self", "a"):
        with pytest.raises(fsgate.SymlinkLoop) as err:
            client.write_file(str(ws / name), b"x")
        assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
        assert err.value.reason == "SYMLINK_LOOP"
        with pytest.raises(fsgate.SymlinkLoop):
            client.write_file(str(ws / name / "below"), b"x", create_parents=True)
        with pytest.raises(fsgate.SymlinkLoop):
            client.stat(str(ws / name), follow_symlinks=True)
    assert snapshot(ws) == before


def test_write_through_leaf_link_lands_in_the_target(client: Client, ws: Path) -> None:
    (ws / "dir").mkdir()
    (ws / "dir" / "real.txt").write_text("old")
    (ws / "hop").symlink_to("dir/../dir/real.txt")
    (ws / "hop2").symlink_to(ws / "hop")
    client.write_file(str(ws / "hop2"), b"new")
    assert (ws / "dir" / "real.txt").read_bytes() == b"new"
    assert (ws / "hop").is_symlink() and (ws / "hop2").is_symlink()
    (ws / "dangling").symlink_to("dir/created.txt")
    client.write_file(str(ws / "dangling"), b"made")
    assert (ws / "dir" / "created.txt").read_bytes() == b"made"


# --- item 4: a denied link reached through another alias --------------------------------

def test_denied_alias_is_not_reached_through_a_second_alias(served: ServerProcess,
                                                           ws: Path) -> None:
    (ws / "private").mkdir()
    (ws / "private" / "secret.txt").write_text(SECRET)
    (ws / "alias").symlink_to("private")
    (ws / "alias2").symlink_to("alias")
    (ws / "alias3").symlink_to(ws / "private")
    (ws / "open.txt").write_text("fine")
    before = snapshot(ws)
    with Client(served.target, policy=deny(ws, "alias")) as c:
        for via in ("alias2", "alias3", "private"):
            denied(lambda via=via: c.read_file(str(ws / via / "secret.txt")))
            denied(lambda via=via: list(c.list_dir(str(ws / via))))
            denied(lambda via=via: c.stat(str(ws / via / "secret.txt")))
            denied(lambda via=via: c.write_file(str(ws / via / "new.txt"), b"x"))
            denied(lambda via=via: c.write_file(str(ws / via / "secret.txt"), b"x"))
        names = {e.name for e in c.list_dir(str(ws), depth=2)}
        assert not any(n == "private" or n.startswith("private/") for n in names), names
        assert not any(n.startswith(("alias2/", "alias3/")) for n in names)
        assert {"alias2", "alias3", "open.txt"} <= names
        assert c.read_file(str(ws / "open.txt")) == b"fine"
    assert snapshot(ws) == before


def test_denied_path_through_a_link_denies_the_real_path(served: ServerProcess,
                                                         ws: Path) -> None:
    (ws / "real" / "sub").mkdir(parents=True)
    (ws / "real" / "sub" / "secret.txt").write_text(SECRET)
    (ws / "real" / "other.txt").write_text("fine")
    (ws / "link").symlink_to("real")
    before = snapshot(ws)
    with Client(served.target, policy=deny(ws, "link/sub")) as c:
        denied(lambda: c.read_file(str(ws / "real" / "sub" / "secret.txt")))
        denied(lambda: list(c.list_dir(str(ws / "real" / "sub"))))
        denied(lambda: c.write_file(str(ws / "real" / "sub" / "new"), b"x"))
        assert [e.name for e in c.list_dir(str(ws / "real"))] == ["other.txt"]
    assert snapshot(ws) == before


def test_denied_dangling_link_denies_its_target_when_it_is_created(
        served: ServerProcess, ws: Path) -> None:
    (ws / "later").symlink_to("private-later")
    with Client(served.target, policy=deny(ws, "later")) as c:
        denied(lambda: c.write_file(str(ws / "private-later"), b"x"))
        assert not (ws / "private-later").exists()


# --- item 5: replacing a setuid file ----------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="a set-id file of another user needs root")
def test_replacing_a_setuid_file_never_yields_a_setuid_file(client: Client, ws: Path) -> None:
    target = ws / "tool"
    target.write_bytes(b"#!/bin/sh\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, 0o6755)
    info = client.write_file(str(target), b"#!/bin/sh\nid\n").info
    st = target.lstat()
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert info.mode == 0o755
    assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)


# --- item 11: a symlink whose target is not UTF-8 ---------------------------------------

def test_symlink_with_non_utf8_target_stats_and_lists(client: Client, ws: Path) -> None:
    os.symlink(b"\xff\xfe-target", os.fsencode(ws / "odd"))
    info = client.stat(str(ws / "odd"))
    assert info.type is fsgate.FileType.SYMLINK
    assert info.symlink_target is not None and "\ufffd" in info.symlink_target
    entries = list(client.list_dir(str(ws)))
    assert [e.name for e in entries] == ["odd"]
    assert "\ufffd" in (entries[0].info.symlink_target or "")
    with pytest.raises(fsgate.NotFound):
        client.read_file(str(ws / "odd"))


# --- item 12: pages bounded by bytes, frames that do not inflate ------------------------

def test_page_of_long_non_ascii_names_lists_completely(client: Client, ws: Path) -> None:
    names = {f"{i:04d}" + "\u20ac" * 80 for i in range(1000)}  # 244 bytes each
    for name in names:
        (ws / name).write_bytes(b"")
    entries = list(client.list_dir(str(ws)))
    assert [e.name for e in entries] == sorted(names, key=os.fsencode)


def test_listing_of_4000_byte_non_ascii_relative_paths_pages_by_bytes(client: Client,
                                                                     ws: Path) -> None:
    levels = 15  # non-ASCII too: a frame that escaped it would grow 3x
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    rels: list[str] = []
    prefix = ""
    for level in range(levels):
        name = f"{level:02d}" + "\u00e9" * 124  # 250 bytes
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
        prefix += name + "/"
        rels.append(prefix.rstrip("/"))
    try:
        for i in range(1000):
            name = f"{i:04d}" + "\u20ac" * 78 + "ff"  # 240 bytes
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
            rels.append(prefix + name)
    finally:
        os.close(fd)
    assert len(rels[-1].encode()) > 4000
    pages = []
    token = ""
    while True:
        entries, token = client.list_dir_page(str(ws), depth=levels + 1, page_token=token)
        pages.append(entries)
        if not token:
            break
    assert len(pages) > 1  # 1000 entries of 8 KB do not fit one 4 MiB message
    assert [e.name for page in pages for e in page] == sorted(rels, key=os.fsencode)


# --- item 13: any depth the server allows ------------------------------------------------

def test_listing_at_the_servers_depth_cap_works(tmp_path: Path, backend: str) -> None:
    root = tmp_path / "root"
    deep = root
    for level in range(34):
        deep = deep / f"l{level}"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("x")
    server = start_server(tmp_path, [str(root)], backend, "--max-list-depth", "32")
    try:
        with Client(server.target) as c:
            for depth in (30, 32):
                entries = list(c.list_dir(str(root), depth=depth))
                assert len(entries) == depth
                assert entries[-1].name.count("/") == depth - 1
    finally:
        server.stop()
