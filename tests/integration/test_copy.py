"""Copy against a real server, both backends: every option round-trips, every failure of
SPEC §1.1 is sent with its code and reason and changes nothing (no temporary left)."""
from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import fsgate
import pytest
from fsgate import Client, FileType, Policy

from .transfer_setup import (
    MAX_BYTES,
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


def tree(root: Path) -> dict[str, str]:
    """What a copy must reproduce: each entry's kind, permission bits and content/target."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel, st = str(p.relative_to(root)), p.lstat()
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = f"dir:{stat.S_IMODE(st.st_mode):o}"
        else:
            out[rel] = f"file:{stat.S_IMODE(st.st_mode):o}:" + p.read_bytes().hex()
    return out


def test_copy_of_a_file_keeps_content_and_permission_bits(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"content")
    os.chmod(d / "a", 0o640)
    result = fs.copy(d / "a", d / "b")
    assert (d / "b").read_bytes() == b"content" and (d / "a").read_bytes() == b"content"
    assert stat.S_IMODE(os.stat(d / "b").st_mode) == 0o640
    assert os.stat(d / "b").st_ino != os.stat(d / "a").st_ino
    assert (result.bytes_copied, result.entries_copied) == (7, 1)
    assert (result.info.path, result.info.type, result.info.size, result.info.mode) == (
        str(d / "b"), FileType.REGULAR, 7, 0o640)


def test_copy_never_makes_a_set_id_file(fs: Client, d: Path) -> None:
    (d / "prog").write_bytes(b"#!/bin/sh\n")
    os.chmod(d / "prog", 0o6755)
    fs.copy(d / "prog", d / "copy")
    assert stat.S_IMODE(os.stat(d / "copy").st_mode) == 0o755


def test_copy_of_a_large_file_stays_whole(fs: Client, d: Path) -> None:
    data = os.urandom(5 << 20) + b"tail"
    (d / "big").write_bytes(data)
    assert fs.copy(d / "big", d / "copy").bytes_copied == len(data)
    assert (d / "copy").read_bytes() == data


def test_copy_of_an_empty_file(fs: Client, d: Path) -> None:
    (d / "empty").write_bytes(b"")
    assert fs.copy(d / "empty", d / "copy").bytes_copied == 0
    assert (d / "copy").read_bytes() == b""


def test_copy_without_overwrite_refuses_an_existing_destination(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "b").write_bytes(b"old")
    (d / "link").symlink_to("nowhere")
    err = fails(layout, lambda: fs.copy(d / "a", d / "b"), "ALREADY_EXISTS", "ALREADY_EXISTS")
    assert err.path == str(d / "b")
    fails(layout, lambda: fs.copy(d / "a", d / "link"), "ALREADY_EXISTS", "ALREADY_EXISTS")


def test_copy_with_overwrite_replaces_a_file(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "b").write_bytes(b"old")
    fs.copy(d / "a", d / "b", overwrite=True)
    assert (d / "b").read_bytes() == b"new"


def test_copy_with_overwrite_replaces_a_symlink_never_writing_through_it(fs: Client,
                                                                        d: Path) -> None:
    (d / "a").write_bytes(b"new")
    (d / "target").write_bytes(b"target")
    (d / "link").symlink_to("target")
    fs.copy(d / "a", d / "link", overwrite=True)
    assert not (d / "link").is_symlink() and (d / "link").read_bytes() == b"new"
    assert (d / "target").read_bytes() == b"target"


def test_copy_with_overwrite_of_a_file_onto_a_directory_fails_is_a_directory(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    (d / "dir").mkdir()
    fails(layout, lambda: fs.copy(d / "a", d / "dir", overwrite=True), "FAILED_PRECONDITION",
          "IS_A_DIRECTORY")


def test_copy_of_a_directory_needs_recursive(layout: Layout, fs: Client, d: Path) -> None:
    (d / "dir").mkdir()
    err = fails(layout, lambda: fs.copy(d / "dir", d / "copy"), "FAILED_PRECONDITION",
                "IS_A_DIRECTORY")
    assert isinstance(err, fsgate.IsADirectory) and err.path == str(d / "dir")


def test_recursive_copy_reproduces_the_tree(fs: Client, d: Path) -> None:
    src = d / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f").write_bytes(b"deep")
    (src / "top").write_bytes(b"top")
    (src / "empty").mkdir()
    (src / "link").symlink_to("a/b/f")
    (src / "dangling").symlink_to("no/such")
    os.chmod(src / "top", 0o600)
    os.chmod(src / "a", 0o750)
    os.chmod(src / "a" / "b", 0o555)  # filled first, made read-only after
    result = fs.copy(src, d / "dst", recursive=True)
    assert tree(d / "dst") == tree(src)
    assert (result.bytes_copied, result.entries_copied) == (7, 8)
    assert result.info.type is FileType.DIRECTORY
    os.chmod(src / "a" / "b", 0o755)
    os.chmod(d / "dst" / "a" / "b", 0o755)


def test_recursive_copy_with_overwrite_replaces_an_empty_directory(fs: Client,
                                                                  d: Path) -> None:
    (d / "src").mkdir()
    (d / "src" / "f").write_bytes(b"f")
    (d / "dst").mkdir()
    fs.copy(d / "src", d / "dst", recursive=True, overwrite=True)
    assert (d / "dst" / "f").read_bytes() == b"f"


def test_recursive_copy_with_overwrite_onto_a_full_directory_fails_not_empty(
        layout: Layout, fs: Client, d: Path) -> None:
    (d / "src").mkdir()
    (d / "src" / "f").write_bytes(b"f")
    (d / "dst").mkdir()
    (d / "dst" / "keep").write_bytes(b"keep")
    fails(layout, lambda: fs.copy(d / "src", d / "dst", recursive=True, overwrite=True),
          "FAILED_PRECONDITION", "NOT_EMPTY")


def test_recursive_copy_onto_a_file_fails_not_a_directory(layout: Layout, fs: Client,
                                                         d: Path) -> None:
    (d / "src").mkdir()
    (d / "file").write_bytes(b"f")
    fails(layout, lambda: fs.copy(d / "src", d / "file", recursive=True, overwrite=True),
          "FAILED_PRECONDITION", "NOT_A_DIRECTORY")


def test_copy_of_a_symlink_copies_the_link(fs: Client, d: Path) -> None:
    (d / "target").write_bytes(b"t")
    (d / "link").symlink_to("target")
    result = fs.copy(d / "link", d / "copy")
    assert os.readlink(d / "copy") == "target"
    assert (result.info.type, result.info.symlink_target, result.bytes_copied) == (
        FileType.SYMLINK, "target", 0)
    (d / "other").write_bytes(b"o")
    fs.copy(d / "link", d / "other", overwrite=True)
    assert os.readlink(d / "other") == "target"


def test_copy_of_a_fifo_fails_not_regular_file_and_leaves_nothing(layout: Layout, fs: Client,
                                                                 d: Path) -> None:
    os.mkfifo(d / "fifo")
    fails(layout, lambda: fs.copy(d / "fifo", d / "copy"), "FAILED_PRECONDITION",
          "NOT_REGULAR_FILE")
    (d / "src" / "sub").mkdir(parents=True)
    (d / "src" / "sub" / "f").write_bytes(b"f")
    os.mkfifo(d / "src" / "sub" / "zz-fifo")
    fails(layout, lambda: fs.copy(d / "src", d / "dst", recursive=True),
          "FAILED_PRECONDITION", "NOT_REGULAR_FILE")


def test_copy_of_more_entries_than_the_limit_fails_too_large(layout: Layout, fs: Client,
                                                            d: Path) -> None:
    (d / "src").mkdir()
    for i in range(MAX_ENTRIES + 1):
        (d / "src" / f"f{i}").write_bytes(b"x")
    fails(layout, lambda: fs.copy(d / "src", d / "dst", recursive=True), "RESOURCE_EXHAUSTED",
          "TOO_LARGE")


def test_copy_of_more_bytes_than_the_write_limit_fails_too_large(layout: Layout, fs: Client,
                                                                d: Path) -> None:
    (d / "big").write_bytes(b"\0" * (MAX_BYTES + 1))
    fails(layout, lambda: fs.copy(d / "big", d / "copy"), "RESOURCE_EXHAUSTED", "TOO_LARGE")
    (d / "src").mkdir()
    for name in ("a", "b", "c"):
        (d / "src" / name).write_bytes(b"\0" * (MAX_BYTES // 3 + 1))
    fails(layout, lambda: fs.copy(d / "src", d / "dst", recursive=True), "RESOURCE_EXHAUSTED",
          "TOO_LARGE")


def test_copy_of_a_directory_into_itself_fails_invalid_request(layout: Layout, fs: Client,
                                                               d: Path) -> None:
    (d / "src" / "sub").mkdir(parents=True)
    (d / "alias").symlink_to("src")
    fails(layout, lambda: fs.copy(d / "src", d / "src" / "sub" / "copy", recursive=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")
    fails(layout, lambda: fs.copy(d / "src", d / "alias" / "copy", recursive=True),
          "INVALID_ARGUMENT", "INVALID_REQUEST")


def test_copy_onto_itself_fails_invalid_request(layout: Layout, fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    fails(layout, lambda: fs.copy(d / "a", d / "a", overwrite=True), "INVALID_ARGUMENT",
          "INVALID_REQUEST")


def test_copy_reads_a_read_only_root_and_writes_only_writable_ones(layout: Layout, fs: Client,
                                                                  d: Path) -> None:
    fs.copy(layout.ro / "keep.txt", d / "keep.txt")
    assert (d / "keep.txt").read_text() == "read only\n"
    fails(layout, lambda: fs.copy(d / "keep.txt", layout.ro / "copy.txt"),
          "PERMISSION_DENIED", "OUTSIDE_POLICY")
    fails(layout, lambda: fs.copy(layout.outside / "secret.txt", d / "stolen"),
          "PERMISSION_DENIED", "OUTSIDE_POLICY")


def test_copy_leaves_out_what_the_policy_denies(fs: Client, d: Path) -> None:
    (d / "src" / "private").mkdir(parents=True)
    (d / "src" / "private" / "key").write_bytes(b"secret")
    (d / "src" / "public").write_bytes(b"public")
    policy = Policy(writable_roots=[str(d)], denied_paths=[str(d / "src" / "private")])
    result = fs.copy(d / "src", d / "dst", recursive=True, policy=policy)
    assert sorted(os.listdir(d / "dst")) == ["public"]
    assert result.entries_copied == 2


def test_copy_onto_a_directory_holding_a_denied_path_is_refused(layout: Layout, fs: Client,
                                                                d: Path) -> None:
    (d / "src").mkdir()
    (d / "dst").mkdir()
    policy = Policy(writable_roots=[str(d)], denied_paths=[str(d / "dst" / "private")])
    fails(layout, lambda: fs.copy(d / "src", d / "dst", recursive=True, overwrite=True,
                                  policy=policy), "PERMISSION_DENIED", "OUTSIDE_POLICY")


def test_copy_to_another_root_and_across_file_systems(layout: Layout, fs: Client, d: Path,
                                                      request: pytest.FixtureRequest) -> None:
    (d / "src" / "s").mkdir(parents=True)
    (d / "src" / "s" / "f").write_bytes(b"f" * 100_000)
    for root in (layout.ws2, layout.other_fs):
        if root is None:
            continue
        there = fresh_dir(root, request)
        fs.copy(d / "src", there / "dst", recursive=True)
        fs.copy(d / "src" / "s" / "f", there / "f")
        assert tree(there / "dst") == tree(d / "src")
        assert (there / "f").read_bytes() == b"f" * 100_000
        assert no_temporaries(there)


def test_copy_with_relative_paths_resolves_both_against_cwd(fs: Client, d: Path) -> None:
    (d / "a").write_bytes(b"a")
    fs.copy("a", "b", policy=Policy(writable_roots=[str(d)], cwd=str(d)))
    assert (d / "b").read_bytes() == b"a"


def test_async_client_copies(layout: Layout, d: Path) -> None:
    (d / "a").write_bytes(b"abc")

    async def main() -> fsgate.CopyResult:
        async with fsgate.AsyncClient(layout.server.target) as client:
            return await client.copy(d / "a", d / "b")

    assert asyncio.run(main()).bytes_copied == 3
    assert (d / "b").read_bytes() == b"abc"
