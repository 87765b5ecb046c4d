"""ListDir: a bounded walk of a directory tree, answered one sorted page at a time.

Every fact about an entry (its lstat, its link target) is read relative to the descriptor
of the entry's own parent directory, while the walk holds it open, with a single name: no
multi-component name is ever given to the kernel, so a directory swapped for a symlink
mid-listing can only be listed as that symlink (or skipped), never looked through. A
subdirectory is entered by ``openat(parent, name, O_DIRECTORY | O_NOFOLLOW)`` and only if
the kernel reports it where the walk expects it. The walk holds one descriptor per level
(a directory's names are read, and its scan closed, before its subdirectories are entered),
so any depth the server allows fits the helper's descriptor limit.

A page is bounded by count and by bytes: the server relays it in one gRPC message, and a
client's default receive limit is 4 MiB.
"""
from __future__ import annotations

import heapq
import os
import socket
import stat
import sys
from collections.abc import Callable
from typing import Any

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import Entry, ListArgs, ListPage
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import closing_fd, kernel_path, reopen
from fsgate_server.helper.walk import join, resolve
from fsgate_server.policy import EffectivePolicy

# Estimated wire bytes of one page; the server's ListDirResponse stays well below 4 MiB.
PAGE_BYTES = 2 << 20
_ENTRY_OVERHEAD = 96  # per entry: field tags, lengths, type, size, mode, time, version
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FS, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def op_list(sock: socket.socket, req: ListArgs) -> None:
    page = _Page(req.page_size, os.fsencode(req.after) if req.after is not None else None)
    found = resolve(req.path, req.policy.can_read, req.policy.readable, follow=True)
    with closing_fd(found.fd) as pfd:
        if not stat.S_ISDIR(found.st.st_mode):
            raise Failure(Reason.NOT_A_DIRECTORY, f"{req.path}: not a directory")
        dfd = reopen(pfd, os.O_RDONLY | os.O_DIRECTORY, req.path)
    with closing_fd(dfd):
        _Walk(req.policy, found.real, req.depth, req.max_entries, req.path, page).visit(
            dfd, found.real, b"", 1)
    codec.send(sock, Kind.RESULT, page.result(req.path))


class _Walk:
    def __init__(self, policy: EffectivePolicy, real: str, depth: int, budget: int,
                 path: str, page: _Page) -> None:
        self.policy = policy
        self.depth = depth
        self.budget = budget
        self.path = path
        self.page = page
        self.count = 0
        # The listed directory itself was checked readable, and readable roots are whole
        # subtrees: only denied paths below it can hide an entry. Check just those.
        base = real.rstrip("/").casefold() + "/"
        self.hidden = any(d.casefold().startswith(base) for d in policy.denied)

    def visit(self, fd: int, real: str, prefix: bytes, level: int) -> None:
        subdirs: list[tuple[str, bytes]] = []
        with os.scandir(fd) as it:
            for entry in it:
                rel = prefix + entry.name.encode(_FS, _FS_ERRORS)  # os.fsencode, in line
                if self.hidden and not self.policy.can_read(join(real, entry.name)):
                    continue  # denied paths do not show up, not even their names
                self.count += 1
                if self.count > self.budget:
                    raise Failure(Reason.TOO_LARGE,
                                  f"{self.path}: more than {self.budget} entries to list")
                self.page.offer(rel, fd, entry.name)
                if level < self.depth and entry.is_dir(follow_symlinks=False):
                    subdirs.append((entry.name, rel))
        for name, rel in subdirs:
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # vanished, swapped for a link, or refused: skip its inside
            with closing_fd(child):
                where = join(real, name)
                kernel = kernel_path(child)  # None past PATH_MAX: opened by one name anyway
                if kernel is not None and kernel != where:
                    continue  # moved under us: what is inside is not at rel any more
                self.visit(child, where, rel + b"/", level + 1)


# heapq's max-heap primitives, in C (public from Python 3.14 as heapify_max & co.): the
# page's candidates compare as (rel, stat, target) tuples, by rel, without a Python __lt__.
_heapify_max: Callable[[list[Any]], None] = heapq._heapify_max
_heapreplace_max: Callable[[list[Any], Any], Any] = heapq._heapreplace_max  # type: ignore[attr-defined]  # not in typeshed

_Candidate = tuple[bytes, os.stat_result, str]


class _Page:
    """The smallest ``size + 1`` relative paths after ``after``, with their facts: a plain
    list until it holds that many, then a max-heap whose top is the largest kept."""

    def __init__(self, size: int, after: bytes | None) -> None:
        self.size = size
        self.after = after
        self.kept: list[_Candidate] = []
        self.full = False

    def offer(self, rel: bytes, dfd: int, name: str) -> None:
        if self.after is not None and rel <= self.after:
            return
        if self.full and rel >= self.kept[0][0]:
            return
        try:  # relative to the entry's own directory, one name, never followed
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            target = os.readlink(name, dir_fd=dfd) if stat.S_ISLNK(st.st_mode) else ""
        except OSError:
            return  # removed or replaced since the scan: not an entry of this listing
        if self.full:
            _heapreplace_max(self.kept, (rel, st, target))
            return
        self.kept.append((rel, st, target))
        if len(self.kept) > self.size:
            _heapify_max(self.kept)
            self.full = True

    def result(self, path: str) -> ListPage:
        ordered = sorted(self.kept)  # by rel: each is unique
        more = len(ordered) > self.size
        ordered = ordered[: self.size]
        entries: list[Entry] = []
        spent = 0
        base = path.rstrip("/") + "/"
        base_len = len(base.encode("utf-8", "surrogateescape"))
        for rel, st, target in ordered:
            spent += (_wire_len(rel) * 2 + base_len
                      + (_wire_len(target.encode(_FS, _FS_ERRORS)) if target else 0)
                      + _ENTRY_OVERHEAD)
            if spent > PAGE_BYTES and entries:
                more = True  # the rest on the next page, which starts after the last sent
                break
            name = rel.decode(_FS, _FS_ERRORS)  # os.fsdecode, in line
            entries.append(Entry(name, info_of(base + name, st, target)))
        return ListPage(tuple(entries), entries[-1].name if more else None)


def _wire_len(raw: bytes) -> int:
    """Bytes a name or target costs in the response: a name that is not UTF-8 is sent
    twice, as replacement characters (up to 3 bytes per byte) and as raw bytes."""
    try:
        raw.decode("utf-8")
        return len(raw)
    except UnicodeDecodeError:
        return 4 * len(raw)
