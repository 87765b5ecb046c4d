"""ReadFile line windows against real servers (both backends): line_offset/line_limit and
tail_lines, their edge cases, the fields they cannot be combined with, and a tail of a
huge sparse file that reads only its end."""
from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import ServerProcess, start_server
from ..helpers import rpc_reason

Stub = fsgate_pb2_grpc.FileSystemServiceStub


@pytest.fixture
def stub(served: ServerProcess) -> Iterator[Stub]:
    channel = grpc.insecure_channel(served.target)
    yield fsgate_pb2_grpc.FileSystemServiceStub(channel)
    channel.close()


def window(stub: Stub, path: Path, **fields: int) -> tuple[pb.FileInfo, list[bytes]]:
    """The info message and the data chunks of one ReadFile."""
    messages = list(stub.ReadFile(pb.ReadFileRequest(path=str(path), **fields)))  # type: ignore[arg-type]  # proto kwargs
    assert messages and messages[0].WhichOneof("payload") == "info"
    assert all(m.WhichOneof("payload") == "data" for m in messages[1:])
    return messages[0].info, [m.data for m in messages[1:]]


def content(stub: Stub, path: Path, **fields: int) -> bytes:
    return b"".join(window(stub, path, **fields)[1])


TEN = b"".join(b"line %d\n" % i for i in range(10))


def test_line_offset_and_limit_pick_lines(stub: Stub, ws: Path) -> None:
    (ws / "ten").write_bytes(TEN)
    assert content(stub, ws / "ten", line_offset=2, line_limit=3) == b"line 2\nline 3\nline 4\n"
    assert content(stub, ws / "ten", line_offset=8) == b"line 8\nline 9\n"  # limit 0: to end
    assert content(stub, ws / "ten", line_limit=1) == b"line 0\n"
    assert content(stub, ws / "ten", line_offset=9, line_limit=100) == b"line 9\n"


def test_tail_lines_picks_the_last_lines(stub: Stub, ws: Path) -> None:
    (ws / "ten").write_bytes(TEN)
    assert content(stub, ws / "ten", tail_lines=2) == b"line 8\nline 9\n"
    assert content(stub, ws / "ten", tail_lines=10) == TEN
    assert content(stub, ws / "ten", tail_lines=11) == TEN  # more than there are


def test_info_comes_first_and_describes_the_whole_file(stub: Stub, ws: Path) -> None:
    (ws / "ten").write_bytes(TEN)
    info, chunks = window(stub, ws / "ten", tail_lines=1)
    assert (info.size, info.path) == (len(TEN), str(ws / "ten"))
    assert chunks == [b"line 9\n"]


def test_an_offset_past_the_end_returns_info_and_no_lines(stub: Stub, ws: Path) -> None:
    (ws / "ten").write_bytes(TEN)
    info, chunks = window(stub, ws / "ten", line_offset=10)
    assert info.size == len(TEN) and b"".join(chunks) == b""
    assert content(stub, ws / "ten", line_offset=1 << 40, line_limit=5) == b""


def test_an_empty_file_has_no_lines(stub: Stub, ws: Path) -> None:
    (ws / "empty").write_bytes(b"")
    assert content(stub, ws / "empty", tail_lines=3) == b""
    assert content(stub, ws / "empty", line_limit=3) == b""
    assert content(stub, ws / "empty", line_offset=1) == b""


def test_the_last_line_may_lack_its_newline(stub: Stub, ws: Path) -> None:
    (ws / "open").write_bytes(b"a\nb\nc")
    assert content(stub, ws / "open", tail_lines=1) == b"c"
    assert content(stub, ws / "open", tail_lines=2) == b"b\nc"
    assert content(stub, ws / "open", line_offset=2) == b"c"
    assert content(stub, ws / "open", line_offset=3) == b""
    (ws / "one").write_bytes(b"no newline at all")
    assert content(stub, ws / "one", tail_lines=1) == b"no newline at all"


def test_a_file_ending_in_newline_has_no_empty_last_line(stub: Stub, ws: Path) -> None:
    (ws / "closed").write_bytes(b"a\nb\n")
    assert content(stub, ws / "closed", tail_lines=1) == b"b\n"
    assert content(stub, ws / "closed", line_offset=2) == b""
    (ws / "blank").write_bytes(b"a\n\n\n")  # blank lines are lines
    assert content(stub, ws / "blank", tail_lines=2) == b"\n\n"


def test_crlf_stays_in_the_line_content(stub: Stub, ws: Path) -> None:
    (ws / "dos").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    assert content(stub, ws / "dos", line_offset=1, line_limit=1) == b"two\r\n"
    assert content(stub, ws / "dos", tail_lines=1) == b"three\r\n"
    (ws / "cr").write_bytes(b"a\rb\rc\n")  # a lone \r ends no line
    assert content(stub, ws / "cr", tail_lines=1) == b"a\rb\rc\n"


def test_a_line_longer_than_chunk_size_arrives_in_chunks(stub: Stub, ws: Path) -> None:
    long_line = b"x" * 10_000 + b"\n"
    (ws / "long").write_bytes(b"short\n" + long_line + b"after\n")
    for fields in ({"line_offset": 1, "line_limit": 1}, {"tail_lines": 2}):
        _, chunks = window(stub, ws / "long", chunk_size=4096, **fields)
        assert max(len(c) for c in chunks) <= 4096 and len(chunks) >= 3
        got = b"".join(chunks)
        assert got == (long_line if "line_limit" in fields else long_line + b"after\n")


def test_a_tail_of_a_huge_sparse_file_reads_only_its_end(stub: Stub, ws: Path) -> None:
    """1 TiB of hole, then 100 lines: reading it all would take minutes and end at the
    helper deadline; a tail reads its last block (tests/test_lines.py counts the bytes)."""
    target = ws / "huge.log"
    size = 1 << 40
    with open(target, "wb") as f:
        f.truncate(size)
        f.seek(size)
        f.write(b"".join(b"entry %d\n" % i for i in range(100)))
    try:
        info, chunks = window(stub, target, tail_lines=10)
        assert info.size == size + sum(len(b"entry %d\n" % i) for i in range(100))
        assert b"".join(chunks) == b"".join(b"entry %d\n" % i for i in range(90, 100))
        assert os.stat(target).st_blocks * 512 < 1 << 20  # still sparse: nothing was written
    finally:
        # The served workspace is shared by the module's tests (and others snapshot it):
        # a 1 TiB file left in it would be read whole by the next snapshot.
        target.unlink()


@pytest.mark.parametrize("fields", [
    {"line_offset": 1, "offset": 1}, {"line_limit": 1, "length": 5},
    {"tail_lines": 1, "offset": 2}, {"tail_lines": 1, "line_offset": 1},
    {"tail_lines": 1, "line_limit": 1}],
    ids=["line_offset+offset", "line_limit+length", "tail+offset", "tail+line_offset",
         "tail+line_limit"])
def test_line_fields_combined_with_others_are_an_invalid_request(stub: Stub, ws: Path,
                                                                 fields: dict[str, int]
                                                                 ) -> None:
    (ws / "ten").write_bytes(TEN)
    with pytest.raises(grpc.RpcError) as caught:
        content(stub, ws / "ten", **fields)
    assert rpc_reason(caught.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


def test_line_windows_of_what_is_not_a_regular_file_fail_as_reads_do(stub: Stub,
                                                                     ws: Path) -> None:
    os.mkfifo(ws / "fifo")
    (ws / "dir").mkdir()
    for path, reason in ((ws / "fifo", "NOT_REGULAR_FILE"), (ws / "dir", "IS_A_DIRECTORY"),
                         (ws / "missing", "NOT_FOUND")):
        with pytest.raises(grpc.RpcError) as caught:
            content(stub, path, tail_lines=1)
        assert rpc_reason(caught.value)[1] == reason


def test_a_line_window_of_a_file_outside_is_refused(stub: Stub, served: ServerProcess
                                                    ) -> None:
    secret = served.root.parent / "outside" / "secret.txt"
    with pytest.raises(grpc.RpcError) as caught:
        content(stub, secret, tail_lines=1)
    assert rpc_reason(caught.value) == (grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY")
    assert b"top secret" not in str(caught.value).encode()


@pytest.fixture(scope="module")
def small(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose read limit is 1 KiB."""
    root = tmp_path_factory.mktemp(f"lines-small-{backend}")
    server = start_server(tmp_path_factory.mktemp(f"lines-small-run-{backend}"), [str(root)],
                          backend, "--max-read-bytes", "1024")
    yield server
    server.stop()


def test_a_window_over_the_read_limit_is_too_large_but_a_small_one_of_a_big_file_is_not(
        small: ServerProcess) -> None:
    (small.root / "big").write_bytes(b"".join(b"%04d\n" % i for i in range(1000)))  # 5000 B
    with grpc.insecure_channel(small.target) as channel:
        stub = Stub(channel)
        assert content(stub, small.root / "big", tail_lines=2) == b"0998\n0999\n"
        assert content(stub, small.root / "big", line_offset=500, line_limit=1) == b"0500\n"
        with pytest.raises(grpc.RpcError) as caught:
            content(stub, small.root / "big", line_offset=10)
        assert rpc_reason(caught.value) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_LARGE")


# --- the clients --------------------------------------------------------------------------

def test_client_read_lines_and_tail_return_lines_with_their_endings(client: Client,
                                                                    ws: Path) -> None:
    (ws / "f").write_bytes(b"one\r\ntwo\nthree")
    assert client.read_lines(str(ws / "f")) == ["one\r\n", "two\n", "three"]
    assert client.read_lines(str(ws / "f"), 1, 1) == ["two\n"]
    assert client.read_lines(str(ws / "f"), offset=5) == []
    assert client.tail(str(ws / "f"), 2) == ["two\n", "three"]
    assert client.tail(str(ws / "f")) == ["one\r\n", "two\n", "three"]  # n defaults to 10
    (ws / "latin1").write_bytes(b"caf\xe9\n")
    assert client.tail(str(ws / "latin1"), 1) == ["caf\ufffd\n"]
    with pytest.raises(UnicodeDecodeError):
        client.tail(str(ws / "latin1"), 1, errors="strict")
    with pytest.raises(fsgate.NotFound):
        client.tail(str(ws / "missing"))


def test_async_client_read_lines_and_tail(served: ServerProcess, ws: Path) -> None:
    (ws / "f").write_bytes(TEN)

    async def body() -> None:
        async with fsgate.AsyncClient(served.target) as aio:
            assert await aio.read_lines(str(ws / "f"), 3, 2) == ["line 3\n", "line 4\n"]
            assert await aio.tail(str(ws / "f"), 1) == ["line 9\n"]
            with pytest.raises(fsgate.NotFound):
                await aio.read_lines(str(ws / "missing"))

    asyncio.run(body())
