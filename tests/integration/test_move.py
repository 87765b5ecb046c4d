"""Move against a real server, both backends: every option round-trips, every failure of
SPEC §1.1 is sent with its code and reason and changes nothing."""
from __future__ import annotations

import asyncio
import os
import stat
from functools import partial
from pathlib import Path

import fsgate
import pytest
from fsgate import Client, FileType, Policy

from .transfer_setup import (
    MAX_ENTRIES,
    Layout,
    d,
    fails,
    fresh_dir,
    fs,
    layout,
    no_temporaries,
)

__all__ = ["d", "fs", "layout"]  # fixtures


def test_move_renames_a_file_and_describes_the_destination(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"content")
    result = fs.move(d / "a", d / "b")
    assert (d / "b").read_bytes() == b"content" and not (d / "a").exists()
    assert (result.info.path, result.info.type, result.info.size) == (
        str(d / "b"), FileType.REGULAR, 7)
    assert result.info.version == fs.stat(d / "b").version


def test_move_keeps_the_inode_mode_and_times(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"x")
    os.chmod(d / "a", 0o640)
    before = os.stat(d / "a")
    fs.move(d / "a", d / "b")
    after = os.stat(d / "b")
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (
        before.st_ino, before.st_mode, before.st_mtime_ns)


def test_move_without_overwrite_refuses_an_existing_destination(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "b").write_bytes(b"old")
    err = fails(layout, lambda: fs.move(d / "a", d / "b"), "ALREADY_EXISTS", "ALREADY_EXISTS")
    assert err.path == str(d / "b")  # the error names the path at fault
    assert isinstance(err, FileExistsError)


def test_move_with_overwrite_replaces_a_file(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "b").write_bytes(b"old")
    fs.move(d / "a", d / "b", overwrite=True)
    assert (d / "b").read_bytes() == b"new" and not (d / "a").exists()


def test_move_with_overwrite_replaces_a_symlink_not_its_target(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "target").write_bytes(b"target")
    (d / "link").symlink_to("target")
    fs.move(d / "a", d / "link", overwrite=True)
    assert not (d / "link").is_symlink() and (d / "link").read_bytes() == b"new"
    assert (d / "target").read_bytes() == b"target"


def test_move_with_overwrite_replaces_an_empty_directory(fs: Client, d: Path) -> None:
    (d / "src").mkdir()
    (d / "src" / "f").write_bytes(b"f")
    (d / "empty").mkdir()
    fs.move(d / "src", d / "empty", overwrite=True)
    assert (d / "empty" / "f").read_bytes() == b"f" and not (d / "src").exists()


def test_move_with_overwrite_onto_a_non_empty_directory_fails_not_empty(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "src").mkdir()
    (d / "full").mkdir()
    (d / "full" / "keep").write_bytes(b"keep")
    err = fails(layout, lambda: fs.move(d / "src", d / "full", overwrite=True),
                "FAILED_PRECONDITION", "NOT_EMPTY")
    assert isinstance(err, fsgate.NotEmpty) and err.path == str(d / "full")


def test_move_with_overwrite_of_a_file_onto_a_directory_fails_is_a_directory(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    (d / "dir").mkdir()
    fails(layout, lambda: fs.move(d / "a", d / "dir", overwrite=True),
          "FAILED_PRECONDITION", "IS_A_DIRECTORY")


def test_move_with_overwrite_of_a_directory_onto_a_file_fails_not_a_directory(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "dir").mkdir()
    (d / "a").write_bytes(b"a")
    fails(layout, lambda: fs.move(d / "dir", d / "a", overwrite=True),
          "FAILED_PRECONDITION", "NOT_A_DIRECTORY")


def test_move_creates_missing_parents_when_asked(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    fs.move(d / "a", d / "x" / "y" / "a", create_parents=True)
    assert (d / "x" / "y" / "a").read_bytes() == b"a"
    assert stat.S_IMODE(os.stat(d / "x").st_mode) == 0o755


def test_move_without_create_parents_fails_not_found(layout: Layout, fs: Client,
                                                      d: Path) -> None:
    (d / "a").write_bytes(b"a")
    err = fails(layout, lambda: fs.move(d / "a", d / "x" / "a"), "NOT_FOUND", "NOT_FOUND")
    assert err.path == str(d / "x" / "a")


def test_move_of_a_missing_source_fails_not_found(layout: Layout, fs: Client, d: Path) -> None:
    err = fails(layout, lambda: fs.move(d / "missing", d / "b"), "NOT_FOUND", "NOT_FOUND")
    assert err.path == str(d / "missing")


def test_move_of_a_directory_into_itself_fails_invalid_request(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "dir" / "sub").mkdir(parents=True)
    fails(layout, lambda: fs.move(d / "dir", d / "dir" / "sub" / "x"),
          "INVALID_ARGUMENT", "INVALID_REQUEST")
    fails(layout, lambda: fs.move(d / "dir", d / "dir" / "new" / "x", create_parents=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")


def test_move_of_a_directory_into_itself_through_a_link_fails_invalid_request(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "dir").mkdir()
    (d / "alias").symlink_to("dir")
    fails(layout, lambda: fs.move(d / "dir", d / "alias" / "x"),
          "INVALID_ARGUMENT", "INVALID_REQUEST")


def test_move_onto_itself_fails_invalid_request(layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    os.link(d / "a", d / "hard")
    (d / "here").symlink_to(".")
    fails(layout, lambda: fs.move(d / "a", d / "a", overwrite=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")
    fails(layout, lambda: fs.move(d / "a", d / "here" / "a", overwrite=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")
    # rename(2) of one inode onto another of its names would do nothing and succeed
    fails(layout, lambda: fs.move(d / "a", d / "hard", overwrite=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")


def test_move_moves_a_symlink_as_the_link(fs: Client, d: Path) -> None:
    (d / "target").write_bytes(b"t")
    (d / "link").symlink_to("target")
    (d / "dangling").symlink_to("no/such")
    info = fs.move(d / "link", d / "moved").info
    assert (info.type, info.symlink_target) == (FileType.SYMLINK, "target")
    assert os.readlink(d / "moved") == "target" and (d / "target").read_bytes() == b"t"
    fs.move(d / "dangling", d / "still-dangling")
    assert os.readlink(d / "still-dangling") == "no/such"


def test_move_moves_a_whole_tree(fs: Client, d: Path) -> None:
    (d / "t" / "a" / "b").mkdir(parents=True)
    (d / "t" / "a" / "b" / "f").write_bytes(b"deep")
    (d / "t" / "l").symlink_to("a/b/f")
    info = fs.move(d / "t", d / "u").info
    assert info.type is FileType.DIRECTORY
    assert (d / "u" / "l").read_bytes() == b"deep" and not (d / "t").exists()


def test_move_of_a_fifo_fails_not_regular_file(layout: Layout, fs: Client, d: Path) -> None:
    os.mkfifo(d / "fifo")
    fails(layout, lambda: fs.move(d / "fifo", d / "b"), "FAILED_PRECONDITION",
          "NOT_REGULAR_FILE")


def test_move_between_two_roots(layout: Layout, fs: Client, d: Path,
                                request: pytest.FixtureRequest) -> None:
    other = fresh_dir(layout.ws2, request)
    (d / "f").write_bytes(b"file")
    (d / "t" / "s").mkdir(parents=True)
    (d / "t" / "s" / "g").write_bytes(b"tree")
    fs.move(d / "f", other / "f")
    fs.move(d / "t", other / "t")
    assert (other / "f").read_bytes() == b"file" and (other / "t" / "s" / "g").read_bytes() == \
        b"tree"
    assert os.listdir(d) == [] and no_temporaries(other)


@pytest.fixture
def far(layout: Layout, request: pytest.FixtureRequest) -> Path:
    if layout.other_fs is None:
        pytest.skip("no second file system here (mounting a tmpfs needs root)")
    return fresh_dir(layout.other_fs, request)


def test_move_across_file_systems_copies_then_removes(layout: Layout, fs: Client, d: Path,
                                                     far: Path) -> None:
    (d / "f").write_bytes(b"file")
    os.chmod(d / "f", 0o600)
    os.utime(d / "f", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    (d / "t" / "s").mkdir(parents=True)
    (d / "t" / "s" / "g").write_bytes(b"tree")
    (d / "t" / "l").symlink_to("s/g")
    os.chmod(d / "t" / "s", 0o750)
    info = fs.move(d / "f", far / "f").info
    assert (info.path, info.size, info.mode) == (str(far / "f"), 4, 0o600)
    assert os.stat(far / "f").st_mtime_ns == 1_600_000_000_000_000_000
    fs.move(d / "t", far / "t")
    assert (far / "t" / "l").read_bytes() == b"tree" and os.readlink(far / "t" / "l") == "s/g"
    assert stat.S_IMODE(os.stat(far / "t" / "s").st_mode) == 0o750
    assert os.listdir(d) == [] and no_temporaries(far)
    assert '"across_file_systems": true' in layout.server.log()  # the copying helper did it


def test_move_across_file_systems_without_overwrite_refuses_an_existing_destination(
        layout: Layout, fs: Client, d: Path, far: Path) -> None:
    (d / "t").mkdir()
    (d / "t" / "f").write_bytes(b"new")
    (far / "t").mkdir()
    fails(layout, lambda: fs.move(d / "t", far / "t"), "ALREADY_EXISTS", "ALREADY_EXISTS")
    (far / "t").rmdir()
    (far / "t").write_bytes(b"old")
    fails(layout, lambda: fs.move(d / "t" / "f", far / "t"), "ALREADY_EXISTS", "ALREADY_EXISTS")
    assert no_temporaries(far)


def test_move_across_file_systems_with_overwrite_onto_a_full_directory_fails_not_empty(
        layout: Layout, fs: Client, d: Path, far: Path) -> None:
    (d / "t").mkdir()
    (d / "t" / "f").write_bytes(b"new")
    (far / "t").mkdir()
    (far / "t" / "keep").write_bytes(b"keep")
    fails(layout, lambda: fs.move(d / "t", far / "t", overwrite=True), "FAILED_PRECONDITION",
          "NOT_EMPTY")
    assert no_temporaries(far)


def test_move_across_file_systems_is_bounded_by_the_write_limit(
        layout: Layout, fs: Client, d: Path, far: Path) -> None:
    (d / "big").write_bytes(b"\0" * ((8 << 20) + 1))
    fails(layout, lambda: fs.move(d / "big", far / "big"), "RESOURCE_EXHAUSTED", "TOO_LARGE")
    assert no_temporaries(far)


def test_move_with_relative_paths_resolves_both_against_cwd(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    policy = Policy(writable_roots=[str(d)], cwd=str(d))
    fs.move("a", "b", policy=policy)
    assert (d / "b").read_bytes() == b"a"
    fs.move(d / "b", "c", policy=policy)  # one relative path needs the cwd too
    assert (d / "c").read_bytes() == b"a"


def test_move_with_a_relative_path_and_no_cwd_fails_cwd_required(layout: Layout, fs: Client,
                                                                 d: Path) -> None:
    (d / "a").write_bytes(b"a")
    fails(layout, lambda: fs.move(d / "a", "b"), "INVALID_ARGUMENT", "CWD_REQUIRED")


def test_move_needs_both_paths_writable(layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    (d / "out").mkdir()
    fails(layout, lambda: fs.move(d / "a", layout.ro / "a"), "PERMISSION_DENIED",
          "OUTSIDE_POLICY")
    fails(layout, lambda: fs.move(layout.ro / "keep.txt", d / "keep.txt"), "PERMISSION_DENIED",
          "OUTSIDE_POLICY")
    narrow = Policy(writable_roots=[str(d / "out")])
    fails(layout, lambda: fs.move(d / "a", d / "out" / "a", policy=narrow), "PERMISSION_DENIED",
          "OUTSIDE_POLICY")


def test_move_of_a_writable_root_of_the_policy_itself_is_denied(layout: Layout, fs: Client,
                                                                d: Path) -> None:
    (d / "out").mkdir()
    policy = Policy(writable_roots=[str(d / "out"), str(d / "other")])
    (d / "other").mkdir()
    # the directory that holds it is not writable: its name cannot change
    fails(layout, lambda: fs.move(d / "out", d / "other" / "out", policy=policy),
          "PERMISSION_DENIED", "SANDBOX_DENIED")


def test_move_of_a_directory_holding_a_denied_path_is_refused(layout: Layout, fs: Client,
                                                              d: Path) -> None:
    (d / "dir" / "private").mkdir(parents=True)
    (d / "dir" / "private" / "key").write_bytes(b"secret")
    policy = Policy(writable_roots=[str(d)], denied_paths=[str(d / "dir" / "private")])
    fails(layout, lambda: fs.move(d / "dir", d / "public", policy=policy), "PERMISSION_DENIED",
          "OUTSIDE_POLICY")
    (d / "empty").mkdir()
    fails(layout, lambda: fs.move(d / "empty", d / "dir", overwrite=True, policy=policy),
          "PERMISSION_DENIED", "OUTSIDE_POLICY")


def test_move_of_a_directory_holding_a_denied_path_through_a_link_is_refused(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "dir" / "private").mkdir(parents=True)
    (d / "alias").symlink_to("dir")
    policy = Policy(writable_roots=[str(d)], denied_paths=[str(d / "alias" / "private")])
    fails(layout, lambda: fs.move(d / "dir", d / "public", policy=policy), "PERMISSION_DENIED",
          "SANDBOX_DENIED")


def test_async_client_moves(layout: Layout, d: Path) -> None:
    (d / "a").write_bytes(b"a")

    async def main() -> fsgate.MoveResult:
        async with fsgate.AsyncClient(layout.server.target) as client:
            return await client.move(d / "a", d / "b")

    assert asyncio.run(main()).info.path == str(d / "b")
    assert (d / "b").read_bytes() == b"a"


def test_move_of_an_invalid_path_fails_invalid_path(layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    for source, dest in ((d / "a", ""), ("", d / "b"), (d / "a", f"{d}/b\0c"),
                         (d / "a", f"{d}/{'n' * 256}")):
        fails(layout, partial(fs.move, source, dest), "INVALID_ARGUMENT", "INVALID_PATH")
        fails(layout, partial(fs.copy, source, dest), "INVALID_ARGUMENT", "INVALID_PATH")


def test_move_through_a_symlink_loop_fails_symlink_loop(layout: Layout, fs: Client,
                                                         d: Path) -> None:
    (d / "a").write_bytes(b"a")
    (d / "loop").symlink_to("loop")
    fails(layout, lambda: fs.move(d / "a", d / "loop" / "a"), "FAILED_PRECONDITION",
          "SYMLINK_LOOP")
    fails(layout, lambda: fs.copy(d / "loop" / "a", d / "b"), "FAILED_PRECONDITION",
          "SYMLINK_LOOP")


def test_move_of_a_tree_larger_than_the_entry_limit_fails_too_large(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "big" / "sub").mkdir(parents=True)
    for i in range(MAX_ENTRIES):  # with sub: one entry more than may be checked
        (d / "big" / "sub" / f"f{i}").write_bytes(b"x")
    fails(layout, lambda: fs.move(d / "big", d / "moved"), "RESOURCE_EXHAUSTED", "TOO_LARGE")
