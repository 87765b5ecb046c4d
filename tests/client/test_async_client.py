"""The asyncio AsyncClient against the in-process fake server: same surface, same errors."""

from __future__ import annotations

import asyncio
import inspect
import io
import pathlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import fsgate
import grpc
import pytest
from fsgate import AsyncClient, Client, FileType, Policy, Timeouts, WriteMode
from fsgate._channel import RETRY_POLICY
from fsgate.reasons import STATUS_CODE
from fsgate.v1 import fsgate_pb2

from . import MTIME, FakeFileSystem, file_info, status_with_reason

T = TypeVar("T")
TIMEOUTS = Timeouts(connect=5, call=10, transfer=10)

# UNAVAILABLE's reasons are retried: these tests go through every retry, with tiny backoffs.
pytestmark = pytest.mark.usefixtures("fast_retries")


def run(target: str, body: Callable[[AsyncClient], Awaitable[T]], **kwargs: Any) -> T:
    """Run ``body(client)`` in a fresh event loop with a fresh AsyncClient."""

    async def main() -> T:
        async with AsyncClient(target, timeouts=TIMEOUTS, **kwargs) as client:
            return await body(client)

    return asyncio.run(main())


async def collect(items: AsyncIterator[T]) -> list[T]:
    return [item async for item in items]


# --- the surface ------------------------------------------------------------------------------
def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


def test_async_client_has_the_same_methods_and_parameters_as_client() -> None:
    sync, async_ = _public_methods(Client), _public_methods(AsyncClient)

    assert sorted(sync) == sorted(async_)
    for name, signature in sync.items():
        other = async_[name]
        assert [(p.name, p.kind, p.default) for p in signature.parameters.values()] == [
            (p.name, p.kind, p.default) for p in other.parameters.values()], name
    assert list(inspect.signature(Client).parameters) == list(
        inspect.signature(AsyncClient).parameters)


def test_async_client_methods_are_coroutines_or_async_iterators() -> None:
    for name in ("open_read", "read_file", "read_to", "write_file", "list_dir_page", "stat",
                 "close"):
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
    for name in ("iter_file", "list_dir"):
        assert inspect.isasyncgenfunction(getattr(AsyncClient, name)), name


def test_async_client_can_be_made_outside_a_loop_and_used_inside_one(target: str) -> None:
    client = AsyncClient(target)  # no running loop: the channel is made on first use

    async def use() -> bytes:
        async with client:
            return await client.read_file("/ws/a.txt")

    assert asyncio.run(use()) == b"hello, world"


def test_a_closed_async_client_refuses_calls(target: str) -> None:
    async def body() -> None:
        client = AsyncClient(target)
        await client.stat("/ws/a.txt")
        await client.close()
        await client.close()  # idempotent
        with pytest.raises(ValueError, match="closed"):
            await client.stat("/ws/a.txt")

    asyncio.run(body())


def test_async_repr_never_shows_the_token() -> None:
    assert "s3cret" not in repr(AsyncClient("127.0.0.1:1", token="s3cret"))


# --- what it sends ----------------------------------------------------------------------------
def test_async_bearer_token_and_cwd_rule(fake: FakeFileSystem, target: str) -> None:
    policy = Policy(writable_roots=["/ws"], cwd="/ws")

    async def body(client: AsyncClient) -> None:
        await client.stat("/ws/a.txt")
        await client.read_file("a.txt")
        await client.write_file("b", b"x")
        await collect(client.list_dir("/ws"))

    run(target, body, token="tok", policy=policy)

    assert [c.metadata.get("authorization") for c in fake.captured] == ["Bearer tok"] * 4
    stat, read, write, listing = (c.request for c in fake.captured)
    assert stat.sandbox.cwd == "" and listing.sandbox.cwd == ""
    assert read.sandbox.cwd == "/ws" and write[0].header.sandbox.cwd == "/ws"


# --- ReadFile ---------------------------------------------------------------------------------
def test_async_read_file_returns_the_content_and_range(fake: FakeFileSystem,
                                                       target: str) -> None:
    async def body(client: AsyncClient) -> tuple[bytes, bytes]:
        return (await client.read_file("/ws/a.txt"),
                await client.read_file("/ws/a.txt", offset=7, length=3, chunk_size=4096))

    assert run(target, body) == (b"hello, world", b"wor")
    ranged = fake.calls("ReadFile")[1].request
    assert (ranged.offset, ranged.length, ranged.chunk_size) == (7, 3, 4096)


def test_async_open_read_gives_file_info_then_chunks(target: str) -> None:
    async def body(client: AsyncClient) -> tuple[fsgate.FileInfo, list[bytes]]:
        info, chunks = await client.open_read("/ws/a.txt")
        return info, await collect(chunks)

    info, chunks = run(target, body)

    assert info == fsgate.FileInfo(path="/ws/a.txt", type=FileType.REGULAR, size=12,
                                   mode=0o644, modified_time=MTIME, version="v12")
    assert chunks == [b"hell", b"o, w", b"orld"]


def test_async_iter_file_streams_chunk_by_chunk(fake: FakeFileSystem, target: str) -> None:
    fake.read_gate = threading.Event()  # the server holds back the rest until we have one

    async def body(client: AsyncClient) -> tuple[bytes, list[bytes]]:
        chunks = client.iter_file("/ws/a.txt")
        first = await anext(chunks)
        assert fake.read_gate is not None
        fake.read_gate.set()
        return first, await collect(chunks)

    assert run(target, body) == (b"hell", [b"o, w", b"orld"])
    assert not fake.read_gate_timed_out


def test_closing_async_iter_file_early_cancels_the_call(fake: FakeFileSystem,
                                                        target: str) -> None:
    fake.read_gate = threading.Event()

    async def body(client: AsyncClient) -> bytes:
        chunks = client.iter_file("/ws/a.txt")
        assert await anext(chunks) == b"hell"
        await chunks.aclose()
        ended = await asyncio.to_thread(fake.read_ended.wait, 10)
        assert ended, "the server never saw the cancellation"
        assert fake.read_gate is not None
        fake.read_gate.set()
        return await client.read_file("/ws/a.txt")  # the channel is fine

    assert run(target, body) == b"hello, world"


def test_async_read_to_copies_into_sync_and_async_writers(target: str) -> None:
    class AsyncSink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        async def write(self, data: bytes) -> int:
            self.parts.append(data)
            return len(data)

    plain, sink = io.BytesIO(), AsyncSink()

    async def body(client: AsyncClient) -> tuple[int, int]:
        return (await client.read_to("/ws/a.txt", plain),
                await client.read_to("/ws/a.txt", sink))

    assert run(target, body) == (12, 12)
    assert plain.getvalue() == b"hello, world"
    assert b"".join(sink.parts) == b"hello, world"


def test_async_read_error_raises_the_mapped_class_from_the_grpc_error(target: str) -> None:
    async def body(client: AsyncClient) -> None:
        chunks = client.iter_file("/ws/missing")
        with pytest.raises(fsgate.NotFound) as info:
            await anext(chunks)
        assert info.value.path == "/ws/missing"
        assert isinstance(info.value.__cause__, grpc.aio.AioRpcError)
        assert info.value.reason is fsgate.Reason.NOT_FOUND
        with pytest.raises(FileNotFoundError):
            await client.open_read("/ws/missing")

    run(target, body)


# --- WriteFile --------------------------------------------------------------------------------
async def _agen(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


class AsyncFile:
    """An async binary file object, as aiofiles gives."""

    def __init__(self, data: bytes) -> None:
        self._io = io.BytesIO(data)
        self.reads: list[int] = []

    async def read(self, size: int = -1, /) -> bytes:
        self.reads.append(size)
        return self._io.read(size)


@pytest.mark.parametrize(
    "make_data",
    [
        pytest.param(lambda: b"0123456789", id="bytes"),
        pytest.param(lambda: memoryview(b"0123456789"), id="memoryview"),
        pytest.param(lambda: [b"012", b"", b"3456789"], id="list"),
        pytest.param(lambda: (c for c in [b"0123456", b"789"]), id="generator"),
        pytest.param(lambda: _agen([b"01", b"23456789"]), id="async-generator"),
        pytest.param(lambda: io.BytesIO(b"0123456789"), id="file"),
        pytest.param(lambda: AsyncFile(b"0123456789"), id="async-file"),
    ],
)
def test_async_write_file_sends_header_then_chunks(fake: FakeFileSystem, target: str,
                                                   make_data: Callable[[], Any]) -> None:
    async def body(client: AsyncClient) -> fsgate.WriteResult:
        return await client.write_file("/ws/new", make_data(), chunk_size=4)

    result = run(target, body)

    messages = fake.calls("WriteFile")[-1].request
    assert messages[0].header.path == "/ws/new"
    chunks = [m.data for m in messages[1:]]
    assert b"".join(chunks) == b"0123456789"
    assert all(0 < len(c) <= 4 for c in chunks)
    assert result.bytes_written == 10
    assert fake.files["/ws/new"] == b"0123456789"


def test_async_write_file_reads_an_async_file_chunk_by_chunk(fake: FakeFileSystem,
                                                             target: str) -> None:
    source = AsyncFile(b"x" * 10)
    run(target, lambda client: client.write_file("/ws/new", source, chunk_size=4))
    assert source.reads == [4, 4, 4, 4]


def test_async_write_file_header_carries_the_options(fake: FakeFileSystem, target: str) -> None:
    run(target, lambda client: client.write_file(
        "/ws/new", b"", mode=WriteMode.CREATE_NEW, create_parents=True, if_version="v3",
        file_mode=0o600))

    header = fake.calls("WriteFile")[-1].request[0].header
    assert header.mode == fsgate_pb2.WRITE_MODE_CREATE_NEW
    assert (header.create_parents, header.if_version, header.file_mode) == (True, "v3", 0o600)


@pytest.mark.parametrize("data", ["text", io.StringIO("text"), 42])
def test_async_write_file_refuses_what_is_not_bytes(target: str, data: object) -> None:
    async def body(client: AsyncClient) -> None:
        with pytest.raises(TypeError):
            await client.write_file("/ws/new", data)  # type: ignore[arg-type]  # misuse under test

    run(target, body)


def test_a_failing_async_source_cancels_the_write_and_raises_its_error(
    fake: FakeFileSystem, target: str
) -> None:
    fake.commit_grace = 1.0
    async def source() -> AsyncIterator[bytes]:
        yield b"partial"
        raise OSError("disk on fire")

    async def body(client: AsyncClient) -> None:
        with pytest.raises(OSError, match="disk on fire") as info:
            await client.write_file("/ws/a.txt", source(), chunk_size=4)
        assert not isinstance(info.value, fsgate.FsgateError)

    run(target, body)
    assert fake.files["/ws/a.txt"] == b"hello, world"  # never committed


def test_cancelling_an_async_write_leaves_the_file_as_it_was(fake: FakeFileSystem,
                                                             target: str) -> None:
    fake.commit_grace = 1.0
    async def body(client: AsyncClient) -> None:
        sent = asyncio.Event()

        async def source() -> AsyncIterator[bytes]:
            yield b"partial"
            sent.set()
            await asyncio.Event().wait()  # never produces the rest
            yield b"never"

        task = asyncio.create_task(client.write_file("/ws/a.txt", source()))
        await sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(target, body)
    assert fake.files["/ws/a.txt"] == b"hello, world"


def test_async_write_error_maps_to_the_tree(fake: FakeFileSystem, target: str) -> None:
    fake.fail_next = status_with_reason(grpc.StatusCode.ABORTED, "stale", "VERSION_MISMATCH",
                                        metadata={"path": "/ws/a.txt"})

    async def body(client: AsyncClient) -> None:
        with pytest.raises(fsgate.VersionMismatch) as info:
            await client.write_file("/ws/a.txt", _agen([b"new"] * 3), if_version="old")
        assert info.value.code is grpc.StatusCode.ABORTED
        assert info.value.path == "/ws/a.txt"

    run(target, body)
    assert fake.files["/ws/a.txt"] == b"hello, world"


def test_rejected_async_writes_always_report_the_servers_status(fake: FakeFileSystem,
                                                                target: str) -> None:
    # grpc.aio can replace this status with INTERNAL when a write races with it
    # (grpc/grpc#36066); AsyncClient's writes must not.
    async def body(client: AsyncClient) -> list[str]:
        seen = []
        for _ in range(50):
            fake.fail_next = status_with_reason(grpc.StatusCode.ABORTED, "stale",
                                                "VERSION_MISMATCH")
            try:
                await client.write_file("/ws/a.txt", _agen([b"x" * 65536] * 16))
            except fsgate.FsgateError as exc:
                seen.append(type(exc).__name__)
        return seen

    assert run(target, body) == ["VersionMismatch"] * 50


# --- ListDir and Stat -------------------------------------------------------------------------
def _entry(name: str) -> fsgate_pb2.DirEntry:
    return fsgate_pb2.DirEntry(name=name, info=file_info(f"/ws/{name}"))


def test_async_list_dir_follows_page_tokens(fake: FakeFileSystem, target: str) -> None:
    fake.entries = [_entry(n) for n in "abcde"]

    async def body(client: AsyncClient) -> tuple[list[str], tuple[list[str], str]]:
        names = [e.name async for e in client.list_dir("/ws", depth=2, page_size=2)]
        page, token = await client.list_dir_page("/ws", page_size=2, page_token="2")
        return names, ([e.name for e in page], token)

    names, page = run(target, body)

    assert names == ["a", "b", "c", "d", "e"]
    assert page == (["c", "d"], "4")
    requests = [c.request for c in fake.calls("ListDir")]
    assert [r.page_token for r in requests[:3]] == ["", "2", "4"]
    assert {(r.depth, r.page_size) for r in requests[:3]} == {(2, 2)}


def test_async_stat_returns_file_info_and_passes_follow(fake: FakeFileSystem,
                                                        target: str) -> None:
    info = run(target, lambda client: client.stat("/ws", follow_symlinks=True))

    assert info.type is FileType.DIRECTORY
    assert fake.captured[0].request.follow_symlinks is True


def test_async_deadline_raises_deadline_exceeded(fake: FakeFileSystem, target: str) -> None:
    fake.stat_gate = threading.Event()

    async def body(client: AsyncClient) -> None:
        with pytest.raises(fsgate.DeadlineExceeded) as info:
            await client.stat("/ws/a.txt", timeout=0.2)
        assert isinstance(info.value, TimeoutError)
        assert info.value.path == "/ws/a.txt"

    run(target, body)


def test_async_no_server_raises_unavailable(tmp_path: pathlib.Path) -> None:
    async def body(client: AsyncClient) -> None:
        with pytest.raises(fsgate.Unavailable) as info:
            await client.stat("/ws/a.txt")
        assert isinstance(info.value, ConnectionError)
        assert info.value.reason is None

    run(f"unix:{tmp_path}/nobody.sock", body)


@pytest.mark.parametrize("reason", list(fsgate.Reason), ids=str)
def test_async_server_errors_arrive_as_the_mapped_class(fake: FakeFileSystem, target: str,
                                                        reason: fsgate.Reason) -> None:
    fake.fail_next = status_with_reason(STATUS_CODE[reason], "nope", reason.value,
                                        metadata={"path": "/ws/a.txt"})
    fake.fail_count = RETRY_POLICY["maxAttempts"]  # UNAVAILABLE is retried: fail each try

    async def body(client: AsyncClient) -> None:
        with pytest.raises(fsgate.FsgateError) as info:
            await client.stat("/ws/a.txt")
        assert info.value.reason is reason
        assert info.value.code is STATUS_CODE[reason]
        assert (info.value.message, info.value.path) == ("nope", "/ws/a.txt")
        assert type(info.value) is fsgate._errors.exception_for(STATUS_CODE[reason], reason)

    run(target, body)
