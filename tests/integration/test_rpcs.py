"""Every RPC round-trips through the client library against a real server."""
from __future__ import annotations

import os
from pathlib import Path

import fsgate
import pytest
from fsgate import Client, FileType, Policy, WriteMode

from ..conftest import ServerProcess


def test_write_then_read_round_trips(client: Client, ws: Path) -> None:
    result = client.write_file(str(ws / "a.txt"), b"hello fsgate\n")
    assert result.bytes_written == 13
    assert result.info.type is FileType.REGULAR
    assert (ws / "a.txt").read_bytes() == b"hello fsgate\n"
    assert client.read_file(str(ws / "a.txt")) == b"hello fsgate\n"


def test_read_honours_offset_and_length(client: Client, ws: Path) -> None:
    (ws / "digits").write_bytes(b"0123456789")
    assert client.read_file(str(ws / "digits"), offset=3, length=4) == b"3456"
    assert client.read_file(str(ws / "digits"), offset=8, length=100) == b"89"
    assert client.read_file(str(ws / "digits"), offset=50) == b""


def test_read_streams_in_requested_chunks(client: Client, ws: Path) -> None:
    data = os.urandom(3 * 4096 + 17)
    (ws / "blob").write_bytes(data)
    chunks = list(client.iter_file(str(ws / "blob"), chunk_size=4096))
    assert [len(c) for c in chunks] == [4096, 4096, 4096, 17]
    assert b"".join(chunks) == data


def test_large_file_round_trips_in_1mib_messages(client: Client, ws: Path) -> None:
    data = os.urandom(5 * (1 << 20) + 123)
    client.write_file(str(ws / "big"), data)
    chunks = list(client.iter_file(str(ws / "big")))
    assert max(len(c) for c in chunks) == 1 << 20
    assert b"".join(chunks) == data


@pytest.mark.parametrize("chunk_size", [64 << 10, 1 << 20])
def test_large_read_from_inside_a_page_does_not_hang(client: Client, ws: Path,
                                                     chunk_size: int) -> None:
    # The helper splices large ranges through a pipe sized to a chunk; a range that starts
    # inside a page needs one more page piece than its length (it used to block until the
    # helper deadline).
    data = os.urandom(3 << 20)
    (ws / "big").write_bytes(data)
    got = b"".join(client.iter_file(str(ws / "big"), offset=1000, chunk_size=chunk_size))
    assert got == data[1000:]


def test_stat_reports_file_info(client: Client, ws: Path) -> None:
    (ws / "f").write_bytes(b"xyz")
    os.chmod(ws / "f", 0o640)
    info = client.stat(str(ws / "f"))
    assert (info.path, info.type, info.size, info.mode) == (str(ws / "f"), FileType.REGULAR,
                                                            3, 0o640)
    assert info.version
    assert abs(info.modified_time.timestamp() - (ws / "f").stat().st_mtime) < 1


def test_stat_does_not_follow_symlinks_unless_asked(client: Client, ws: Path) -> None:
    (ws / "target").write_bytes(b"12345")
    (ws / "link").symlink_to("target")
    link = client.stat(str(ws / "link"))
    assert link.type is FileType.SYMLINK and link.symlink_target == "target"
    followed = client.stat(str(ws / "link"), follow_symlinks=True)
    assert followed.type is FileType.REGULAR and followed.size == 5


def test_version_changes_when_content_changes(client: Client, ws: Path) -> None:
    first = client.write_file(str(ws / "v"), b"one").info.version
    second = client.write_file(str(ws / "v"), b"two").info.version
    assert first != second
    assert client.stat(str(ws / "v")).version == second


def test_if_version_mismatch_is_aborted_and_changes_nothing(client: Client, ws: Path) -> None:
    current = client.write_file(str(ws / "v"), b"current").info.version
    with pytest.raises(fsgate.VersionMismatch) as err:
        client.write_file(str(ws / "v"), b"stale", if_version="not-" + current)
    assert err.value.code.name == "ABORTED" and err.value.reason == "VERSION_MISMATCH"
    assert (ws / "v").read_bytes() == b"current"
    client.write_file(str(ws / "v"), b"fresh", if_version=current)
    assert (ws / "v").read_bytes() == b"fresh"


def test_create_new_never_clobbers(client: Client, ws: Path) -> None:
    client.write_file(str(ws / "once"), b"first", mode=WriteMode.CREATE_NEW)
    with pytest.raises(fsgate.AlreadyExists) as err:
        client.write_file(str(ws / "once"), b"second", mode=WriteMode.CREATE_NEW)
    assert isinstance(err.value, FileExistsError)
    assert err.value.code.name == "ALREADY_EXISTS" and err.value.reason == "ALREADY_EXISTS"
    assert (ws / "once").read_bytes() == b"first"


def test_create_parents_makes_missing_directories(client: Client, ws: Path) -> None:
    with pytest.raises(fsgate.NotFound) as err:
        client.write_file(str(ws / "x" / "y" / "z.txt"), b"deep")
    assert err.value.reason == "NOT_FOUND"
    assert not (ws / "x").exists()
    client.write_file(str(ws / "x" / "y" / "z.txt"), b"deep", create_parents=True)
    assert (ws / "x" / "y" / "z.txt").read_bytes() == b"deep"
    # 0755 whatever umask the server process had when the helper started
    assert (ws / "x").stat().st_mode & 0o777 == 0o755
    assert (ws / "x" / "y").stat().st_mode & 0o777 == 0o755


def test_replace_keeps_mode_and_new_files_get_0644(client: Client, ws: Path) -> None:
    client.write_file(str(ws / "new"), b"n")
    assert (ws / "new").stat().st_mode & 0o777 == 0o644
    (ws / "exe").write_bytes(b"#!/bin/sh\n")
    os.chmod(ws / "exe", 0o750)
    client.write_file(str(ws / "exe"), b"#!/bin/sh\necho hi\n")
    assert (ws / "exe").stat().st_mode & 0o777 == 0o750
    client.write_file(str(ws / "exe"), b"x", file_mode=0o600)
    assert (ws / "exe").stat().st_mode & 0o777 == 0o600


def test_write_accepts_a_file_object_and_empty_content(client: Client, ws: Path) -> None:
    src = ws / "src"
    src.write_bytes(os.urandom(300_000))
    with open(src, "rb") as fh:
        client.write_file(str(ws / "copy"), fh)
    assert (ws / "copy").read_bytes() == src.read_bytes()
    client.write_file(str(ws / "empty"), b"")
    assert (ws / "empty").read_bytes() == b""


def test_list_dir_sorted_with_depth_and_lstat(client: Client, ws: Path) -> None:
    (ws / "b").mkdir()
    (ws / "b" / "inner").write_text("i")
    (ws / "a-file").write_text("a")
    (ws / "link").symlink_to("b")
    top = [e.name for e in client.list_dir(str(ws))]
    assert top == ["a-file", "b", "link"]
    deep = {e.name: e for e in client.list_dir(str(ws), depth=2)}
    assert sorted(deep) == ["a-file", "b", "b/inner", "link"]
    assert deep["link"].info.type is FileType.SYMLINK  # reported, never followed
    assert deep["b"].info.type is FileType.DIRECTORY


def test_list_dir_orders_bytewise_by_relative_path(client: Client, ws: Path) -> None:
    (ws / "a").mkdir()
    (ws / "a" / "b").write_text("")
    (ws / "a-b").write_text("")
    (ws / "B").write_text("")
    names = [e.name for e in client.list_dir(str(ws), depth=2)]
    assert names == sorted(names, key=os.fsencode) == ["B", "a", "a-b", "a/b"]


def test_list_dir_pages_never_repeat_or_skip(client: Client, ws: Path) -> None:
    for i in range(57):
        (ws / f"f{i:03d}").write_text("")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        entries, token = client.list_dir_page(str(ws), page_size=10, page_token=token)
        seen += [e.name for e in entries]
        pages += 1
        if not token:
            break
    assert pages == 6
    assert seen == [f"f{i:03d}" for i in range(57)]


def test_list_dir_reports_non_utf8_names_in_raw_name(client: Client, ws: Path) -> None:
    raw = b"caf\xe9.txt"
    fd = os.open(os.fsencode(ws) + b"/" + raw, os.O_CREAT | os.O_WRONLY, 0o644)
    os.close(fd)
    (ws / "plain").write_text("")
    entries = list(client.list_dir(str(ws)))
    assert len(entries) == 2
    odd = [e for e in entries if e.raw_name]
    assert odd[0].raw_name == raw
    assert odd[0].name == raw.decode("utf-8", "replace")
    assert next(e for e in entries if e.name == "plain").raw_name is None


def test_page_token_from_another_listing_is_rejected(client: Client, ws: Path) -> None:
    (ws / "d1").mkdir()
    (ws / "d2").mkdir()
    for d in ("d1", "d2"):
        for i in range(3):
            (ws / d / str(i)).write_text("")
    _, token = client.list_dir_page(str(ws / "d1"), page_size=1)
    with pytest.raises(fsgate.InvalidRequest) as err:
        client.list_dir_page(str(ws / "d2"), page_size=1, page_token=token)
    assert err.value.code.name == "INVALID_ARGUMENT" and err.value.reason == "INVALID_REQUEST"


def test_relative_path_with_cwd_resolves_against_it(served: ServerProcess, ws: Path) -> None:
    (ws / "rel.txt").write_text("relative")
    with Client(served.target, policy=Policy(cwd=str(ws))) as c:
        assert c.read_file("rel.txt") == b"relative"
        assert c.stat("./sub/../rel.txt").path == str(ws / "rel.txt")


def test_unused_nonexistent_cwd_is_ignored(served: ServerProcess, ws: Path) -> None:
    (ws / "abs.txt").write_text("absolute")
    policy = Policy(readable_roots=(str(ws),), cwd="/this/cwd/does/not/exist/here")
    with Client(served.target, policy=policy) as c:
        assert c.read_file(str(ws / "abs.txt")) == b"absolute"


def test_read_only_root_is_readable(client: Client, served: ServerProcess) -> None:
    ro = Path(served.root).parent / "ro"
    assert client.read_file(str(ro / "readme.txt")) == b"read only\n"


def test_errors_for_missing_directory_and_special_paths(client: Client, ws: Path) -> None:
    (ws / "d").mkdir()
    with pytest.raises(fsgate.IsADirectory):
        client.read_file(str(ws / "d"))
    (ws / "f").write_text("")
    with pytest.raises(fsgate.NotADirectory) as err:
        list(client.list_dir(str(ws / "f")))
    assert err.value.reason == "NOT_A_DIRECTORY"
    with pytest.raises(fsgate.NotFound):
        client.stat(str(ws / "missing"))


def test_fifo_is_not_regular_and_does_not_block(client: Client, ws: Path) -> None:
    os.mkfifo(ws / "pipe")
    with pytest.raises(fsgate.NotRegularFile) as err:
        client.read_file(str(ws / "pipe"))
    assert err.value.code.name == "FAILED_PRECONDITION"
    with pytest.raises(fsgate.NotRegularFile):
        client.write_file(str(ws / "pipe"), b"x")


def test_root_served_through_a_symlink_works_under_both_names(tmp_path: Path,
                                                              backend: str) -> None:
    from ..conftest import start_server

    real = tmp_path / "real-ws"
    real.mkdir()
    (real / "f").write_text("through a link")
    link = tmp_path / "link-ws"
    link.symlink_to(real)
    server = start_server(tmp_path, [str(link)], backend)
    try:
        with Client(server.target) as c:
            assert c.read_file(str(link / "f")) == b"through a link"
            c.write_file(str(link / "g"), b"written via the link")
            assert (real / "g").read_bytes() == b"written via the link"
            assert [e.name for e in c.list_dir(str(link))] == ["f", "g"]
            with pytest.raises(fsgate.OutsidePolicy):
                c.read_file(str(tmp_path / "elsewhere"))
    finally:
        server.stop()
