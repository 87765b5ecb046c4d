"""EditFile and ReadFile line windows in the clients: ``edit_file``, ``read_lines``, ``tail``.

The I/O-free part (:class:`_EditBase`: the prepare steps and the conversions) is shared;
:class:`EditMethods` and :class:`AsyncEditMethods` are the blocking and asyncio methods,
mixed into :class:`fsgate.Client` and :class:`fsgate.AsyncClient`. They send through the
client's own ``_unary`` (EditFile) and ``_open_stream`` (a prepared ReadFile).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fsgate._base import Prepared, _ClientBase
from fsgate._types import FileInfo, Policy, StrPath, fspath
from fsgate.v1 import fsgate_pb2

__all__ = ["AsyncEditMethods", "Edit", "EditMethods", "EditResult", "EditSpec", "split_lines"]


@dataclass(frozen=True)
class Edit:
    """One exact replacement for :meth:`fsgate.Client.edit_file`.

    Attributes:
        old_text: the text to find, exactly (no regex, no whitespace folding); not empty.
        new_text: what replaces it; "" deletes it.
        replace_all: replace every occurrence; by default ``old_text`` must occur exactly
            once (else :class:`fsgate.AmbiguousMatch`).
    """

    old_text: str
    new_text: str
    replace_all: bool = False

    def __post_init__(self) -> None:
        for name in ("old_text", "new_text"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(f"Edit.{name} must be a str, not {type(value).__name__}")
        if not isinstance(self.replace_all, bool):
            raise TypeError("Edit.replace_all must be a bool")


#: An item of ``edits=``: an :class:`Edit`, or ``(old_text, new_text)`` /
#: ``(old_text, new_text, replace_all)``.
EditSpec = Edit | tuple[str, str] | tuple[str, str, bool]


@dataclass(frozen=True)
class EditResult:
    """A completed (or, with ``dry_run``, previewed) edit.

    Attributes:
        info: the file after the edit; before it with ``dry_run``.
        replacements: occurrences replaced, over all edits.
        diff: unified diff of the change (``--- a/NAME``, ``+++ b/NAME``); "" when the
            content did not change.
        diff_truncated: the diff was cut after the last whole hunk within 1 MiB; the edit
            itself is complete either way.
    """

    info: FileInfo
    replacements: int
    diff: str
    diff_truncated: bool = False


def split_lines(data: bytes, errors: str = "replace") -> list[str]:
    """``data`` as UTF-8 lines, each with its ``\\n`` (the last may have none; a ``\\r``
    before ``\\n`` is kept): exactly the lines the server counts."""
    parts = data.split(b"\n")
    last = parts.pop()
    lines = [p.decode("utf-8", errors) + "\n" for p in parts]
    if last:
        lines.append(last.decode("utf-8", errors))
    return lines


def _edits(old_text: str | None, new_text: str | None, replace_all: bool,
           edits: Iterable[EditSpec] | None) -> list[Edit]:
    if edits is None:
        if old_text is None or new_text is None:
            raise TypeError("edit_file needs old_text and new_text, or edits=[Edit(...), ...]")
        return [Edit(old_text, new_text, replace_all)]
    if old_text is not None or new_text is not None or replace_all:
        raise TypeError("edit_file takes old_text/new_text/replace_all or edits=, not both")
    if isinstance(edits, (Edit, str, bytes)):
        raise TypeError("edits= takes a list of edits, not a single one")
    return [e if isinstance(e, Edit) else Edit(*e) for e in edits]


def _count(name: str, value: int, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")
    return value


# --- the shared, I/O-free part ------------------------------------------------------------
class _EditBase(_ClientBase):
    def _prepare_edit(
        self,
        path: StrPath,
        *,
        edits: list[Edit],
        if_version: str,
        dry_run: bool,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.EditFileRequest]:
        p = fspath(path)
        request = fsgate_pb2.EditFileRequest(
            path=p,
            sandbox=self._sandbox(p, policy),
            edits=[fsgate_pb2.Edit(old_text=e.old_text, new_text=e.new_text,
                                   replace_all=e.replace_all) for e in edits],
            if_version=if_version,
            dry_run=dry_run,
        )
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _edit_result(response: fsgate_pb2.EditFileResponse) -> EditResult:
        return EditResult(info=FileInfo.from_proto(response.info),
                          replacements=response.replacements, diff=response.diff,
                          diff_truncated=response.diff_truncated)

    def _prepare_lines(
        self,
        path: StrPath,
        *,
        line_offset: int = 0,
        line_limit: int = 0,
        tail_lines: int = 0,
        chunk_size: int,
        policy: Policy | None,
        timeout: float | None,
    ) -> Prepared[fsgate_pb2.ReadFileRequest]:
        """A ReadFile of a line window: ``line_offset``/``line_limit``, or ``tail_lines``."""
        p = fspath(path)
        request = fsgate_pb2.ReadFileRequest(
            path=p,
            sandbox=self._sandbox(p, policy),
            line_offset=_count("offset", line_offset, 0),
            line_limit=_count("limit", line_limit, 0),
            tail_lines=_count("n", tail_lines, 0),
            chunk_size=chunk_size,
        )
        return self._prepared(p, request, self._transfer_timeout(timeout))


# --- the blocking methods -----------------------------------------------------------------
class EditMethods(_EditBase):
    """``edit_file``, ``read_lines`` and ``tail`` of :class:`fsgate.Client`."""

    if TYPE_CHECKING:  # provided by Client
        def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

        def _open_stream(self, rpc: Prepared[fsgate_pb2.ReadFileRequest]
                         ) -> tuple[FileInfo, Iterator[bytes]]: ...

    def edit_file(
        self,
        path: StrPath,
        old_text: str | None = None,
        new_text: str | None = None,
        *,
        replace_all: bool = False,
        edits: Iterable[EditSpec] | None = None,
        if_version: str = "",
        dry_run: bool = False,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> EditResult:
        """Replace exact text in a UTF-8 file, atomically (as :meth:`write_file` replaces
        a file: same permission bits, a new version; a reader sees old or new).

        ``edit_file(path, old, new)`` replaces the one occurrence of ``old``
        (``replace_all=True``: every one). ``edits=[Edit(old, new), (old2, new2), ...]``
        applies several in order, each to the result of the one before, all or nothing.

        Args:
            if_version: edit only if the current ``FileInfo.version`` equals this, else
                :class:`fsgate.VersionMismatch`; empty: no check (a concurrent change
                is never overwritten: the edit is then made on the new content).
            dry_run: compute the result and the diff, change nothing.

        Raises :class:`fsgate.NoMatch` / :class:`fsgate.AmbiguousMatch` (``.edit`` the
        0-based index, ``.count`` the occurrences), :class:`fsgate.NotText`,
        :class:`fsgate.TooLarge`, :class:`fsgate.InvalidRequest` (no edits, an empty
        ``old_text``), and what :meth:`write_file` raises. On any error nothing changed.
        """
        rpc = self._prepare_edit(path, edits=_edits(old_text, new_text, replace_all, edits),
                                 if_version=if_version, dry_run=dry_run, policy=policy,
                                 timeout=timeout)
        return self._edit_result(self._unary("EditFile", rpc))

    def read_lines(
        self,
        path: StrPath,
        offset: int = 0,
        limit: int = 0,
        *,
        errors: str = "replace",
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """Lines ``offset`` (0-based) to ``offset + limit`` of a file (``limit=0``: to the
        end), each with its ``\\n`` (see :func:`split_lines`). The server streams only
        those lines; undecodable bytes follow ``errors`` (as in ``bytes.decode``)."""
        rpc = self._prepare_lines(path, line_offset=offset, line_limit=limit,
                                  chunk_size=chunk_size, policy=policy, timeout=timeout)
        _, chunks = self._open_stream(rpc)
        return split_lines(b"".join(chunks), errors)

    def tail(
        self,
        path: StrPath,
        n: int = 10,
        *,
        errors: str = "replace",
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """The last ``n`` (at least 1) lines of a file, as :meth:`read_lines` returns
        them; the server reads backwards from the end, so a tail of a huge file costs
        what the tail costs."""
        rpc = self._prepare_lines(path, tail_lines=_count("n", n, 1), chunk_size=chunk_size,
                                  policy=policy, timeout=timeout)
        _, chunks = self._open_stream(rpc)
        return split_lines(b"".join(chunks), errors)


# --- the asyncio methods ------------------------------------------------------------------
class AsyncEditMethods(_EditBase):
    """``edit_file``, ``read_lines`` and ``tail`` of :class:`fsgate.AsyncClient`: as
    :class:`EditMethods`, coroutines."""

    if TYPE_CHECKING:  # provided by AsyncClient
        async def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

        async def _open_stream(self, rpc: Prepared[fsgate_pb2.ReadFileRequest]
                               ) -> tuple[FileInfo, AsyncGenerator[bytes, None]]: ...

    async def edit_file(
        self,
        path: StrPath,
        old_text: str | None = None,
        new_text: str | None = None,
        *,
        replace_all: bool = False,
        edits: Iterable[EditSpec] | None = None,
        if_version: str = "",
        dry_run: bool = False,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> EditResult:
        """As :meth:`fsgate.Client.edit_file`."""
        rpc = self._prepare_edit(path, edits=_edits(old_text, new_text, replace_all, edits),
                                 if_version=if_version, dry_run=dry_run, policy=policy,
                                 timeout=timeout)
        return self._edit_result(await self._unary("EditFile", rpc))

    async def read_lines(
        self,
        path: StrPath,
        offset: int = 0,
        limit: int = 0,
        *,
        errors: str = "replace",
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """As :meth:`fsgate.Client.read_lines`."""
        rpc = self._prepare_lines(path, line_offset=offset, line_limit=limit,
                                  chunk_size=chunk_size, policy=policy, timeout=timeout)
        return split_lines(await self._collect(rpc), errors)

    async def tail(
        self,
        path: StrPath,
        n: int = 10,
        *,
        errors: str = "replace",
        chunk_size: int = 0,
        policy: Policy | None = None,
        timeout: float | None = None,
    ) -> list[str]:
        """As :meth:`fsgate.Client.tail`."""
        rpc = self._prepare_lines(path, tail_lines=_count("n", n, 1), chunk_size=chunk_size,
                                  policy=policy, timeout=timeout)
        return split_lines(await self._collect(rpc), errors)

    async def _collect(self, rpc: Prepared[fsgate_pb2.ReadFileRequest]) -> bytes:
        _, chunks = await self._open_stream(rpc)
        parts: list[bytes] = []
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                parts.append(chunk)
        return b"".join(parts)
