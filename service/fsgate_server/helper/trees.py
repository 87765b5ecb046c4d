"""Descriptor walks over a directory tree for Move and Copy: the names below a directory
(to judge each one before a rename moves them all), and the removal of a tree (a failed
copy's temporary, a source moved across file systems, a stale temporary the sweep finds).

Every step is relative to the descriptor of the entry's own parent, by one name, and never
follows a link: a directory is entered by ``openat(O_DIRECTORY | O_NOFOLLOW)``, so one
swapped for a symlink mid-walk is seen (and removed) as that symlink, and nothing outside
the tree is ever looked at. A directory's names are read, and its scan closed, before its
subdirectories are entered: one descriptor per level. The depth is bounded by the
descriptors the helper may open, the number of entries by the caller's budget.
"""
from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Iterator

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.resolve import closing_fd

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FD_RESERVE = 16  # descriptors kept free for everything but the walk's own per level


def max_depth(per_level: int = 1) -> int:
    """The deepest walk that fits the descriptor limit, holding ``per_level`` per level."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - _FD_RESERVE
    return max(limit // per_level, 1)


def too_deep(path: str, depth: int) -> Failure:
    return Failure(Reason.TOO_LARGE, f"{path}: more than {depth} directory levels below it")


class Budget:
    """The entries (and content bytes) one request may walk over or copy."""

    def __init__(self, path: str, entries: int, content: int = 0) -> None:
        self.path = path
        self.entries = entries
        self.content = content
        self.entries_taken = 0
        self.bytes_taken = 0

    def entry(self) -> None:
        self.entries_taken += 1
        if self.entries_taken > self.entries:
            raise Failure(Reason.TOO_LARGE,
                          f"{self.path}: more than {self.entries} entries (the server's limit)")

    def left(self) -> int:
        """Content bytes still allowed."""
        return self.content - self.bytes_taken

    def spend(self, n: int) -> None:
        self.bytes_taken += n
        if self.bytes_taken > self.content:
            raise Failure(Reason.TOO_LARGE,
                          f"{self.path}: more than {self.content} bytes to copy "
                          "(the server's limit)")


def names_below(fd: int, budget: Budget, path: str) -> Iterator[str]:
    """The relative path of every entry below the directory ``fd`` (not followed into
    links), each counted against ``budget``."""
    depth = max_depth()

    def visit(dfd: int, prefix: str, level: int) -> Iterator[str]:
        subdirs: list[str] = []
        with os.scandir(dfd) as it:
            for entry in it:
                budget.entry()
                yield prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(entry.name)
        for name in subdirs:
            if level >= depth:
                raise too_deep(path, depth)
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=dfd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    continue  # gone, or no longer a directory: nothing below it moves
                raise
            with closing_fd(child):
                yield from visit(child, prefix + name + "/", level + 1)

    yield from visit(fd, "", 1)


def remove_tree(parent: int, name: str, *, ours: bool, budget: Budget | None = None) -> int:
    """Remove ``name`` in ``parent`` and everything below it, never following a link;
    the number of entries removed. ``ours``: a tree this helper's kind made (a temporary),
    whose directories may be made writable to empty them; a caller's tree is removed as
    its permissions allow. OSError if something cannot be removed."""
    depth = max_depth()
    removed = 0

    def empty(dfd: int, level: int) -> None:
        nonlocal removed
        if ours:
            with contextlib.suppress(OSError):
                os.fchmod(dfd, 0o700)
        with os.scandir(dfd) as it:
            entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        for child, is_dir in entries:
            if budget is not None:
                budget.entry()
            if is_dir:
                if level >= depth:
                    raise too_deep(name, depth)
                try:
                    fd = os.open(child, DIR_FLAGS, dir_fd=dfd)
                except OSError as exc:
                    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    is_dir = False  # swapped for a link or a file: unlinked as that
                else:
                    with closing_fd(fd):
                        empty(fd, level + 1)
            with contextlib.suppress(FileNotFoundError):
                if is_dir:
                    os.rmdir(child, dir_fd=dfd)
                else:
                    os.unlink(child, dir_fd=dfd)
                removed += 1

    try:
        top = os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        os.unlink(name, dir_fd=parent)
        return 1
    with closing_fd(top):
        empty(top, 1)
    os.rmdir(name, dir_fd=parent)
    return removed + 1
