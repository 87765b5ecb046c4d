"""Glob: the entries below a directory whose relative path matches one of the patterns
(patterns.GlobMatcher), found by the shared tree walk (tree_walk.py) and answered in one
sorted, bounded RESULT.

An entry's facts are its lstat, read relative to its own directory's descriptor by its
one name: a symlink is reported as a link (with its target), never followed or descended.
Only the entries that can still make the answer are stat'ed (a bounded heap of the best
``max_results + 1``), and the answer is bounded by bytes as a ListDir page is.
"""
from __future__ import annotations

import heapq
import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.listing import PAGE_BYTES
from fsgate_server.helper.messages import Entry, GlobArgs, GlobDone
from fsgate_server.helper.patterns import GlobMatcher, user_spec
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import closing_fd, reopen
from fsgate_server.helper.tree_walk import DIRECTORY, Budget, TreeWalk, WalkRules
from fsgate_server.helper.walk import resolve

__all__ = ["op_glob"]

_ENTRY_OVERHEAD = 96  # per entry on the wire besides its names (listing.py's estimate)


def op_glob(sock: socket.socket, req: GlobArgs) -> None:
    matcher = GlobMatcher(req.patterns)
    rules = WalkRules(req.include_hidden, req.include_ignored,
                      user_spec(req.exclude_globs, "exclude globs"))
    found = resolve(req.path, req.policy.can_read, req.policy.readable, follow=True)
    best = _Best(req.max_results, req.by_mtime)
    with closing_fd(found.fd) as pfd:
        if not stat.S_ISDIR(found.st.st_mode):
            raise Failure(Reason.NOT_A_DIRECTORY, f"{req.path}: not a directory")
        with closing_fd(reopen(pfd, os.O_RDONLY | os.O_DIRECTORY, req.path)) as dfd:
            walk = TreeWalk(dfd, found.real, req.policy, rules,
                            Budget(req.max_entries, req.budget_ms))
            for item in walk.items():
                if matcher.matches(item.rel, item.kind == DIRECTORY):
                    best.offer(item.rel, item.dir_fd, item.name)
    entries, cut = best.result(req.path)
    codec.send(sock, Kind.RESULT, GlobDone(entries, walk.truncated or cut))


class _Worst:
    """Heap item ordered in reverse, so the heap's top is the one to drop first."""

    __slots__ = ("facts", "key", "rel")

    def __init__(self, key: tuple[int, bytes], rel: str,
                 facts: tuple[os.stat_result, str]) -> None:
        self.key = key
        self.rel = rel
        self.facts = facts

    def __lt__(self, other: _Worst) -> bool:
        return self.key > other.key


class _Best:
    """The first ``size`` matches in the answer's order, and whether there were more."""

    def __init__(self, size: int, by_mtime: bool) -> None:
        self.size = size
        self.by_mtime = by_mtime
        self.heap: list[_Worst] = []
        self.matched = 0

    def offer(self, rel: str, dir_fd: int, name: str) -> None:
        raw = os.fsencode(rel)
        full = len(self.heap) >= self.size
        if full and not self.by_mtime and (0, raw) >= self.heap[0].key:
            self.matched += 1
            return  # sorts after everything kept: no need to stat it
        try:  # relative to the entry's own directory, one name, never followed
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            target = os.readlink(name, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else ""
        except OSError:
            return  # removed or replaced since the scan: not an entry of this answer
        self.matched += 1
        key = (-st.st_mtime_ns if self.by_mtime else 0, raw)
        item = _Worst(key, rel, (st, target))
        if not full:
            heapq.heappush(self.heap, item)
        elif key < self.heap[0].key:
            heapq.heapreplace(self.heap, item)

    def result(self, path: str) -> tuple[tuple[Entry, ...], bool]:
        """The entries in order, and whether any match was left out (count or bytes)."""
        ordered = sorted(self.heap, key=lambda e: e.key)
        cut = self.matched > len(ordered)
        base = path.rstrip("/") + "/"
        spent = 0
        entries: list[Entry] = []
        for e in ordered:
            st, target = e.facts
            spent += 2 * len(os.fsencode(e.rel)) + len(base) + len(target) + _ENTRY_OVERHEAD
            if spent > PAGE_BYTES and entries:
                return tuple(entries), True
            entries.append(Entry(e.rel, info_of(base + e.rel, st, target)))
        return tuple(entries), cut
