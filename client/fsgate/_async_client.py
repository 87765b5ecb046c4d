"""The asyncio fsgate client, on grpc.aio.

:class:`AsyncClient` has the surface of :class:`fsgate.Client` with ``async`` methods and
async iterators, the same exceptions, deadlines, retries and channel arguments (all from
:class:`fsgate._base._ClientBase`). ReadFile, ListDir and Stat run on a grpc.aio channel;
WriteFile runs on a blocking channel fed from the loop, because grpc.aio can lose the
server's status of a rejected write (see :mod:`fsgate._async_write`); its start and
outcome are the blocking client's (:mod:`fsgate._write`). EditFile and the line windows
are :mod:`fsgate._edit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import grpc
import grpc.aio

from fsgate._async_write import AsyncWriteData, LoopFedRequests, async_data_chunks
from fsgate._base import (
    DEFAULT_TIMEOUTS,
    DEFAULT_WRITE_CHUNK,
    Prepared,
    SupportsWrite,
    _ClientBase,
)
from fsgate._channel import AsyncStub, Stub
from fsgate._edit import AsyncEditMethods
from fsgate._namespace import AsyncNamespaceMethods
from fsgate._search import AsyncSearchMethods
from fsgate._transfer import AsyncTransferMixin
from fsgate._types import (
    DirEntry,
    FileInfo,
    Policy,
    StrPath,
    Timeouts,
    WriteMode,
    WriteResult,
)
from fsgate._watch import AsyncWatchMixin
from fsgate._write import start_write, write_outcome
from fsgate.v1 import fsgate_pb2

__all__ = ["AsyncClient"]


def _settle(ended: asyncio.Future[None]) -> None:
    if not ended.done():
        ended.set_result(None)


def _settle_soon(loop: asyncio.AbstractEventLoop, ended: asyncio.Future[None]) -> None:
    """From any thread: resolve ``ended`` on its loop (a closed loop has nobody waiting)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, ended)


# --- the asyncio client -------------------------------------------------------------------
class AsyncClient(AsyncNamespaceMethods, AsyncTransferMixin, AsyncEditMethods,
                  AsyncSearchMethods, AsyncWatchMixin, _ClientBase):
    """An asyncio client for one fsgate server; use it as ``async with``.

    Same arguments, methods, defaults and exceptions as :class:`fsgate.Client`; the
    methods are coroutines, and ``iter_file`` / ``list_dir`` (and the stream
    ``open_read`` returns) are async iterators. The channel is created on the first
    call, in the running event loop; use one AsyncClient from one event loop.

    Args:
        target: ``"host:port"`` or ``"unix:/path/to/socket"``.
        token: bearer token, sent as ``authorization: Bearer <token>`` on every call.
        policy: the sandbox policy sent with every call that does not pass its own.
        timeouts: deadlines; see :class:`fsgate.Timeouts`. Every call has one.
        options: extra gRPC channel arguments; each replaces the same-named default.
        credentials: TLS channel credentials; None uses a plaintext channel.
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        policy: Policy | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        options: Sequence[tuple[str, Any]] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        super().__init__(target, token=token, policy=policy, timeouts=timeouts,
                         options=options, credentials=credentials)
        self._channel: grpc.aio.Channel | None = None
        self._stub: AsyncStub | None = None
        self._write_channel: grpc.Channel | None = None
        self._write_stub: Stub | None = None
        self._closed = False

    # lifecycle
    def _open(self) -> AsyncStub:
        """The grpc.aio stub, creating its channel on first use (it binds to the loop)."""
        if self._closed:
            raise ValueError("fsgate AsyncClient is closed")
        if self._stub is None:
            self._channel, self._stub = self._spec.open_aio()
        return self._stub

    def _open_writer(self) -> Stub:
        """The blocking stub WriteFile uses, creating its channel on first use."""
        if self._closed:
            raise ValueError("fsgate AsyncClient is closed")
        if self._write_stub is None:
            self._write_channel, self._write_stub = self._spec.open()
        return self._write_stub

    async def _unary(self, method: str, rpc: Prepared[Any]) -> Any:
        """Send a prepared unary call (``method`` names the RPC); the raw response.
        The operation families (``_namespace.py`` ...) build their methods on this."""
        stub = self._open()
        with self._errors(rpc.path):
            return await getattr(stub, method)(rpc.request, timeout=rpc.timeout,
                                               metadata=rpc.metadata)

    async def close(self) -> None:
        """Close the channels; calls in flight are cancelled. Idempotent."""
        if self._closed:
            return
        self._closed = True
        channel, self._channel, self._stub = self._channel, None, None
        write_channel, self._write_channel, self._write_stub = self._write_channel, None, None
        if write_channel is not None:
            write_channel.close()
        if channel is not None:
            await channel.close(None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ReadFile
    async def open_read(
        self,
        path: StrPath,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> tuple[FileInfo, AsyncGenerator[bytes, None]]:
        """Start reading a regular file: its FileInfo now, its content as it streams.

        As :meth:`fsgate.Client.open_read`; exhaust the stream or ``await
        stream.aclose()`` (that cancels the call).
        """
        rpc = self._prepare_read(path, offset=offset, length=length, chunk_size=chunk_size,
                                 policy=policy, timeout=timeout)
        return await self._open_stream(rpc)

    async def _open_stream(self, rpc: Prepared[fsgate_pb2.ReadFileRequest]
                           ) -> tuple[FileInfo, AsyncGenerator[bytes, None]]:
        """Start a prepared ReadFile (a byte range, or a line window: ``_edit.py``)."""
        call = self._open().ReadFile(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
        responses = aiter(call)
        try:
            with self._errors(rpc.path):
                first = await anext(responses, None)
            info = self._read_info(first, rpc.path)
        except BaseException:
            call.cancel()
            raise
        return info, self._stream_data(call, responses, rpc.path)

    async def _stream_data(
        self,
        call: grpc.aio.UnaryStreamCall[fsgate_pb2.ReadFileRequest, fsgate_pb2.ReadFileResponse],
        responses: AsyncIterator[fsgate_pb2.ReadFileResponse],
        path: str,
    ) -> AsyncGenerator[bytes, None]:
        try:
            with self._errors(path):
                async for msg in responses:
                    data = self._read_data(msg, path)
                    if data:
                        yield data
        finally:
            call.cancel()  # a no-op once the stream has ended

    async def iter_file(
        self,
        path: StrPath,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Stream a regular file's content chunk by chunk: ``async for chunk in ...``.

        The call starts at the first ``anext()``; errors are raised from there.
        """
        _, chunks = await self.open_read(
            path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
            timeout=timeout,
        )
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                yield chunk

    async def read_file(
        self,
        path: StrPath,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """A regular file's content (or the ``offset``/``length`` range of it), in memory."""
        parts: list[bytes] = []
        async with contextlib.aclosing(self.iter_file(
            path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
            timeout=timeout,
        )) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
        return b"".join(parts)

    async def read_to(
        self,
        path: StrPath,
        dest: SupportsWrite,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> int:
        """Copy a regular file into ``dest``; returns the bytes copied.

        ``dest`` is a binary file object; when its ``write()`` returns an awaitable (an
        async file), that is awaited. It is not flushed or closed; on an error it holds
        what arrived before it.
        """
        written = 0
        async with contextlib.aclosing(self.iter_file(
            path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
            timeout=timeout,
        )) as chunks:
            async for chunk in chunks:
                result = dest.write(chunk)
                if inspect.isawaitable(result):
                    await result
                written += len(chunk)
        return written

    # WriteFile
    async def write_file(
        self,
        path: StrPath,
        data: AsyncWriteData,
        *,
        mode: WriteMode = WriteMode.REPLACE,
        create_parents: bool = False,
        if_version: str = "",
        file_mode: int = 0,
        chunk_size: int = DEFAULT_WRITE_CHUNK,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> WriteResult:
        """Create or atomically replace a regular file with ``data``.

        As :meth:`fsgate.Client.write_file`; ``data`` may also be an async iterable of
        bytes or an async file object. A blocking file object is read in a worker thread;
        a sync iterable is iterated on the event loop. Each chunk is sent once gRPC's flow
        control lets it go, so nothing is held whole. On any error -- including one raised
        by ``data``, re-raised as is, or the task being cancelled -- the call is cancelled
        and the target is left exactly as it was.
        """
        rpc = self._prepare_write(
            path, mode=mode, create_parents=create_parents, if_version=if_version,
            file_mode=file_mode, chunk_size=chunk_size, policy=policy, timeout=timeout,
        )
        chunks = async_data_chunks(data, chunk_size)
        loop = asyncio.get_running_loop()
        requests = LoopFedRequests(rpc.request, chunks, loop)
        try:
            stub = self._open_writer()
            with self._errors(rpc.path):
                call = start_write(stub, rpc, requests)
                ended: asyncio.Future[None] = loop.create_future()
                call.add_done_callback(lambda _: _settle_soon(loop, ended))
                try:
                    await ended
                except BaseException:  # e.g. the task was cancelled: so is the call
                    call.cancel()
                    raise
                response = write_outcome(call, requests, rpc.path)  # it has ended: no wait
        finally:
            await requests.stop()
            await chunks.aclose()
        return self._write_result(response)

    # ListDir
    async def list_dir_page(
        self,
        path: StrPath,
        *,
        depth: int = 1,
        page_size: int = 0,
        page_token: str = "",
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> tuple[list[DirEntry], str]:
        """One page of a directory listing and the token of the next ("" after the last)."""
        rpc = self._prepare_list(path, depth=depth, page_size=page_size,
                                 page_token=page_token, policy=policy, timeout=timeout)
        stub = self._open()
        with self._errors(rpc.path):
            response = await stub.ListDir(rpc.request, timeout=rpc.timeout,
                                          metadata=rpc.metadata)
        return self._list_page(response)

    async def list_dir(
        self,
        path: StrPath,
        *,
        depth: int = 1,
        page_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[DirEntry, None]:
        """Every entry of a listing, page after page: ``async for entry in ...``.

        One ListDir call per page, each with its own deadline, fetched as iteration
        reaches it.
        """
        token = ""
        seen: set[str] = set()
        while True:
            entries, token = await self.list_dir_page(
                path, depth=depth, page_size=page_size, page_token=token, policy=policy,
                timeout=timeout,
            )
            for entry in entries:
                yield entry
            if not self._next_page(token, seen, path):
                return

    # Stat
    async def stat(
        self,
        path: StrPath,
        *,
        follow_symlinks: bool = False,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> FileInfo:
        """The FileInfo of ``path``; a symlink itself unless ``follow_symlinks``."""
        rpc = self._prepare_stat(path, follow_symlinks=follow_symlinks, policy=policy,
                                 timeout=timeout)
        stub = self._open()
        with self._errors(rpc.path):
            response = await stub.Stat(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
        return self._stat_result(response)
