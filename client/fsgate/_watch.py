"""WatchDir for both clients: the prepare step and the public event types (I/O-free), and
the two watch objects, :class:`Watch` (blocking) and :class:`AsyncWatch` (asyncio).

``Client.watch()`` returns only once the server's ``started`` has arrived: every change
made after it returns is reported. The watch is an iterator of :class:`FileEvent` and
:class:`WatchOverflow` items (keepalives are consumed here), which can be iterated in
several loops; ``close()`` it or leave its ``with`` block to end the call (the server
then kills its helper), or just drop it (``for e in client.watch(p): break``). A call
that ends because the caller closed it ends the iteration quietly; any other end raises
the matching :class:`fsgate.FsgateError` (e.g. ``DeadlineExceeded`` at the deadline or the
server's ``--max-watch-seconds``, ``ShuttingDown`` when it stops).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
import grpc.aio

from fsgate._base import Prepared, _ClientBase, protocol_error
from fsgate._channel import cancel
from fsgate._types import Policy, StrPath, check_timeout, fspath
from fsgate.v1 import fsgate_pb2

__all__ = ["DEFAULT_WATCH_TIMEOUT", "AsyncWatch", "AsyncWatchMixin", "FileEvent",
           "FileEventType", "Watch", "WatchMixin", "WatchOverflow"]

#: Deadline of a watch when none is given, in seconds (a day): a watch lives until it is
#: closed, and the server ends it at its own ``--max-watch-seconds`` (an hour by default).
DEFAULT_WATCH_TIMEOUT = 86400.0

# What grpc.aio's read() returns at the end of a stream; missing from grpc-stubs.
_EOF: object = grpc.aio.EOF  # type: ignore[attr-defined]  # exported, but not in the stubs

_Request = fsgate_pb2.WatchDirRequest
_Response = fsgate_pb2.WatchDirResponse


class FileEventType(enum.IntEnum):
    """Kind of a change; values mirror ``fsgate.v1.FileEventType``."""

    CREATED = fsgate_pb2.FILE_EVENT_TYPE_CREATED
    MODIFIED = fsgate_pb2.FILE_EVENT_TYPE_MODIFIED
    DELETED = fsgate_pb2.FILE_EVENT_TYPE_DELETED
    MOVED = fsgate_pb2.FILE_EVENT_TYPE_MOVED
    ATTRIBUTES_CHANGED = fsgate_pb2.FILE_EVENT_TYPE_ATTRIBUTES_CHANGED


@dataclass(frozen=True)
class FileEvent:
    """One change below the watched directory.

    Attributes:
        type: what happened.
        path: absolute path of the entry (the new one, for MOVED), spelled below the path
            the watch named; bytes that are not UTF-8 appear as U+FFFD.
        old_path: the previous path, for MOVED only; else None.
        is_dir: whether the entry is a directory.
    """

    type: FileEventType
    path: str
    old_path: str | None = None
    is_dir: bool = False

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.FileEvent, path: str) -> FileEvent:
        try:
            kind = FileEventType(msg.type)
        except ValueError:
            raise protocol_error(f"unknown file event type {msg.type}", path) from None
        return cls(type=kind, path=msg.path, old_path=msg.old_path or None, is_dir=msg.is_dir)


@dataclass(frozen=True)
class WatchOverflow:
    """Events were dropped (the kernel's queue or the server's buffer overflowed): what
    the events said may be incomplete from here back, so list the tree again.

    Attributes:
        dropped: events known to be dropped; 0 when unknown.
    """

    dropped: int = 0


WatchItem = FileEvent | WatchOverflow


class _WatchBase(_ClientBase):
    """The prepare step and the conversion of WatchDir messages, free of I/O."""

    def _prepare_watch(self, path: StrPath, *, recursive: bool, include: Sequence[str],
                       exclude: Sequence[str], policy: Policy | None,
                       timeout: float | None) -> Prepared[fsgate_pb2.WatchDirRequest]:
        p = fspath(path)
        for name, globs in (("include", include), ("exclude", exclude)):
            if isinstance(globs, (str, bytes)):
                raise TypeError(f"{name} takes a sequence of globs, not a single string")
        request = _Request(path=p, sandbox=self._sandbox(p, policy), recursive=recursive,
                           include_globs=list(include), exclude_globs=list(exclude))
        return self._prepared(p, request, DEFAULT_WATCH_TIMEOUT if timeout is None
                              else check_timeout(timeout))

    @staticmethod
    def _watch_started(first: _Response | None, path: str) -> int:
        """The watched-directory count of the stream's first message, ``started``."""
        if first is None:
            raise protocol_error("WatchDir stream ended before it started", path)
        if first.WhichOneof("payload") != "started":
            raise protocol_error("WatchDir stream did not start with started", path)
        return first.started.watched_directories

    @staticmethod
    def _watch_item(msg: _Response, path: str) -> WatchItem | None:
        """The item a later message carries; None for a keepalive."""
        kind = msg.WhichOneof("payload")
        if kind == "event":
            return FileEvent.from_proto(msg.event, path)
        if kind == "overflow":
            return WatchOverflow(msg.overflow.dropped)
        if kind == "keepalive":
            return None
        raise protocol_error(f"unexpected WatchDir message {kind!r}", path)


def _ended_by_us(exc: grpc.RpcError, closed: bool) -> bool:
    return closed and exc.code() is grpc.StatusCode.CANCELLED


# --- blocking -------------------------------------------------------------------------------
class Watch:
    """An open watch (from :meth:`fsgate.Client.watch`): iterate it for its events."""

    def __init__(self, call: Any, responses: Iterator[_Response], watched_directories: int,
                 path: str, convert: Callable[[_Response, str], WatchItem | None],
                 errors: Callable[[str], contextlib.AbstractContextManager[None]]) -> None:
        self._call = call
        self._responses = responses
        self._convert = convert
        self._errors = errors
        self._closed = False
        self.path = path
        #: How many directories the server watches for this call.
        self.watched_directories = watched_directories

    def __iter__(self) -> Watch:
        return self

    def __next__(self) -> WatchItem:
        """The next event as it comes (iterating again goes on where the last loop left)."""
        while True:
            if self._closed:
                raise StopIteration
            with self._errors(self.path):
                try:
                    msg = next(self._responses)
                except StopIteration:
                    self._closed = True
                    raise
                except grpc.RpcError as exc:
                    if _ended_by_us(exc, self._closed):
                        raise StopIteration from None
                    raise
            item = self._convert(msg, self.path)
            if item is not None:
                return item

    def close(self) -> None:
        """End the call (the server kills its helper); iteration then ends. Idempotent."""
        self._closed = True
        cancel(self._call)

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # `for e in client.watch(p): break` ends the call too
        if not self._closed:
            with contextlib.suppress(Exception):  # e.g. at interpreter exit
                self.close()


class WatchMixin(_WatchBase):
    """``Client.watch``; the client gives ``_stub`` and ``_check_open``."""

    _stub: Any

    def _check_open(self) -> None:
        raise NotImplementedError

    def watch(self, path: StrPath, *, recursive: bool = False, include: Sequence[str] = (),
              exclude: Sequence[str] = (), policy: Policy | None = None,
              timeout: float | None = None) -> Watch:
        """Watch a directory (with ``recursive``, every directory below it too, including
        ones created later) and return once the watch is in place.

        ``include``/``exclude`` are gitignore-style globs matched against the path relative
        to ``path`` (see docs/client.md). ``timeout`` is the deadline of the whole watch in
        seconds (default :data:`DEFAULT_WATCH_TIMEOUT`). Use it as a context manager, or
        ``close()`` it.
        """
        rpc = self._prepare_watch(path, recursive=recursive, include=include,
                                  exclude=exclude, policy=policy, timeout=timeout)
        self._check_open()
        method = cast("grpc.UnaryStreamMultiCallable[_Request, _Response]", self._stub.WatchDir)
        with self._errors(rpc.path):
            call = method(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
            responses = iter(call)
            try:
                count = self._watch_started(next(responses, None), rpc.path)
            except BaseException:
                cancel(call)
                raise
        return Watch(call, responses, count, rpc.path, self._watch_item, self._errors)


# --- asyncio --------------------------------------------------------------------------------
class AsyncWatch:
    """An open watch (from :meth:`fsgate.AsyncClient.watch`): ``async for`` its events."""

    def __init__(self, call: Any, watched_directories: int, path: str,
                 convert: Callable[[_Response, str], WatchItem | None],
                 errors: Callable[[str], contextlib.AbstractContextManager[None]]) -> None:
        self._call = call
        self._convert = convert
        self._errors = errors
        self._closed = False
        self.path = path
        #: How many directories the server watches for this call.
        self.watched_directories = watched_directories

    def __aiter__(self) -> AsyncWatch:
        return self

    async def __anext__(self) -> WatchItem:
        """The next event as it comes (iterating again goes on where the last loop left)."""
        while True:
            if self._closed:
                raise StopAsyncIteration
            with self._errors(self.path):
                try:
                    msg = await self._call.read()
                except grpc.RpcError as exc:
                    if _ended_by_us(exc, self._closed):
                        raise StopAsyncIteration from None
                    raise
            if msg is _EOF:
                self._closed = True
                raise StopAsyncIteration
            item = self._convert(msg, self.path)
            if item is not None:
                return item

    def close(self) -> None:
        """End the call (the server kills its helper); iteration then ends. Idempotent."""
        self._closed = True
        self._call.cancel()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> AsyncWatch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:  # `async for e in await client.watch(p): break` ends it too
        if not self._closed:
            with contextlib.suppress(Exception):  # e.g. its loop has closed
                self.close()


class AsyncWatchMixin(_WatchBase):
    """``AsyncClient.watch``; the client gives ``_open``."""

    def _open(self) -> Any:
        raise NotImplementedError

    async def watch(self, path: StrPath, *, recursive: bool = False,
                    include: Sequence[str] = (), exclude: Sequence[str] = (),
                    policy: Policy | None = None, timeout: float | None = None) -> AsyncWatch:
        """As :meth:`fsgate.Client.watch`: returns once the watch is in place; ``async
        for`` the result, ``async with`` it or ``close()`` it."""
        rpc = self._prepare_watch(path, recursive=recursive, include=include,
                                  exclude=exclude, policy=policy, timeout=timeout)
        call = self._open().WatchDir(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
        try:
            with self._errors(rpc.path):
                first = await call.read()
            count = self._watch_started(None if first is _EOF else first, rpc.path)
        except BaseException:
            call.cancel()
            raise
        return AsyncWatch(call, count, rpc.path, self._watch_item, self._errors)
