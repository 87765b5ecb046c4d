"""The blocking fsgate client.

:class:`Client` is :class:`fsgate._base._ClientBase` -- each RPC's prepare step and
response conversion, and the error boundary ``_errors`` where every ``grpc.RpcError``
becomes an :class:`fsgate.FsgateError` ``from`` the original -- plus the I/O on a
blocking gRPC channel. WriteFile is :mod:`fsgate._write`; EditFile and the line windows
(``edit_file``, ``read_lines``, ``tail``) are :mod:`fsgate._edit`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import grpc

from fsgate._base import (
    DEFAULT_TIMEOUTS,
    DEFAULT_WRITE_CHUNK,
    MAX_WRITE_CHUNK,
    Prepared,
    SupportsWrite,
    _ClientBase,
)
from fsgate._channel import cancel
from fsgate._edit import EditMethods
from fsgate._namespace import NamespaceMethods
from fsgate._search import SearchMethods
from fsgate._transfer import TransferMixin
from fsgate._types import (
    DirEntry,
    FileInfo,
    Policy,
    StrPath,
    Timeouts,
    WriteMode,
    WriteResult,
)
from fsgate._watch import WatchMixin
from fsgate._write import (
    SupportsRead,
    WriteData,
    WriteRequests,
    data_chunks,
    start_write,
    write_outcome,
)
from fsgate.v1 import fsgate_pb2

__all__ = [
    "DEFAULT_TIMEOUTS",
    "DEFAULT_WRITE_CHUNK",
    "MAX_WRITE_CHUNK",
    "Client",
    "SupportsRead",
    "SupportsWrite",
    "WriteData",
]


# --- the blocking client ------------------------------------------------------------------
class Client(NamespaceMethods, TransferMixin, EditMethods, SearchMethods, WatchMixin,
             _ClientBase):
    """A blocking client for one fsgate server; thread-safe, use it as a context manager.

    Args:
        target: ``"host:port"`` or ``"unix:/path/to/socket"``.
        token: bearer token, sent as ``authorization: Bearer <token>`` on every call.
        policy: the sandbox policy sent with every call that does not pass its own
            ``policy=``; None sends none, so calls get the caller's full ceiling.
        timeouts: deadlines; see :class:`fsgate.Timeouts`. Every call has one.
        options: extra gRPC channel arguments, e.g. ``[("grpc.max_receive_message_length",
            8 << 20)]``; each replaces the same-named default (retries, keepalive,
            reconnect backoff: see ``docs/client.md``).
        credentials: TLS channel credentials (``grpc.ssl_channel_credentials(...)``);
            None uses a plaintext channel.

    Every method takes ``policy=`` (None: the client's) and ``timeout=`` in seconds (None:
    ``timeouts.call`` for unary calls, ``timeouts.transfer`` for a whole read or write
    stream). Relative paths are resolved by the server against ``policy.cwd``; without
    one they fail :class:`fsgate.CwdRequired` -- the local cwd is never sent. Every
    failure is an :class:`fsgate.FsgateError`.
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
        self._channel, self._stub = self._spec.open()
        self._closed = False
        self._lock = threading.Lock()

    # lifecycle
    def close(self) -> None:
        """Close the channel; calls in flight are cancelled. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("fsgate Client is closed")

    def _unary(self, method: str, rpc: Prepared[Any]) -> Any:
        """Send a prepared unary call (``method`` names the RPC); the raw response.
        The operation families (``_namespace.py`` ...) build their methods on this."""
        self._check_open()
        with self._errors(rpc.path):
            return getattr(self._stub, method)(rpc.request, timeout=rpc.timeout,
                                               metadata=rpc.metadata)

    # ReadFile
    def open_read(
        self,
        path: StrPath,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> tuple[FileInfo, Iterator[bytes]]:
        """Start reading a regular file: its FileInfo now, its content as it streams.

        ``offset`` and ``length`` are in bytes (``length=0``: to the end; a range past the
        end yields what exists); ``chunk_size`` is 4096..4194304 bytes, 0 for the
        server's 1 MiB. The iterator holds one chunk at a time; exhaust it or ``close()``
        it (that cancels the call). The deadline covers the whole stream.
        """
        rpc = self._prepare_read(path, offset=offset, length=length, chunk_size=chunk_size,
                                 policy=policy, timeout=timeout)
        return self._open_stream(rpc)

    def _open_stream(self, rpc: Prepared[fsgate_pb2.ReadFileRequest]
                     ) -> tuple[FileInfo, Iterator[bytes]]:
        """Start a prepared ReadFile (a byte range, or a line window: ``_edit.py``)."""
        self._check_open()
        with self._errors(rpc.path):
            call = self._stub.ReadFile(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
            responses = iter(call)
            try:
                info = self._read_info(next(responses, None), rpc.path)
            except BaseException:
                cancel(call)
                raise
        return info, self._stream_data(call, responses, rpc.path)

    def _stream_data(
        self,
        call: grpc.RpcContext,
        responses: Iterator[fsgate_pb2.ReadFileResponse],
        path: str,
    ) -> Iterator[bytes]:
        try:
            with self._errors(path):
                for msg in responses:
                    data = self._read_data(msg, path)
                    if data:
                        yield data
        finally:
            cancel(call)  # a no-op once the stream has ended

    def iter_file(
        self,
        path: StrPath,
        *,
        offset: int = 0,
        length: int = 0,
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> Iterator[bytes]:
        """Stream a regular file's content chunk by chunk (see :meth:`open_read`).

        The call starts at the first ``next()``; errors are raised from there.
        """
        _, chunks = self.open_read(
            path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
            timeout=timeout,
        )
        yield from chunks

    def read_file(
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
        return b"".join(
            self.iter_file(
                path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
                timeout=timeout,
            )
        )

    def read_to(
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
        """Copy a regular file into the binary file object ``dest``; returns bytes copied.

        ``dest`` is written chunk by chunk and not flushed or closed; on an error it holds
        what arrived before it.
        """
        written = 0
        for chunk in self.iter_file(
            path, offset=offset, length=length, chunk_size=chunk_size, policy=policy,
            timeout=timeout,
        ):
            dest.write(chunk)
            written += len(chunk)
        return written

    # WriteFile
    def write_file(
        self,
        path: StrPath,
        data: WriteData,
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

        ``data`` is bytes, an iterable of bytes, or a binary file object read
        ``chunk_size`` bytes at a time; nothing is held whole. The file changes only if
        the whole stream arrives: on any error -- including one raised while reading
        ``data``, which is re-raised as is -- the target is left exactly as it was.

        Args:
            mode: REPLACE (create or replace) or CREATE_NEW (:class:`fsgate.AlreadyExists`
                if anything is there).
            create_parents: create missing parent directories (mode 0o755).
            if_version: write only if the current ``FileInfo.version`` equals this, else
                :class:`fsgate.VersionMismatch`; empty: no check.
            file_mode: permission bits (within 0o777); 0: 0o644 for a new file, the old
                bits for a replaced one.
            chunk_size: bytes per data message, 1..MAX_WRITE_CHUNK.
        """
        rpc = self._prepare_write(
            path, mode=mode, create_parents=create_parents, if_version=if_version,
            file_mode=file_mode, chunk_size=chunk_size, policy=policy, timeout=timeout,
        )
        requests = WriteRequests(rpc.request, data_chunks(data, chunk_size))
        self._check_open()
        with self._errors(rpc.path):
            call = start_write(self._stub, rpc, requests)
            response = write_outcome(call, requests, rpc.path)
        return self._write_result(response)

    # ListDir
    def list_dir_page(
        self,
        path: StrPath,
        *,
        depth: int = 1,
        page_size: int = 0,
        page_token: str = "",
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> tuple[list[DirEntry], str]:
        """One page of a directory listing and the token of the next ("" after the last).

        ``depth`` 1 lists direct children; ``page_size`` 0 is the server's 1000.
        """
        rpc = self._prepare_list(path, depth=depth, page_size=page_size,
                                 page_token=page_token, policy=policy, timeout=timeout)
        self._check_open()
        with self._errors(rpc.path):
            response = self._stub.ListDir(rpc.request, timeout=rpc.timeout,
                                          metadata=rpc.metadata)
        return self._list_page(response)

    def list_dir(
        self,
        path: StrPath,
        *,
        depth: int = 1,
        page_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> Iterator[DirEntry]:
        """Every entry of a listing, sorted bytewise by relative path, page after page.

        One ListDir call per page, each with its own deadline, fetched as iteration
        reaches it; the first call happens at the first ``next()``.
        """
        token = ""
        seen: set[str] = set()
        while True:
            entries, token = self.list_dir_page(
                path, depth=depth, page_size=page_size, page_token=token, policy=policy,
                timeout=timeout,
            )
            yield from entries
            if not self._next_page(token, seen, path):
                return

    # Stat
    def stat(
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
        self._check_open()
        with self._errors(rpc.path):
            response = self._stub.Stat(rpc.request, timeout=rpc.timeout, metadata=rpc.metadata)
        return self._stat_result(response)
