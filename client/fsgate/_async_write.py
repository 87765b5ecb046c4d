"""AsyncClient's WriteFile: async content, sent by a blocking gRPC call off the loop.

Why not grpc.aio: when the server ends a client-streaming call early -- which is how
every rejected write ends (OUTSIDE_POLICY, VERSION_MISMATCH, TOO_LARGE, ...) -- a
grpc.aio write that races with the server's status overwrites that status with
``INTERNAL "Internal error from Core"`` (grpc/grpc#36066, open; measured here: 4% of
rejected writes). The code and ErrorInfo reason are fsgate's error model, so AsyncClient
sends writes on a blocking channel, whose status is always the server's, and pulls each
chunk from the async source on the event loop as gRPC's sender thread asks for it. The
loop is never blocked and nothing is held whole: one chunk is in flight at a time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Iterable, Iterator
from typing import Any, Protocol, cast

import grpc

from fsgate._write import SupportsRead, check_chunk, check_read, refuse_str, split
from fsgate.v1 import fsgate_pb2

__all__ = ["AsyncWriteData", "LoopFedRequests", "SupportsAsyncRead", "async_data_chunks"]


class SupportsAsyncRead(Protocol):
    """An async binary file object (e.g. aiofiles): ``await read(n)``, ``b""`` at the end."""

    async def read(self, size: int = ..., /) -> bytes: ...


#: What ``AsyncClient.write_file`` accepts as content.
AsyncWriteData = (
    bytes
    | bytearray
    | memoryview
    | AsyncIterable[bytes]
    | Iterable[bytes]
    | SupportsAsyncRead
    | SupportsRead
)

_Chunks = AsyncGenerator[bytes, None]


# --- content as async chunks --------------------------------------------------------------
async def _from_bytes(data: bytes | bytearray | memoryview, size: int) -> _Chunks:
    for chunk in split(data, size):
        yield chunk


async def _from_iterable(chunks: Iterable[bytes], size: int) -> _Chunks:
    # Iterated on the event loop: a sync iterable given to AsyncClient must not block.
    for chunk in chunks:
        for piece in split(check_chunk(chunk, "write_file data chunks"), size):
            yield piece


async def _from_async_iterable(chunks: AsyncIterable[bytes], size: int) -> _Chunks:
    async for chunk in chunks:
        for piece in split(check_chunk(chunk, "write_file data chunks"), size):
            yield piece


async def _from_file(source: SupportsRead | SupportsAsyncRead, size: int) -> _Chunks:
    read: Any = source.read
    blocking = not inspect.iscoroutinefunction(read)
    while True:
        # A blocking read (a plain file, stdin) runs in a worker thread, never on the loop.
        result = await asyncio.to_thread(read, size) if blocking else await read(size)
        if inspect.isawaitable(result):  # an async file whose read() is not `async def`
            result = await result
        chunk = check_read(result)
        if not chunk:
            return
        for piece in split(chunk, size):
            yield piece


def async_data_chunks(data: AsyncWriteData, size: int) -> _Chunks:
    """Content as chunks of at most ``size`` bytes; type errors raise here, eagerly."""
    refuse_str(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _from_bytes(data, size)
    if callable(getattr(data, "read", None)):  # a file object, sync or async
        return _from_file(cast(SupportsRead | SupportsAsyncRead, data), size)
    if isinstance(data, AsyncIterable):
        return _from_async_iterable(data, size)
    if isinstance(data, Iterable):
        return _from_iterable(data, size)
    raise TypeError(
        f"write_file data must be bytes, an (async) iterable of bytes or a binary file "
        f"object, not {type(data).__name__}"
    )


async def _next_or_none(chunks: _Chunks) -> bytes | None:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None


# --- the bridge ---------------------------------------------------------------------------
class LoopFedRequests:
    """The WriteFile request stream, consumed by gRPC on its thread, fed from the loop.

    Each data chunk is produced by a task on the event loop that gRPC's sender thread
    waits for. If the source fails, or the writer stops it, the call is cancelled
    *before* the stream ends -- ending it would half-close the stream and commit a
    truncated file -- and the source's error is kept in :attr:`error`.
    """

    def __init__(
        self,
        header: fsgate_pb2.WriteFileRequest.Header,
        chunks: _Chunks,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._header = header
        self._chunks = chunks
        self._loop = loop
        self._call: grpc.Future[Any] | None = None
        self._attached = threading.Event()
        # Touched only on the loop: whether pulling stopped, and the pull in flight.
        self._stopped = False
        self._task: asyncio.Task[bytes | None] | None = None
        self.error: BaseException | None = None

    def attach(self, call: grpc.Future[Any] | None) -> None:
        """Hand over the call this stream feeds; None if starting the call failed."""
        self._call = call
        self._attached.set()

    async def stop(self) -> None:
        """On the loop: pull no more chunks, and wait until a pull in flight has ended.

        Afterwards the source can be closed (it is no longer running).
        """
        self._stopped = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    def _start_pull(self, result: concurrent.futures.Future[bytes | None]) -> None:
        """On the loop: start pulling the next chunk into ``result``."""
        if self._stopped or not result.set_running_or_notify_cancel():
            result.cancel()
            return
        task = self._loop.create_task(_next_or_none(self._chunks))
        self._task = task

        def copy(done: asyncio.Task[bytes | None]) -> None:
            if done.cancelled():
                result.cancel()
            elif (exc := done.exception()) is not None:
                result.set_exception(exc)
            else:
                result.set_result(done.result())

        task.add_done_callback(copy)

    def _pull(self) -> bytes | None:
        """In gRPC's thread: the next chunk, or None at the end of the source."""
        result: concurrent.futures.Future[bytes | None] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._start_pull, result)
        return result.result()

    def _cancel_call(self) -> None:
        self._attached.wait()
        if self._call is not None:
            self._call.cancel()

    def __iter__(self) -> Iterator[fsgate_pb2.WriteFileRequest]:
        yield fsgate_pb2.WriteFileRequest(header=self._header)
        while True:
            # Only pulling can fail here; GeneratorExit at a yield (gRPC stopping early
            # because the call already ended) is not caught.
            try:
                chunk = self._pull()
            except concurrent.futures.CancelledError:  # stopped by the writer
                self._cancel_call()
                return
            except Exception as exc:  # the source failed, or the loop is gone
                self.error = exc
                self._cancel_call()
                return  # gRPC sees the call cancelled and never half-closes it
            if chunk is None:
                return  # the source is exhausted: half-close; the server commits
            yield fsgate_pb2.WriteFileRequest(data=chunk)
