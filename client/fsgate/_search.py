"""Search (grep) and Glob for :class:`fsgate.Client` and :class:`fsgate.AsyncClient`.

``search`` returns a :class:`SearchResult` (an async :class:`AsyncSearchResult` from the
asyncio client): an iterator of :class:`Match` as the server finds them, whose ``summary``
is set once it is exhausted. ``glob`` returns a :class:`GlobResult`. The prepare steps and
conversions here are free of I/O; the mixins add the calls to each client.
"""

from __future__ import annotations

import collections
import enum
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from fsgate._base import Prepared, _ClientBase, protocol_error
from fsgate._channel import cancel
from fsgate._types import DirEntry, Policy, StrPath, fspath
from fsgate.v1 import fsgate_pb2

if TYPE_CHECKING:
    from fsgate._channel import AsyncStub, Stub

__all__ = ["AsyncSearchMethods", "AsyncSearchResult", "GlobResult", "GlobSort", "Match",
           "SearchMethods", "SearchResult", "SearchSummary"]


class GlobSort(enum.IntEnum):
    """The order of :meth:`fsgate.Client.glob`'s entries; values mirror ``fsgate.v1.GlobSort``."""

    PATH = fsgate_pb2.GLOB_SORT_PATH
    """Bytewise by relative path (the default)."""
    MODIFIED = fsgate_pb2.GLOB_SORT_MODIFIED_DESC
    """By modification time, newest first (ties bytewise by path)."""


@dataclass(frozen=True)
class Match:
    """One matching line (or, with ``files_only``, one matching file).

    Attributes:
        path: the file's normalized absolute path, like ``FileInfo.path``.
        line_number: 1-based; 0 with ``files_only``.
        line: the line without its newline, UTF-8 (bad bytes as U+FFFD), at most 4096 bytes.
        line_truncated: ``line`` was cut at 4096 bytes.
        before, after: up to ``context_lines`` lines around it, in file order.
    """

    path: str
    line_number: int
    line: str
    line_truncated: bool
    before: tuple[str, ...]
    after: tuple[str, ...]

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.Match) -> Match:
        return cls(path=msg.path, line_number=msg.line_number, line=msg.line,
                   line_truncated=msg.line_truncated, before=tuple(msg.before),
                   after=tuple(msg.after))


@dataclass(frozen=True)
class SearchSummary:
    """How a search ended: files searched, matches sent, and whether it stopped early (at
    ``max_matches``, or a server bound: entries walked, bytes per file, time)."""

    files_searched: int
    matches: int
    truncated: bool

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.SearchSummary) -> SearchSummary:
        return cls(files_searched=msg.files_searched, matches=msg.matches,
                   truncated=msg.truncated)


@dataclass(frozen=True)
class GlobResult:
    """The matching entries (``name`` relative to the base, lstat ``info``) and whether
    more matched than were returned, or a server bound stopped the walk."""

    entries: tuple[DirEntry, ...]
    truncated: bool


def _globs(name: str, globs: str | Iterable[str]) -> list[str]:
    if isinstance(globs, str):
        return [globs]  # one glob, not its characters
    out = list(globs)
    if not all(isinstance(g, str) for g in out):
        raise TypeError(f"{name} must be strings")
    return out


class _Batches:
    """What both result types share: unpacking SearchResponse messages into matches, and
    the summary the stream must end with."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._queue: collections.deque[Match] = collections.deque()
        self.summary: SearchSummary | None = None
        """Set once the stream has been read to its end; None before."""

    def _take(self, msg: fsgate_pb2.SearchResponse) -> None:
        if self.summary is not None:
            raise protocol_error("Search sent a message after its summary", self._path)
        self._queue.extend(Match.from_proto(m) for m in msg.matches)
        if msg.HasField("summary"):
            self.summary = SearchSummary.from_proto(msg.summary)

    def _ended(self) -> None:
        if self.summary is None:
            raise protocol_error("Search stream ended without its summary", self._path)


class SearchResult(_Batches, Iterator[Match]):
    """The matches of :meth:`fsgate.Client.search`, as the server finds them (files
    bytewise by path, lines in order). ``summary`` is set once the iterator is exhausted.

    The call starts at once; its errors (e.g. :class:`fsgate.InvalidPattern`) are raised by
    the first ``next()``. Exhaust it, or ``close()`` it (or use it as a context manager):
    that cancels the call.
    """

    def __init__(self, owner: _ClientBase, call: Any, path: str) -> None:
        super().__init__(path)
        self._owner = owner
        self._call = call
        self._responses: Iterator[fsgate_pb2.SearchResponse] = iter(call)

    def __iter__(self) -> SearchResult:
        return self

    def __next__(self) -> Match:
        while not self._queue:
            if self.summary is not None:
                raise StopIteration
            with self._owner._errors(self._path):
                msg = next(self._responses, None)
            if msg is None:
                self._ended()
                raise StopIteration
            self._take(msg)
        return self._queue.popleft()

    def close(self) -> None:
        cancel(self._call)  # a no-op once the stream has ended

    def __enter__(self) -> SearchResult:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSearchResult(_Batches, AsyncIterator[Match]):
    """The matches of :meth:`fsgate.AsyncClient.search`: ``async for match in ...``;
    ``summary`` once exhausted. ``await result.aclose()`` (or ``async with``) cancels."""

    def __init__(self, owner: _ClientBase, call: Any, path: str) -> None:
        super().__init__(path)
        self._owner = owner
        self._call = call
        self._responses: AsyncIterator[fsgate_pb2.SearchResponse] = aiter(call)

    def __aiter__(self) -> AsyncSearchResult:
        return self

    async def __anext__(self) -> Match:
        while not self._queue:
            if self.summary is not None:
                raise StopAsyncIteration
            with self._owner._errors(self._path):
                msg = await anext(self._responses, None)
            if msg is None:
                self._ended()
                raise StopAsyncIteration
            self._take(msg)
        return self._queue.popleft()

    async def aclose(self) -> None:
        self._call.cancel()

    async def __aenter__(self) -> AsyncSearchResult:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# --- the prepare steps --------------------------------------------------------------------
class _SearchPrepare(_ClientBase):
    def _prepare_search(
        self, path: StrPath, pattern: str, *, fixed_strings: bool, ignore_case: bool,
        include_globs: str | Iterable[str], exclude_globs: str | Iterable[str],
        include_hidden: bool, include_ignored: bool, context_lines: int, max_matches: int,
        files_only: bool, policy: Policy | None, timeout: float | None,
    ) -> Prepared[fsgate_pb2.SearchRequest]:
        p = fspath(path)
        if not isinstance(pattern, str):
            raise TypeError(f"pattern must be a str, not {type(pattern).__name__}")
        request = fsgate_pb2.SearchRequest(
            path=p, sandbox=self._sandbox(p, policy), pattern=pattern,
            fixed_strings=fixed_strings, ignore_case=ignore_case,
            include_globs=_globs("include_globs", include_globs),
            exclude_globs=_globs("exclude_globs", exclude_globs),
            include_hidden=include_hidden, include_ignored=include_ignored,
            context_lines=context_lines, max_matches=max_matches, files_only=files_only)
        return self._prepared(p, request, self._transfer_timeout(timeout))

    def _prepare_glob(
        self, path: StrPath, patterns: str | Sequence[str], *,
        exclude_globs: str | Iterable[str], include_hidden: bool, include_ignored: bool,
        sort: GlobSort, max_results: int, policy: Policy | None, timeout: float | None,
    ) -> Prepared[fsgate_pb2.GlobRequest]:
        p = fspath(path)
        request = fsgate_pb2.GlobRequest(
            path=p, sandbox=self._sandbox(p, policy), patterns=_globs("patterns", patterns),
            exclude_globs=_globs("exclude_globs", exclude_globs),
            include_hidden=include_hidden, include_ignored=include_ignored,
            sort=GlobSort(sort).value, max_results=max_results)
        return self._prepared(p, request, self._call_timeout(timeout))

    @staticmethod
    def _glob_result(response: fsgate_pb2.GlobResponse) -> GlobResult:
        return GlobResult(entries=tuple(DirEntry.from_proto(e) for e in response.entries),
                          truncated=response.truncated)


class SearchMethods(_SearchPrepare):
    """``search`` and ``glob`` of the blocking :class:`fsgate.Client`."""

    if TYPE_CHECKING:
        _stub: Stub

        def _check_open(self) -> None: ...
        def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

    def search(
        self, path: StrPath, pattern: str, *, fixed_strings: bool = False,
        ignore_case: bool = False, include_globs: str | Iterable[str] = (),
        exclude_globs: str | Iterable[str] = (), include_hidden: bool = False,
        include_ignored: bool = False, context_lines: int = 0, max_matches: int = 0,
        files_only: bool = False, policy: Policy | None = None, timeout: float | None = None,
    ) -> SearchResult:
        """Search the files below ``path`` (a directory, or one file) for ``pattern``.

        Returns a :class:`SearchResult`: iterate it for :class:`Match` objects, then read
        its ``summary``. Binary files are skipped, symlinks are not followed, and denied
        paths are neither searched nor named. ``timeout`` covers the whole stream
        (default ``timeouts.transfer``).

        Args:
            pattern: an RE2/Rust-syntax regex matched within each line, or with
                ``fixed_strings`` a literal.
            ignore_case: match case-insensitively.
            include_globs / exclude_globs: gitignore-style globs (a str or several) on the
                path relative to ``path``: search only files matching an include glob; skip
                files and whole directories matching an exclude glob.
            include_hidden: also search names starting with ``.``.
            include_ignored: also search what ``.gitignore``/``.ignore`` files exclude.
            context_lines: lines of context before and after each match (at most 100).
            max_matches: stop after this many (0: the server's default, 1000; capped at
                its ``--max-matches``); ``summary.truncated`` says when it stopped early.
            files_only: one :class:`Match` per matching file (``line_number`` 0).
        """
        rpc = self._prepare_search(
            path, pattern, fixed_strings=fixed_strings, ignore_case=ignore_case,
            include_globs=include_globs, exclude_globs=exclude_globs,
            include_hidden=include_hidden, include_ignored=include_ignored,
            context_lines=context_lines, max_matches=max_matches, files_only=files_only,
            policy=policy, timeout=timeout)
        self._check_open()
        with self._errors(rpc.path):
            call = cast(Any, self._stub).Search(rpc.request, timeout=rpc.timeout,
                                                 metadata=rpc.metadata)
        return SearchResult(self, call, rpc.path)

    def glob(
        self, path: StrPath, patterns: str | Sequence[str], *,
        exclude_globs: str | Iterable[str] = (), include_hidden: bool = False,
        include_ignored: bool = False, sort: GlobSort = GlobSort.PATH, max_results: int = 0,
        policy: Policy | None = None, timeout: float | None = None,
    ) -> GlobResult:
        """The entries below the directory ``path`` whose relative path matches one of
        ``patterns`` (gitignore-style: ``**`` any depth, no ``/`` a name at any depth, a
        ``/`` anchors at ``path``, a trailing ``/`` directories only).

        Symlinks are reported (lstat info), never followed; hidden and ignored entries, and
        whatever ``exclude_globs`` match, are skipped unless asked for. At most
        ``max_results`` (0: 1000; capped by the server), sorted by ``sort``.
        """
        rpc = self._prepare_glob(path, patterns, exclude_globs=exclude_globs,
                                 include_hidden=include_hidden, include_ignored=include_ignored,
                                 sort=sort, max_results=max_results, policy=policy,
                                 timeout=timeout)
        return self._glob_result(self._unary("Glob", rpc))


class AsyncSearchMethods(_SearchPrepare):
    """``search`` and ``glob`` of :class:`fsgate.AsyncClient`."""

    if TYPE_CHECKING:
        def _open(self) -> AsyncStub: ...
        async def _unary(self, method: str, rpc: Prepared[Any]) -> Any: ...

    def search(
        self, path: StrPath, pattern: str, *, fixed_strings: bool = False,
        ignore_case: bool = False, include_globs: str | Iterable[str] = (),
        exclude_globs: str | Iterable[str] = (), include_hidden: bool = False,
        include_ignored: bool = False, context_lines: int = 0, max_matches: int = 0,
        files_only: bool = False, policy: Policy | None = None, timeout: float | None = None,
    ) -> AsyncSearchResult:
        """As :meth:`fsgate.Client.search`, an async iterator: ``async for m in
        fs.search(...)`` (not awaited); ``summary`` once exhausted. Use it from the
        client's event loop."""
        rpc = self._prepare_search(
            path, pattern, fixed_strings=fixed_strings, ignore_case=ignore_case,
            include_globs=include_globs, exclude_globs=exclude_globs,
            include_hidden=include_hidden, include_ignored=include_ignored,
            context_lines=context_lines, max_matches=max_matches, files_only=files_only,
            policy=policy, timeout=timeout)
        stub = self._open()
        with self._errors(rpc.path):
            call = cast(Any, stub).Search(rpc.request, timeout=rpc.timeout,
                                           metadata=rpc.metadata)
        return AsyncSearchResult(self, call, rpc.path)

    async def glob(
        self, path: StrPath, patterns: str | Sequence[str], *,
        exclude_globs: str | Iterable[str] = (), include_hidden: bool = False,
        include_ignored: bool = False, sort: GlobSort = GlobSort.PATH, max_results: int = 0,
        policy: Policy | None = None, timeout: float | None = None,
    ) -> GlobResult:
        """As :meth:`fsgate.Client.glob`."""
        rpc = self._prepare_glob(path, patterns, exclude_globs=exclude_globs,
                                 include_hidden=include_hidden, include_ignored=include_ignored,
                                 sort=sort, max_results=max_results, policy=policy,
                                 timeout=timeout)
        return self._glob_result(await self._unary("Glob", rpc))

