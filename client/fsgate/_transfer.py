"""Move and Copy: the calls that name two paths, for :class:`fsgate.Client` and
:class:`fsgate.AsyncClient`.

The prepare steps and conversions are free of I/O (:class:`_TransferBase`); the two
mixins only send the prepared call through the client's ``_unary``. Neither RPC is
retried on UNAVAILABLE: a move that happened but whose answer was lost must not run
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fsgate._base import Prepared, _ClientBase
from fsgate._types import FileInfo, Policy, StrPath, fspath
from fsgate.v1 import fsgate_pb2

__all__ = ["AsyncTransferMixin", "CopyResult", "MoveResult", "TransferMixin"]


@dataclass(frozen=True)
class MoveResult:
    """A completed move: the destination afterwards (its lstat: a moved symlink is
    described as the link)."""

    info: FileInfo


@dataclass(frozen=True)
class CopyResult:
    """A completed copy: the destination afterwards, the bytes of regular-file content
    copied, and the entries copied (the top one included)."""

    info: FileInfo
    bytes_copied: int
    entries_copied: int


class _TransferBase(_ClientBase):
    """The prepare steps of Move and Copy and the conversion of their responses."""

    def _pair_sandbox(self, source: str, destination: str, policy: Policy | None
                      ) -> fsgate_pb2.SandboxPolicy | None:
        """One sandbox for both paths: with ``cwd`` if either of them needs it."""
        sandbox = self._sandbox(source, policy)
        if sandbox is not None and not sandbox.cwd:
            other = self._sandbox(destination, policy)
            if other is not None:
                sandbox.cwd = other.cwd
        return sandbox

    def _prepare_move(self, source: StrPath, destination: StrPath, *, overwrite: bool,
                      create_parents: bool, policy: Policy | None, timeout: float | None
                      ) -> Prepared[fsgate_pb2.MoveRequest]:
        src, dst = fspath(source), fspath(destination)
        request = fsgate_pb2.MoveRequest(source=src, destination=dst,
                                         sandbox=self._pair_sandbox(src, dst, policy),
                                         overwrite=overwrite, create_parents=create_parents)
        # Usually one rename; across file systems a copy: the transfer deadline.
        return self._prepared(src, request, self._transfer_timeout(timeout))

    @staticmethod
    def _move_result(response: fsgate_pb2.MoveResponse) -> MoveResult:
        return MoveResult(info=FileInfo.from_proto(response.info))

    def _prepare_copy(self, source: StrPath, destination: StrPath, *, recursive: bool,
                      overwrite: bool, policy: Policy | None, timeout: float | None
                      ) -> Prepared[fsgate_pb2.CopyRequest]:
        src, dst = fspath(source), fspath(destination)
        request = fsgate_pb2.CopyRequest(source=src, destination=dst,
                                         sandbox=self._pair_sandbox(src, dst, policy),
                                         recursive=recursive, overwrite=overwrite)
        return self._prepared(src, request, self._transfer_timeout(timeout))

    @staticmethod
    def _copy_result(response: fsgate_pb2.CopyResponse) -> CopyResult:
        return CopyResult(info=FileInfo.from_proto(response.info),
                          bytes_copied=response.bytes_copied,
                          entries_copied=response.entries_copied)


class TransferMixin(_TransferBase):
    """``move`` and ``copy`` of the blocking :class:`fsgate.Client`."""

    def _unary(self, method: str, rpc: Prepared[Any]) -> Any:
        raise NotImplementedError  # pragma: no cover - Client provides it

    def move(self, source: StrPath, destination: StrPath, *, overwrite: bool = False,
             create_parents: bool = False, policy: Policy | None = None,
             timeout: float | None = None) -> MoveResult:
        """Rename ``source`` to ``destination`` (a file, a directory, or a symlink as the
        link). Both must be writable.

        Without ``overwrite`` an existing destination raises :class:`fsgate.AlreadyExists`
        (the server's kernel decides, atomically: of two moves racing onto one name,
        exactly one wins). With it, a file replaces a file or symlink atomically, a
        directory only an empty directory (else :class:`fsgate.NotEmpty`).
        ``create_parents`` makes missing parents of the destination. A directory moved
        into itself raises :class:`fsgate.InvalidRequest`; a served root or a protected
        path, :class:`fsgate.ProtectedPath`. Across file systems the server copies, then
        removes the source; the destination still appears at once.
        """
        rpc = self._prepare_move(source, destination, overwrite=overwrite,
                                 create_parents=create_parents, policy=policy,
                                 timeout=timeout)
        return self._move_result(self._unary("Move", rpc))

    def copy(self, source: StrPath, destination: StrPath, *, recursive: bool = False,
             overwrite: bool = False, policy: Policy | None = None,
             timeout: float | None = None) -> CopyResult:
        """Copy ``source`` (readable) to ``destination`` (writable), on the server.

        A file's copy appears atomically, with the source's permission bits; a symlink
        is copied as a link (its target is never followed); a directory needs
        ``recursive`` (else :class:`fsgate.IsADirectory`) and its whole copy appears at
        once. FIFOs, sockets and devices raise :class:`fsgate.NotRegularFile` and leave
        nothing behind. ``overwrite`` replaces an existing file or symlink, or an empty
        directory; without it an existing destination raises
        :class:`fsgate.AlreadyExists`. Bounded by the server's entry and write limits
        (:class:`fsgate.TooLarge`).
        """
        rpc = self._prepare_copy(source, destination, recursive=recursive,
                                 overwrite=overwrite, policy=policy, timeout=timeout)
        return self._copy_result(self._unary("Copy", rpc))


class AsyncTransferMixin(_TransferBase):
    """``move`` and ``copy`` of :class:`fsgate.AsyncClient`; as :class:`TransferMixin`."""

    async def _unary(self, method: str, rpc: Prepared[Any]) -> Any:
        raise NotImplementedError  # pragma: no cover - AsyncClient provides it

    async def move(self, source: StrPath, destination: StrPath, *, overwrite: bool = False,
                   create_parents: bool = False, policy: Policy | None = None,
                   timeout: float | None = None) -> MoveResult:
        """See :meth:`fsgate.Client.move`."""
        rpc = self._prepare_move(source, destination, overwrite=overwrite,
                                 create_parents=create_parents, policy=policy,
                                 timeout=timeout)
        return self._move_result(await self._unary("Move", rpc))

    async def copy(self, source: StrPath, destination: StrPath, *, recursive: bool = False,
                   overwrite: bool = False, policy: Policy | None = None,
                   timeout: float | None = None) -> CopyResult:
        """See :meth:`fsgate.Client.copy`."""
        rpc = self._prepare_copy(source, destination, recursive=recursive,
                                 overwrite=overwrite, policy=policy, timeout=timeout)
        return self._copy_result(await self._unary("Copy", rpc))
