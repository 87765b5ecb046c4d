"""MakeDir, Remove and GetServerInfo for both clients: the I/O-free prepare steps and
result conversions (:class:`_NamespacePrepare`), the blocking methods
(:class:`NamespaceMethods`, mixed into :class:`fsgate.Client`) and the asyncio ones
(:class:`AsyncNamespaceMethods`, mixed into :class:`fsgate.AsyncClient`), both sending
through the client's ``_unary``; and the public results they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsgate._base import Prepared, _ClientBase
from fsgate._types import FileInfo, Policy, StrPath, fspath
from fsgate.v1 import fsgate_pb2

__all__ = [
    "AsyncNamespaceMethods",
    "NamespaceMethods",
    "RemoveResult",
    "ServerInfo",
    "ServerLimits",
    "ServerRoot",
]


@dataclass(frozen=True)
class RemoveResult:
    """A completed Remove.

    Attributes:
        removed: entries removed, the named one included (0: it was missing and
            ``missing_ok`` was set).
    """

    removed: int


@dataclass(frozen=True)
class ServerRoot:
    """One root the caller may reach: its absolute path, and whether it may write there."""

    path: str
    writable: bool


@dataclass(frozen=True)
class ServerLimits:
    """The server's bounds, as configured (``fsgate serve --max-...``).

    Attributes:
        max_read_bytes: largest ReadFile range, in bytes.
        max_write_bytes: largest WriteFile content, in bytes.
        max_list_depth: deepest ListDir ``depth``.
        max_list_entries: most entries one walk visits (ListDir, a recursive Remove).
        max_page_size: largest ListDir page, in entries.
        max_matches: most Search matches / Glob results per request.
        max_watches: most WatchDir streams open at once.
    """

    max_read_bytes: int
    max_write_bytes: int
    max_list_depth: int
    max_list_entries: int
    max_page_size: int
    max_matches: int
    max_watches: int

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.ServerLimits) -> ServerLimits:
        return cls(max_read_bytes=msg.max_read_bytes, max_write_bytes=msg.max_write_bytes,
                   max_list_depth=msg.max_list_depth, max_list_entries=msg.max_list_entries,
                   max_page_size=msg.max_page_size, max_matches=msg.max_matches,
                   max_watches=msg.max_watches)


@dataclass(frozen=True)
class ServerInfo:
    """What a server says about itself (GetServerInfo).

    Attributes:
        version: the server's fsgate version, e.g. ``"1.1.0"``.
        backend: its sandbox backend, ``"landlock"`` or ``"bwrap"``.
        roots: the roots this caller may reach, sorted by path.
        limits: its configured bounds.
        landlock_abi: the Landlock ABI its kernel offers (0: none).
    """

    version: str
    backend: str
    roots: tuple[ServerRoot, ...]
    limits: ServerLimits
    landlock_abi: int

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.GetServerInfoResponse) -> ServerInfo:
        return cls(version=msg.version, backend=msg.backend,
                   roots=tuple(ServerRoot(r.path, r.writable) for r in msg.roots),
                   limits=ServerLimits.from_proto(msg.limits), landlock_abi=msg.landlock_abi)


class _NamespacePrepare(_ClientBase):
    """The prepare step of each RPC of this family and the conversion of its response."""

    def _prepare_make_dir(
        self,
        path: StrPath,
        *,
        parents: bool,
        exist_ok: bool,
        mode: int,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.MakeDirRequest]:
        p = fspath(path)
        request = fsgate_pb2.MakeDirRequest(
            path=p, sandbox=self._sandbox(p, policy), parents=parents, exist_ok=exist_ok,
            mode=mode,
        )
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _make_dir_result(response: fsgate_pb2.MakeDirResponse) -> FileInfo:
        return FileInfo.from_proto(response.info)

    def _prepare_remove(
        self,
        path: StrPath,
        *,
        recursive: bool,
        missing_ok: bool,
        if_version: str,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.RemoveRequest]:
        p = fspath(path)
        request = fsgate_pb2.RemoveRequest(
            path=p, sandbox=self._sandbox(p, policy), recursive=recursive,
            missing_ok=missing_ok, if_version=if_version,
        )
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _remove_result(response: fsgate_pb2.RemoveResponse) -> RemoveResult:
        return RemoveResult(removed=response.removed)

    def _prepare_server_info(
        self, *, timeout: float | None
    ) -> Prepared[fsgate_pb2.GetServerInfoRequest]:
        return self._prepared("", fsgate_pb2.GetServerInfoRequest(), self._call_timeout(timeout))

    @staticmethod
    def _server_info_result(response: fsgate_pb2.GetServerInfoResponse) -> ServerInfo:
        return ServerInfo.from_proto(response)


class NamespaceMethods(_NamespacePrepare):
    """:class:`fsgate.Client`'s MakeDir, Remove and GetServerInfo."""

    if TYPE_CHECKING:
        def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

    def make_dir(
        self,
        path: StrPath,
        *,
        parents: bool = False,
        exist_ok: bool = False,
        mode: int = 0o755,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> FileInfo:
        """Create a directory; its FileInfo (with ``exist_ok``, the existing one's).

        Args:
            parents: create missing ancestors too, each with ``mode`` (else a missing
                parent is :class:`fsgate.NotFound`).
            exist_ok: an existing directory (or a link to one) is fine; else
                :class:`fsgate.AlreadyExists`. Anything else at the path is always
                :class:`fsgate.AlreadyExists`.
            mode: permission bits of every directory created, within 0o777, set exactly
                (the server's umask does not narrow them); 0 means 0o755.
        """
        rpc = self._prepare_make_dir(path, parents=parents, exist_ok=exist_ok, mode=mode,
                                     policy=policy, timeout=timeout)
        return self._make_dir_result(self._unary("MakeDir", rpc))

    def remove(
        self,
        path: StrPath,
        *,
        recursive: bool = False,
        missing_ok: bool = False,
        if_version: str = "",
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> RemoveResult:
        """Remove a file, a symlink (the link itself, never its target) or a directory.

        Args:
            recursive: remove a directory with everything below it. The whole tree is
                checked first: an entry below that may not be removed (protected,
                denied, a served root) or more entries than the server's
                ``max_list_entries`` fail the call with nothing removed. Without it a
                non-empty directory is :class:`fsgate.NotEmpty` (:class:`fsgate.ProtectedPath`
                when a protected path lies below it); an empty one is removed.
            missing_ok: a missing path is no error (``removed == 0``).
            if_version: remove only if the current ``FileInfo.version`` (of the entry
                itself, not followed) equals this, else :class:`fsgate.VersionMismatch`.

        A served root, or anything that holds one, is :class:`fsgate.ProtectedPath`.
        """
        rpc = self._prepare_remove(path, recursive=recursive, missing_ok=missing_ok,
                                   if_version=if_version, policy=policy, timeout=timeout)
        return self._remove_result(self._unary("Remove", rpc))

    def server_info(self, *, timeout: float | None = None) -> ServerInfo:
        """The server's version, backend, the roots this caller may reach and its limits."""
        rpc = self._prepare_server_info(timeout=timeout)
        return self._server_info_result(self._unary("GetServerInfo", rpc))


class AsyncNamespaceMethods(_NamespacePrepare):
    """:class:`fsgate.AsyncClient`'s MakeDir, Remove and GetServerInfo: as
    :class:`NamespaceMethods`, awaited."""

    if TYPE_CHECKING:
        async def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

    async def make_dir(
        self,
        path: StrPath,
        *,
        parents: bool = False,
        exist_ok: bool = False,
        mode: int = 0o755,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> FileInfo:
        """Create a directory; see :meth:`fsgate.Client.make_dir`."""
        rpc = self._prepare_make_dir(path, parents=parents, exist_ok=exist_ok, mode=mode,
                                     policy=policy, timeout=timeout)
        return self._make_dir_result(await self._unary("MakeDir", rpc))

    async def remove(
        self,
        path: StrPath,
        *,
        recursive: bool = False,
        missing_ok: bool = False,
        if_version: str = "",
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> RemoveResult:
        """Remove a file, a symlink or a directory; see :meth:`fsgate.Client.remove`."""
        rpc = self._prepare_remove(path, recursive=recursive, missing_ok=missing_ok,
                                   if_version=if_version, policy=policy, timeout=timeout)
        return self._remove_result(await self._unary("Remove", rpc))

    async def server_info(self, *, timeout: float | None = None) -> ServerInfo:
        """The server's version, backend, roots and limits; see
        :meth:`fsgate.Client.server_info`."""
        rpc = self._prepare_server_info(timeout=timeout)
        return self._server_info_result(await self._unary("GetServerInfo", rpc))
