"""Attacks on Move and Copy, each named for itself, against a real server on both backends:
symlinks to outside on every side of a move, the roots, protected paths (by name, by case,
through links, as ancestors and as destinations), links into /proc, read-only roots, hard
links to files outside, and directories swapped for symlinks while a copy or a move runs."""
from __future__ import annotations

import contextlib
import os
import threading
from functools import partial
from pathlib import Path

import fsgate
import pytest
from fsgate import Client

from ..integration.transfer_setup import Layout, fails, fresh_dir, fs, layout

__all__ = ["fs", "layout"]  # fixtures


@pytest.fixture
def d(layout: Layout, request: pytest.FixtureRequest) -> Path:
    path = fresh_dir(layout.ws, request)
    (path / "a").write_bytes(b"mine")
    return path


SECRET = b"top secret\n"


# --- symlinks to outside --------------------------------------------------------------------

def test_move_into_a_symlink_to_outside_is_denied(layout: Layout, fs: Client, d: Path) -> None:
    (d / "out").symlink_to(layout.outside)
    fails(layout, lambda: fs.move(d / "a", d / "out" / "a"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")
    fails(layout, lambda: fs.move(d / "a", d / "out" / "new" / "a", create_parents=True),
          "PERMISSION_DENIED", "SANDBOX_DENIED")
    fails(layout, lambda: fs.copy(d / "a", d / "out" / "a"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")


def test_move_out_of_a_symlink_to_outside_is_denied(layout: Layout, fs: Client, d: Path) -> None:
    (d / "out").symlink_to(layout.outside)
    err = fails(layout, lambda: fs.move(d / "out" / "secret.txt", d / "stolen"),
                "PERMISSION_DENIED", "SANDBOX_DENIED")
    assert "top secret" not in err.message
    fails(layout, lambda: fs.copy(d / "out" / "secret.txt", d / "stolen"),
          "PERMISSION_DENIED", "SANDBOX_DENIED")
    # whether something exists out there is not told either
    fails(layout, lambda: fs.move(d / "out" / "missing", d / "stolen"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")


def test_move_onto_a_symlink_to_outside_replaces_only_the_link(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "link").symlink_to(layout.outside / "secret.txt")
    (d / "dirlink").symlink_to(layout.outside)
    fails(layout, lambda: fs.move(d / "a", d / "link"), "ALREADY_EXISTS", "ALREADY_EXISTS")
    before = (layout.outside / "secret.txt").read_bytes(), sorted(os.listdir(layout.outside))
    fs.move(d / "a", d / "link", overwrite=True)
    assert not (d / "link").is_symlink() and (d / "link").read_bytes() == b"mine"
    fs.move(d / "link", d / "dirlink", overwrite=True)  # a link to a directory: also the link
    assert (d / "dirlink").read_bytes() == b"mine"
    assert ((layout.outside / "secret.txt").read_bytes(), sorted(os.listdir(layout.outside))) \
        == before


def test_copy_onto_a_symlink_to_outside_replaces_only_the_link(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "link").symlink_to(layout.outside / "secret.txt")
    fs.copy(d / "a", d / "link", overwrite=True)
    assert not (d / "link").is_symlink() and (d / "link").read_bytes() == b"mine"
    assert (layout.outside / "secret.txt").read_bytes() == SECRET


# --- the roots ------------------------------------------------------------------------------

def test_moving_a_root_is_refused(layout: Layout, fs: Client, d: Path) -> None:
    err = fails(layout, lambda: fs.move(layout.ws2, d / "stolen-root"), "PERMISSION_DENIED",
                "PROTECTED_PATH")
    assert err.path == str(layout.ws2)
    fails(layout, lambda: fs.move(f"{layout.ws2}/.", d / "stolen-root"), "PERMISSION_DENIED",
          "PROTECTED_PATH")


def test_replacing_a_root_is_refused(layout: Layout, fs: Client, d: Path) -> None:
    (d / "empty").mkdir()
    fails(layout, lambda: fs.move(d / "empty", layout.ws2, overwrite=True), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.copy(d / "empty", layout.ws2, recursive=True, overwrite=True),
          "PERMISSION_DENIED", "PROTECTED_PATH")


def test_replacing_a_root_through_a_link_above_it_is_denied(layout: Layout, fs: Client,
                                                            d: Path) -> None:
    (d / "empty").mkdir()
    (d / "up").symlink_to(layout.base)  # the directory that holds the roots: not served
    fails(layout, lambda: fs.move(d / "empty", d / "up" / "ws2", overwrite=True),
          "PERMISSION_DENIED", "SANDBOX_DENIED")
    fails(layout, lambda: fs.move(d / "up" / "ws2", d / "stolen-root"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")


# --- protected paths ------------------------------------------------------------------------

@pytest.fixture
def repo(d: Path) -> Path:
    (d / "repo" / ".git" / "hooks").mkdir(parents=True)
    (d / "repo" / ".git" / "config").write_text("[core]\n")
    (d / "repo" / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\n")
    (d / "repo" / "code.py").write_text("print()\n")
    (d / "g").symlink_to("repo/.git")
    return d / "repo"


def test_move_of_a_protected_path_is_refused(layout: Layout, fs: Client, d: Path,
                                             repo: Path) -> None:
    for path in (repo / ".git" / "config", repo / ".git" / "hooks" / "pre-commit",
                 repo / ".git" / "hooks"):
        fails(layout, partial(fs.move, path, d / "x"), "PERMISSION_DENIED", "PROTECTED_PATH")


def test_move_of_a_protected_path_by_case_is_refused(layout: Layout, fs: Client,
                                                     d: Path) -> None:
    (d / "r" / ".GIT").mkdir(parents=True)
    (d / "r" / ".GIT" / "Config").write_text("[core]\n")
    fails(layout, lambda: fs.move(d / "r" / ".GIT" / "Config", d / "x"), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.move(d / "r", d / "x"), "PERMISSION_DENIED", "PROTECTED_PATH")


def test_move_of_a_protected_path_through_a_link_is_refused(layout: Layout, fs: Client,
                                                            d: Path, repo: Path) -> None:
    fails(layout, lambda: fs.move(d / "g" / "config", d / "x"), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.move(d / "g" / "hooks", d / "x"), "PERMISSION_DENIED",
          "PROTECTED_PATH")


def test_move_of_an_ancestor_of_a_protected_path_is_refused(layout: Layout, fs: Client,
                                                            d: Path, repo: Path) -> None:
    fails(layout, lambda: fs.move(repo / ".git", d / "git2"), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.move(repo, d / "repo2"), "PERMISSION_DENIED", "PROTECTED_PATH")
    fails(layout, lambda: fs.move(d, layout.ws2 / "moved"), "PERMISSION_DENIED",
          "PROTECTED_PATH")


def test_move_onto_a_protected_path_is_refused(layout: Layout, fs: Client, d: Path,
                                               repo: Path) -> None:
    for dest in (repo / ".git" / "config", repo / ".git" / "CONFIG", d / "g" / "config",
                 repo / ".git" / "hooks" / "post-merge", d / "g" / "hooks" / "new"):
        fails(layout, partial(fs.move, d / "a", dest, overwrite=True), "PERMISSION_DENIED",
              "PROTECTED_PATH")


def test_move_of_a_tree_that_would_become_a_protected_path_is_refused(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "evil" / "hooks").mkdir(parents=True)
    (d / "evil" / "config").write_text("[core]\n\thooksPath = /tmp/x\n")
    (d / "evil" / "hooks" / "post-checkout").write_text("#!/bin/sh\n")
    (d / "fresh").mkdir()
    fails(layout, lambda: fs.move(d / "evil", d / "fresh" / ".git"), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.move(d / "evil", d / "fresh" / ".Git"), "PERMISSION_DENIED",
          "PROTECTED_PATH")
    fails(layout, lambda: fs.copy(d / "evil", d / "fresh" / ".git", recursive=True),
          "PERMISSION_DENIED", "PROTECTED_PATH")


def test_copy_onto_a_protected_path_is_refused(layout: Layout, fs: Client, d: Path,
                                               repo: Path) -> None:
    for dest in (repo / ".git" / "config", repo / ".GIT" / "config", d / "g" / "config",
                 d / "g" / "hooks" / "pre-push"):
        fails(layout, partial(fs.copy, d / "a", dest, overwrite=True), "PERMISSION_DENIED",
              "PROTECTED_PATH")


def test_copy_of_a_tree_holding_protected_paths_is_refused_and_leaves_nothing(
        layout: Layout, fs: Client, d: Path, repo: Path) -> None:
    fails(layout, lambda: fs.copy(repo, d / "clone", recursive=True), "PERMISSION_DENIED",
          "PROTECTED_PATH")


def test_copy_of_a_protected_path_is_a_read_and_allowed(fs: Client, d: Path,
                                                        repo: Path) -> None:
    fs.copy(repo / ".git" / "config", d / "config.txt")
    assert (d / "config.txt").read_text() == "[core]\n"


# --- links that lead nowhere good -----------------------------------------------------------

def test_copy_of_a_symlink_to_outside_copies_the_link_and_never_reads_its_target(
        layout: Layout, fs: Client, d: Path) -> None:
    os.mkfifo(layout.outside / "fifo")  # opened for reading, it would block the helper
    try:
        (d / "to-secret").symlink_to(layout.outside / "secret.txt")
        (d / "to-fifo").symlink_to(layout.outside / "fifo")
        for name in ("to-secret", "to-fifo"):
            result = fs.copy(d / name, d / f"copy-{name}")
            assert os.readlink(d / f"copy-{name}") == os.readlink(d / name)
            assert result.bytes_copied == 0 and result.info.size == len(os.readlink(d / name))
        (d / "tree").mkdir()
        (d / "tree" / "l").symlink_to(layout.outside / "fifo")
        assert fs.copy(d / "tree", d / "tree2", recursive=True).bytes_copied == 0
        assert os.readlink(d / "tree2" / "l") == str(layout.outside / "fifo")
    finally:
        os.unlink(layout.outside / "fifo")
    assert (layout.outside / "secret.txt").read_bytes() == SECRET


@pytest.mark.parametrize("target", ["/proc/self/fd/0", "/proc/self/root/etc/passwd",
                                    "/proc/self/environ", "/proc/self/cwd"])
def test_copy_of_a_proc_self_link_copies_the_link_text(fs: Client, d: Path,
                                                       target: str) -> None:
    (d / "p").symlink_to(target)
    result = fs.copy(d / "p", d / "copy")
    assert os.readlink(d / "copy") == target and result.bytes_copied == 0
    (d / "tree").mkdir()
    (d / "tree" / "p").symlink_to(target)
    fs.copy(d / "tree", d / "tree2", recursive=True)
    assert os.readlink(d / "tree2" / "p") == target


def test_copy_through_a_proc_self_link_is_denied(layout: Layout, fs: Client, d: Path) -> None:
    (d / "root").symlink_to("/proc/self/root")
    fails(layout, lambda: fs.copy(d / "root" / "etc" / "passwd", d / "passwd"),
          "PERMISSION_DENIED", "SANDBOX_DENIED")
    fails(layout, lambda: fs.copy("/proc/self/root/etc/passwd", d / "passwd"),
          "PERMISSION_DENIED", "OUTSIDE_POLICY")
    fails(layout, lambda: fs.move(d / "root" / "etc" / "passwd", d / "passwd"),
          "PERMISSION_DENIED", "SANDBOX_DENIED")


def test_copy_into_a_read_only_root_is_refused(layout: Layout, fs: Client, d: Path) -> None:
    (d / "rol").symlink_to(layout.ro)
    (d / "tree").mkdir()
    (d / "tree" / "f").write_bytes(b"f")
    fails(layout, lambda: fs.copy(d / "a", layout.ro / "a"), "PERMISSION_DENIED",
          "OUTSIDE_POLICY")
    fails(layout, lambda: fs.copy(d / "a", layout.ro / "keep.txt", overwrite=True),
          "PERMISSION_DENIED", "OUTSIDE_POLICY")
    fails(layout, lambda: fs.copy(d / "a", d / "rol" / "a"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")
    fails(layout, lambda: fs.copy(d / "tree", d / "rol" / "tree", recursive=True),
          "PERMISSION_DENIED", "SANDBOX_DENIED")
    fails(layout, lambda: fs.move(d / "a", d / "rol" / "a"), "PERMISSION_DENIED",
          "SANDBOX_DENIED")


def test_copy_onto_a_hard_link_to_a_file_outside_never_writes_through_it(
        layout: Layout, fs: Client, d: Path) -> None:
    secret = layout.outside / "secret.txt"
    os.link(secret, d / "hl")
    os.link(secret, d / "hl2")
    fs.copy(d / "a", d / "hl", overwrite=True)
    fs.move(d / "a", d / "hl2", overwrite=True)
    assert (d / "hl").read_bytes() == b"mine" and (d / "hl2").read_bytes() == b"mine"
    assert secret.read_bytes() == SECRET and os.stat(secret).st_nlink == 1


# --- swapped while running ------------------------------------------------------------------

def _swapper(real: Path, link_target: Path, stop: threading.Event) -> threading.Thread:
    """Swap ``real`` (a directory) for a symlink to ``link_target`` and back, as fast as
    renames go, until stopped; ``real`` is a directory again at the end."""
    parked, link = real.with_name(real.name + ".parked"), real.with_name(real.name + ".link")
    link.symlink_to(link_target)

    def run() -> None:
        while not stop.is_set():
            os.rename(real, parked)
            os.rename(link, real)
            os.rename(real, link)
            os.rename(parked, real)

    return threading.Thread(target=run)


def test_recursive_copy_while_a_subdirectory_is_swapped_for_a_symlink_to_outside(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "src" / "sub").mkdir(parents=True)
    (d / "src" / "sub" / "file").write_bytes(b"inside")
    before = sorted(os.listdir(layout.outside))
    stop = threading.Event()
    swapper = _swapper(d / "src" / "sub", layout.outside, stop)
    swapper.start()
    try:
        for i in range(150):
            try:
                fs.copy(d / "src", d / f"dst{i}", recursive=True)
            except fsgate.FsgateError:
                continue  # the swap may make a step fail; it must never reach outside
            for path in (d / f"dst{i}").rglob("*"):
                assert path.is_symlink() or path.is_dir() or path.read_bytes() == b"inside"
    finally:
        stop.set()
        swapper.join()
    assert sorted(os.listdir(layout.outside)) == before
    assert (layout.outside / "secret.txt").read_bytes() == SECRET


def test_move_while_its_parent_is_swapped_for_a_symlink_to_outside(layout: Layout,
                                                                  fs: Client,
                                                                  d: Path) -> None:
    (d / "box").mkdir()
    before = sorted(os.listdir(layout.outside))
    stop = threading.Event()
    swapper = _swapper(d / "box", layout.outside, stop)
    swapper.start()
    moved_in = 0
    try:
        for i in range(150):
            (d / f"f{i}").write_bytes(b"mine")
            try:
                fs.move(d / f"f{i}", d / "box" / f"f{i}")  # into: never lands outside
                moved_in += 1
            except fsgate.FsgateError:
                pass
            with contextlib.suppress(fsgate.FsgateError):  # out of: never takes
                fs.move(d / "box" / "secret.txt", d / f"got{i}")
    finally:
        stop.set()
        swapper.join()
    assert sorted(os.listdir(layout.outside)) == before
    assert (layout.outside / "secret.txt").read_bytes() == SECRET
    assert not list(d.glob("got*"))
    assert len(os.listdir(d / "box")) == moved_in
