"""Search and Glob: validate (an invalid pattern or glob fails INVALID_PATTERN before any
helper starts), apply the server's caps, and relay what the helper finds.

Search streams: each batch of matches the helper sends (helper_client.search) becomes one
SearchResponse as it arrives; the last carries the summary. The helper gets a time budget a
little short of the call's deadline, so a search that runs out of time ends with its
matches so far and ``truncated`` rather than with DEADLINE_EXCEEDED.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server.errors import Failure
from fsgate_server.helper.messages import GlobArgs, SearchArgs
from fsgate_server.helper.patterns import GlobMatcher, search_regex, user_spec
from fsgate_server.transport.convert import dir_entry, search_match
from fsgate_server.transport.rpc_base import RpcBase

__all__ = ["DEFAULT_MAX_MATCHES", "DEFAULT_MAX_RESULTS", "MAX_CONTEXT_LINES", "SearchRpcs"]

DEFAULT_MAX_MATCHES = 1000
DEFAULT_MAX_RESULTS = 1000
MAX_CONTEXT_LINES = 100
# The helper stops this much before the deadline (at most), to send what it found.
_MARGIN_SECONDS = 1.0
_MARGIN_SHARE = 0.25

T = TypeVar("T")


def _checked(path: str, check: Callable[[], T]) -> T:
    try:
        return check()
    except Failure as exc:
        exc.path = exc.path or path
        raise


class SearchRpcs(RpcBase):
    """Search, Glob."""

    def _budget_ms(self, context: grpc.ServicerContext) -> int:
        left = self._deadline(context) - time.monotonic()
        return max(int((left - min(_MARGIN_SECONDS, left * _MARGIN_SHARE)) * 1000), 1)

    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext
               ) -> Iterator[pb.SearchResponse]:
        with self._rpc("Search", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            if not request.pattern:
                raise Failure(Reason.INVALID_REQUEST, "a pattern is required", path)
            _checked(path, lambda: search_regex(request.pattern,
                                                fixed_strings=request.fixed_strings,
                                                ignore_case=request.ignore_case))
            _checked(path, lambda: user_spec(request.include_globs, "include globs"))
            _checked(path, lambda: user_spec(request.exclude_globs, "exclude globs"))
            args = SearchArgs(
                path, eff, pattern=request.pattern, fixed_strings=request.fixed_strings,
                ignore_case=request.ignore_case, include_globs=tuple(request.include_globs),
                exclude_globs=tuple(request.exclude_globs),
                include_hidden=request.include_hidden, include_ignored=request.include_ignored,
                context_lines=min(request.context_lines, MAX_CONTEXT_LINES),
                files_only=request.files_only,
                max_matches=min(request.max_matches or DEFAULT_MAX_MATCHES,
                                self.config.max_matches),
                max_entries=self.config.max_list_entries,
                max_file_bytes=self.config.max_read_bytes, budget_ms=self._budget_ms(context))
            with self._client(context, facts).search(args) as batches:
                for batch in batches:
                    response = pb.SearchResponse(
                        matches=[search_match(m) for m in batch.matches])
                    if batch.summary is not None:
                        s = batch.summary
                        facts.update(matches=s.matches, files=s.files_searched,
                                     truncated=s.truncated)
                        response.summary.CopyFrom(pb.SearchSummary(
                            files_searched=s.files_searched, matches=s.matches,
                            truncated=s.truncated))
                    yield response

    def Glob(self, request: pb.GlobRequest, context: grpc.ServicerContext) -> pb.GlobResponse:
        with self._rpc("Glob", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            _checked(path, lambda: GlobMatcher(tuple(request.patterns)))
            _checked(path, lambda: user_spec(request.exclude_globs, "exclude globs"))
            if request.sort not in (pb.GLOB_SORT_UNSPECIFIED, pb.GLOB_SORT_PATH,
                                    pb.GLOB_SORT_MODIFIED_DESC):
                raise Failure(Reason.INVALID_REQUEST, f"unknown glob sort {request.sort}", path)
            done = self._client(context, facts).glob(GlobArgs(
                path, eff, patterns=tuple(request.patterns),
                exclude_globs=tuple(request.exclude_globs),
                include_hidden=request.include_hidden, include_ignored=request.include_ignored,
                by_mtime=request.sort == pb.GLOB_SORT_MODIFIED_DESC,
                max_results=min(request.max_results or DEFAULT_MAX_RESULTS,
                                self.config.max_matches),
                max_entries=self.config.max_list_entries, budget_ms=self._budget_ms(context)))
            facts.update(entries=len(done.entries), truncated=done.truncated)
            return pb.GlobResponse(entries=[dir_entry(e) for e in done.entries],
                                   truncated=done.truncated)
        raise AssertionError("unreachable")
