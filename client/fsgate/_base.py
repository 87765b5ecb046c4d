"""What :class:`fsgate.Client` and :class:`fsgate.AsyncClient` share, free of I/O.

The funnel: for each RPC, :class:`_ClientBase` has one ``_prepare_*`` step -- validate the
arguments, build the request message with its sandbox (the policy and cwd rule), choose
the deadline, attach the metadata -- that returns a :class:`Prepared` call, and one
conversion of the response into the public type. The two clients only do the I/O: they
send a :class:`Prepared` call on their channel (made by :class:`fsgate._channel.ChannelSpec`)
inside the error boundary :meth:`_ClientBase._errors`, where every ``grpc.RpcError``
becomes an :class:`fsgate.FsgateError` ``from`` the original (see :mod:`fsgate._errors`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import grpc

from fsgate._channel import ChannelSpec, channel_options
from fsgate._errors import FsgateError, from_rpc_error
from fsgate._types import (
    DirEntry,
    FileInfo,
    Policy,
    StrPath,
    Timeouts,
    WriteMode,
    WriteResult,
    check_timeout,
    fspath,
)
from fsgate.v1 import fsgate_pb2

__all__ = [
    "DEFAULT_TIMEOUTS",
    "DEFAULT_WRITE_CHUNK",
    "MAX_WRITE_CHUNK",
    "Prepared",
    "SupportsWrite",
    "protocol_error",
]

MiB = 1024 * 1024

#: Default size of the data messages ``write_file`` sends, in bytes.
DEFAULT_WRITE_CHUNK = 1 * MiB
#: Largest write chunk: leaves room for framing under gRPC's default 4 MiB message limit.
MAX_WRITE_CHUNK = 4 * MiB - 64 * 1024
#: The timeouts a client uses unless given others.
DEFAULT_TIMEOUTS = Timeouts()


class SupportsWrite(Protocol):
    """A binary file object to copy into."""

    def write(self, data: bytes, /) -> object: ...


RequestT = TypeVar("RequestT")


@dataclass(frozen=True, slots=True)
class Prepared(Generic[RequestT]):
    """One RPC ready to send: its request, the path it names, its deadline and metadata.

    For WriteFile, ``request`` is the stream's header; the data follows it.
    """

    path: str
    request: RequestT
    timeout: float
    metadata: tuple[tuple[str, str], ...]


def protocol_error(message: str, path: str) -> FsgateError:
    """A server reply that breaks the fsgate protocol (code UNKNOWN: nothing sent it)."""
    return FsgateError(f"protocol error: {message}", code=grpc.StatusCode.UNKNOWN, path=path)


# --- the shared base ----------------------------------------------------------------------
class _ClientBase:
    """The prepare step of each RPC and the conversion of its response, free of I/O."""

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
        self._spec = ChannelSpec(target, channel_options(timeouts.connect, options), credentials)
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

    @property
    def _channel_options(self) -> Sequence[tuple[str, Any]]:
        """The channel arguments of every channel this client opens (tests read them)."""
        return self._spec.options

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

    # the parts of every prepare step
    def _sandbox(self, path: str, policy: Policy | None) -> fsgate_pb2.SandboxPolicy | None:
        """The request's policy (the override, else the client's); None sends no sandbox.

        No policy means the caller's ceiling. The local cwd is never sent implicitly.
        """
        effective = policy if policy is not None else self._policy
        return effective.to_proto(path) if effective is not None else None

    def _prepared(self, path: str, request: RequestT, timeout: float) -> Prepared[RequestT]:
        return Prepared(path, request, timeout, self._metadata)

    def _call_timeout(self, timeout: float | None) -> float:
        """A unary call's deadline: ``timeout``, else ``timeouts.call``."""
        return self._timeouts.call if timeout is None else check_timeout(timeout)

    def _transfer_timeout(self, timeout: float | None) -> float:
        """A whole stream's deadline: ``timeout``, else ``timeouts.transfer``."""
        return self._timeouts.transfer if timeout is None else check_timeout(timeout)

    # ReadFile
    def _prepare_read(
        self,
        path: StrPath,
        *,
        offset: int,
        length: int,
        chunk_size: int,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.ReadFileRequest]:
        p = fspath(path)
        request = fsgate_pb2.ReadFileRequest(
            path=p,
            sandbox=self._sandbox(p, policy),
            offset=offset,
            length=length,
            chunk_size=chunk_size,
        )
        return self._prepared(p, request, self._transfer_timeout(timeout))

    @staticmethod
    def _read_info(first: fsgate_pb2.ReadFileResponse | None, path: str) -> FileInfo:
        """The FileInfo of the stream's first message (None: the stream had none)."""
        if first is None:
            raise protocol_error("ReadFile stream ended before its info message", path)
        if first.WhichOneof("payload") != "info":
            raise protocol_error("ReadFile stream did not start with info", path)
        return FileInfo.from_proto(first.info)

    @staticmethod
    def _read_data(msg: fsgate_pb2.ReadFileResponse, path: str) -> bytes:
        """The content of a later message of the stream."""
        if msg.WhichOneof("payload") != "data":
            raise protocol_error("ReadFile sent a second info message", path)
        return msg.data

    # WriteFile
    def _prepare_write(
        self,
        path: StrPath,
        *,
        mode: WriteMode,
        create_parents: bool,
        if_version: str,
        file_mode: int,
        chunk_size: int,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.WriteFileRequest.Header]:
        p = fspath(path)
        if not 1 <= chunk_size <= MAX_WRITE_CHUNK:
            raise ValueError(f"chunk_size must be 1..{MAX_WRITE_CHUNK} bytes, got {chunk_size}")
        header = fsgate_pb2.WriteFileRequest.Header(
            path=p,
            sandbox=self._sandbox(p, policy),
            mode=WriteMode(mode).value,
            create_parents=create_parents,
            if_version=if_version,
            file_mode=file_mode,
        )
        return self._prepared(p, header, self._transfer_timeout(timeout))

    @staticmethod
    def _write_result(response: fsgate_pb2.WriteFileResponse) -> WriteResult:
        return WriteResult(
            info=FileInfo.from_proto(response.info), bytes_written=response.bytes_written
        )

    # ListDir
    def _prepare_list(
        self,
        path: StrPath,
        *,
        depth: int,
        page_size: int,
        page_token: str,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.ListDirRequest]:
        p = fspath(path)
        request = fsgate_pb2.ListDirRequest(
            path=p,
            sandbox=self._sandbox(p, policy),
            depth=depth,
            page_size=page_size,
            page_token=page_token,
        )
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _list_page(msg: fsgate_pb2.ListDirResponse) -> tuple[list[DirEntry], str]:
        return [DirEntry.from_proto(e) for e in msg.entries], msg.next_page_token

    @staticmethod
    def _next_page(token: str, seen: set[str], path: StrPath) -> bool:
        """Whether a listing goes on after a page that ended with ``token``.

        Bounds the loop against a server that cycles its tokens.
        """
        if not token:
            return False
        if token in seen:
            raise protocol_error("ListDir repeated a page token", fspath(path))
        seen.add(token)
        return True

    # Stat
    def _prepare_stat(
        self,
        path: StrPath,
        *,
        follow_symlinks: bool,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.StatRequest]:
        p = fspath(path)
        request = fsgate_pb2.StatRequest(
            path=p, sandbox=self._sandbox(p, policy), follow_symlinks=follow_symlinks
        )
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _stat_result(response: fsgate_pb2.StatResponse) -> FileInfo:
        return FileInfo.from_proto(response.info)
