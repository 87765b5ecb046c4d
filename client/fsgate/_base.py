"""What :class:`fsgate.Client` and :class:`fsgate.AsyncClient` share, free of I/O.

:class:`_ClientBase` validates arguments, builds requests, chooses deadlines and channel
arguments, and converts responses. The two clients add only their channel, their calls
and their error boundary, where every ``grpc.RpcError`` becomes an
:class:`fsgate.FsgateError` ``from`` the original (see :mod:`fsgate._errors`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import grpc

from fsgate._channel import channel_options
from fsgate._errors import FsgateError, from_rpc_error
from fsgate._types import (
    DirEntry,
    FileInfo,
    Policy,
    Timeouts,
    WriteMode,
    check_timeout,
)
from fsgate.v1 import fsgate_pb2

__all__ = [
    "DEFAULT_TIMEOUTS",
    "DEFAULT_WRITE_CHUNK",
    "MAX_WRITE_CHUNK",
    "SupportsRead",
    "SupportsWrite",
    "WriteData",
    "check_chunk",
    "check_read",
    "data_chunks",
    "protocol_error",
    "refuse_str",
    "split",
]

MiB = 1024 * 1024

#: Default size of the data messages ``write_file`` sends, in bytes.
DEFAULT_WRITE_CHUNK = 1 * MiB
#: Largest write chunk: leaves room for framing under gRPC's default 4 MiB message limit.
MAX_WRITE_CHUNK = 4 * MiB - 64 * 1024
#: The timeouts a client uses unless given others.
DEFAULT_TIMEOUTS = Timeouts()


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file object: ``read(n)`` returns at most n bytes, ``b""`` at the end."""

    def read(self, size: int = ..., /) -> bytes: ...


class SupportsWrite(Protocol):
    """A binary file object to copy into."""

    def write(self, data: bytes, /) -> object: ...


#: What ``Client.write_file`` accepts as content.
WriteData = bytes | bytearray | memoryview | Iterable[bytes] | SupportsRead


def protocol_error(message: str, path: str) -> FsgateError:
    """A server reply that breaks the fsgate protocol (code UNKNOWN: nothing sent it)."""
    return FsgateError(f"protocol error: {message}", code=grpc.StatusCode.UNKNOWN, path=path)


# --- request data -------------------------------------------------------------------------
def split(data: bytes | bytearray | memoryview, chunk_size: int) -> Iterator[bytes]:
    """``data`` in chunks of at most ``chunk_size`` bytes (none for empty data)."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])


def check_chunk(chunk: object, what: str) -> bytes | bytearray | memoryview:
    """``chunk`` if it is bytes-like; a TypeError naming ``what`` gave it otherwise."""
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(chunk).__name__}")
    return chunk


def check_read(chunk: object) -> bytes | bytearray | memoryview | None:
    """A file object's ``read()`` result; None (a non-blocking stream) is an error.

    Stopping at None would commit a truncated file, so it fails (the write is then
    cancelled and changes nothing).
    """
    if chunk is None:
        raise BlockingIOError("write_file source returned None (non-blocking stream)")
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"write_file source must be opened in binary mode, read() gave "
            f"{type(chunk).__name__}"
        )
    return chunk


def _iter_chunks(chunks: Iterable[bytes], chunk_size: int) -> Iterator[bytes]:
    for chunk in chunks:
        yield from split(check_chunk(chunk, "write_file data chunks"), chunk_size)


def _read_chunks(source: SupportsRead, chunk_size: int) -> Iterator[bytes]:
    while True:
        chunk = check_read(source.read(chunk_size))
        if not chunk:
            return
        yield from split(chunk, chunk_size)


def refuse_str(data: object) -> None:
    """A TypeError for text: the wire carries bytes, and guessing an encoding is wrong."""
    if isinstance(data, str):
        raise TypeError("write_file data must be bytes, not str; encode it first")


def data_chunks(data: WriteData, chunk_size: int) -> Iterator[bytes]:
    """Content as chunks of at most ``chunk_size`` bytes; type errors raise here, eagerly."""
    refuse_str(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return split(data, chunk_size)
    if isinstance(data, SupportsRead):
        return _read_chunks(data, chunk_size)
    if isinstance(data, Iterable):
        return _iter_chunks(data, chunk_size)
    raise TypeError(
        f"write_file data must be bytes, an iterable of bytes or a binary file object, "
        f"not {type(data).__name__}"
    )


# --- the shared base ----------------------------------------------------------------------
class _ClientBase:
    """Request building and response conversion, free of I/O; shared by sync and async."""

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
        if not isinstance(target, str) or not target:
            raise ValueError("target must be 'host:port' or 'unix:/path'")
        if token is not None and (
            not token or any(not ("\x21" <= c <= "\x7e") for c in token)
        ):
            # gRPC metadata values must be printable ASCII; fail here, not on every call.
            raise ValueError("token must be non-empty printable ASCII without whitespace")
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"policy must be a fsgate.Policy, not {type(policy).__name__}")
        if not isinstance(timeouts, Timeouts):
            raise TypeError(f"timeouts must be a fsgate.Timeouts, not {type(timeouts).__name__}")
        self._target = target
        self._policy = policy
        self._timeouts = timeouts
        self._credentials = credentials
        self._channel_options = channel_options(timeouts.connect, options)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token is not None else ()
        )

    @property
    def target(self) -> str:
        return self._target

    @property
    def policy(self) -> Policy | None:
        """The policy sent with every call that does not pass its own."""
        return self._policy

    @property
    def timeouts(self) -> Timeouts:
        return self._timeouts

    def __repr__(self) -> str:  # never shows the token
        return f"{type(self).__name__}({self._target!r})"

    # the error boundary
    @contextlib.contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Map every grpc.RpcError raised inside (sync or aio) to an FsgateError, ``from``
        the original; ``path`` is the path the call named."""
        try:
            yield
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, path=path) from exc

    # deadlines
    def _call_timeout(self, timeout: float | None) -> float:
        return self._timeouts.call if timeout is None else check_timeout(timeout)

    def _transfer_timeout(self, timeout: float | None) -> float:
        return self._timeouts.transfer if timeout is None else check_timeout(timeout)

    # requests
    def _sandbox(self, path: str, policy: Policy | None) -> fsgate_pb2.SandboxPolicy | None:
        """The request's policy (the override, else the client's); None sends no sandbox.

        No policy means the caller's ceiling. The local cwd is never sent implicitly.
        """
        effective = policy if policy is not None else self._policy
        return effective.to_proto(path) if effective is not None else None

    def _read_request(
        self, path: str, policy: Policy | None, offset: int, length: int, chunk_size: int
    ) -> fsgate_pb2.ReadFileRequest:
        return fsgate_pb2.ReadFileRequest(
            path=path,
            sandbox=self._sandbox(path, policy),
            offset=offset,
            length=length,
            chunk_size=chunk_size,
        )

    def _write_header(
        self,
        path: str,
        *,
        policy: Policy | None,
        mode: WriteMode,
        create_parents: bool,
        if_version: str,
        file_mode: int,
        chunk_size: int,
    ) -> fsgate_pb2.WriteFileRequest.Header:
        if not 1 <= chunk_size <= MAX_WRITE_CHUNK:
            raise ValueError(f"chunk_size must be 1..{MAX_WRITE_CHUNK} bytes, got {chunk_size}")
        return fsgate_pb2.WriteFileRequest.Header(
            path=path,
            sandbox=self._sandbox(path, policy),
            mode=WriteMode(mode).value,
            create_parents=create_parents,
            if_version=if_version,
            file_mode=file_mode,
        )

    def _list_request(
        self, path: str, policy: Policy | None, depth: int, page_size: int, page_token: str
    ) -> fsgate_pb2.ListDirRequest:
        return fsgate_pb2.ListDirRequest(
            path=path,
            sandbox=self._sandbox(path, policy),
            depth=depth,
            page_size=page_size,
            page_token=page_token,
        )

    def _stat_request(
        self, path: str, policy: Policy | None, follow_symlinks: bool
    ) -> fsgate_pb2.StatRequest:
        return fsgate_pb2.StatRequest(
            path=path, sandbox=self._sandbox(path, policy), follow_symlinks=follow_symlinks
        )

    # responses
    @staticmethod
    def _read_info(first: fsgate_pb2.ReadFileResponse | None, path: str) -> FileInfo:
        if first is None:
            raise protocol_error("ReadFile stream ended before its info message", path)
        if first.WhichOneof("payload") != "info":
            raise protocol_error("ReadFile stream did not start with info", path)
        return FileInfo.from_proto(first.info)

    @staticmethod
    def _read_data(msg: fsgate_pb2.ReadFileResponse, path: str) -> bytes:
        if msg.WhichOneof("payload") != "data":
            raise protocol_error("ReadFile sent a second info message", path)
        return msg.data

    @staticmethod
    def _list_page(msg: fsgate_pb2.ListDirResponse) -> tuple[list[DirEntry], str]:
        return [DirEntry.from_proto(e) for e in msg.entries], msg.next_page_token

    @staticmethod
    def _next_page(token: str, seen: set[str], path: str) -> bool:
        """Whether a listing goes on after a page that ended with ``token``.

        Bounds the loop against a server that cycles its tokens.
        """
        if not token:
            return False
        if token in seen:
            raise protocol_error("ListDir repeated a page token", path)
        seen.add(token)
        return True
