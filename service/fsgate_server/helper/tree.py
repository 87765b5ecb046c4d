"""A recursive remove's walk of a directory tree, by descriptor, in two passes.

``check`` visits the whole tree first and changes nothing: every entry must be removable
(mutable.Judge: writable, not protected by any of its names, not denied, no served root),
the tree must hold at most ``budget`` entries and be no deeper than the descriptors allow.
Only then does ``clear`` remove it, bottom-up, judging every entry again (one created
since the check is judged like the others: a protected one is kept, with the directories
above it, and the request fails saying so).

Race-safety is by construction, never by a check before the act: a directory is entered
only by ``openat(parent_fd, name, O_DIRECTORY | O_NOFOLLOW)`` and its entries are removed
by ``unlinkat(its_fd, name)``, one name at a time. A name swapped for a symlink between the
scan and the act is refused by ``O_NOFOLLOW`` (ELOOP) and unlinked as the link it now is;
nothing a link points to is ever opened, listed or removed. A directory whose kernel path
is not where the walk expects (an ancestor was moved meanwhile) is not touched. The kernel
sandbox (REMOVE_FILE and REMOVE_DIR on the writable set only) is the second wall.

Descriptors: one per level (a directory's names are read and its scan closed before its
subdirectories are entered), so the depth is bounded by the helper's RLIMIT_NOFILE.
"""
from __future__ import annotations

import errno
import os
import resource
from collections.abc import Sequence

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.mutable import EntryJudge, Judge
from fsgate_server.helper.resolve import classify, closing_fd, kernel_path
from fsgate_server.helper.walk import join

__all__ = ["DIR_FLAGS", "Tree", "max_depth"]

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FD_RESERVE = 16  # descriptors kept for everything but the walk's one per level
_SWAPS = 8  # a name that keeps changing between file and directory: give up after this


def max_depth() -> int:
    """The deepest level below the top the walk can hold descriptors for."""
    return max(resource.getrlimit(resource.RLIMIT_NOFILE)[0] - _FD_RESERVE, 1)


class Tree:
    """The tree below one directory: ``top_fd`` (open, read-only), really at ``top``, also
    named ``aliases`` (walk.py: the other names resolution reached it by)."""

    def __init__(self, judge: Judge, top: str, aliases: Sequence[str], budget: int) -> None:
        self.judge = judge
        self.top = top
        self.aliases = tuple(aliases)
        self.budget = budget
        self.depth_limit = max_depth()
        self.seen = 0
        self.removed = 0
        self.kept: Failure | None = None  # the first entry clear() refused to remove
        self.clearing = False

    # --- the names of one entry ---------------------------------------------------------

    def _entries_of(self, real: str, prefix: str) -> EntryJudge:
        """The judge of the entries of the directory at ``real`` (``prefix`` below top)."""
        rel = prefix.rstrip("/")
        aliases = tuple(join(a, rel) if rel else a for a in self.aliases)
        return self.judge.entries_of(real, aliases)

    def _outcome(self) -> str:
        return f"{self.removed} entries removed" if self.clearing else "nothing removed"

    def _count(self) -> None:
        self.seen += 1
        if self.seen > self.budget:
            raise Failure(Reason.TOO_LARGE, f"{self.judge.path}: more than {self.budget} "
                                            "entries to remove (the server's entry limit); "
                                            f"{self._outcome()}")

    def _deeper(self, level: int) -> None:
        if level > self.depth_limit:
            raise Failure(Reason.TOO_LARGE, f"{self.judge.path}: deeper than "
                                            f"{self.depth_limit} levels; {self._outcome()}")

    def _where_ok(self, fd: int, where: str) -> bool:
        real = kernel_path(fd)  # None past PATH_MAX: opened by one name from a checked fd
        return real is None or real == where

    @staticmethod
    def _scan(fd: int) -> list[tuple[str, bool]]:
        """The names in a directory, each with whether it is a directory (not followed)."""
        with os.scandir(fd) as it:
            return [(e.name, e.is_dir(follow_symlinks=False)) for e in it]

    # --- the check ----------------------------------------------------------------------

    def check(self, fd: int) -> None:
        """Raise unless every entry below may be removed; changes nothing."""
        self.seen = 1  # the top itself
        self._check(fd, self.top, "", 1)

    def _check(self, fd: int, real: str, prefix: str, level: int) -> None:
        subdirs = []
        judge = self._entries_of(real, prefix)
        for name, is_dir in self._scan(fd):
            self._count()
            refusal = judge(name, prefix + name)
            if refusal is not None:
                raise refusal
            if is_dir:
                subdirs.append(name)
        for name in subdirs:
            self._deeper(level)
            where = join(real, name)
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    continue  # now a link or a file (removed as a name), or gone
                raise classify(exc, self.judge.path, True) from exc
            with closing_fd(child):
                if not self._where_ok(child, where):
                    raise _moved(self.judge.path, self._outcome())
                self._check(child, where, prefix + name + "/", level + 1)

    # --- the removal --------------------------------------------------------------------

    def clear(self, fd: int) -> None:
        """Remove everything below the top (not the top itself)."""
        self.seen = 1
        self.clearing = True
        self._clear(fd, self.top, "", 1)

    def _clear(self, fd: int, real: str, prefix: str, level: int) -> None:
        judge = self._entries_of(real, prefix)
        for name, is_dir in self._scan(fd):
            self._count()
            rel = prefix + name
            refusal = judge(name, rel)
            if refusal is not None:
                self.kept = self.kept or refusal
                continue
            self.remove_entry(fd, name, join(real, name), rel + "/", level, is_dir)

    def remove_entry(self, fd: int, name: str, where: str, prefix: str, level: int,
                     is_dir: bool) -> None:
        """Remove the name in ``fd`` as what it is now: a directory with what is below it
        (entered without following anything), anything else as a name."""
        for _ in range(_SWAPS):
            if is_dir:
                done = self._remove_dir(fd, name, where, prefix, level)
            else:
                done = self._unlink(fd, name)
            if done:
                return
            is_dir = not is_dir  # it changed kind since it was looked at: as it is now
        raise Failure(Reason.NOT_EMPTY, f"{self.judge.path}: an entry below it keeps "
                                        "changing; stopped")

    def _unlink(self, fd: int, name: str) -> bool:
        try:
            os.unlink(name, dir_fd=fd)  # unlinkat(fd, name, 0): a link is removed as a link
        except FileNotFoundError:
            return True  # someone else removed it
        except IsADirectoryError:
            return False
        except OSError as exc:
            raise classify(exc, self.judge.path, True) from exc
        self.removed += 1
        return True

    def _remove_dir(self, fd: int, name: str, where: str, prefix: str, level: int) -> bool:
        self._deeper(level)
        try:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                return False  # swapped for a link or a file: never followed
            if exc.errno == errno.ENOENT:
                return True
            raise classify(exc, self.judge.path, True) from exc
        with closing_fd(child):
            if not self._where_ok(child, where):
                raise _moved(self.judge.path, self._outcome())
            self._clear(child, where, prefix, level + 1)
        try:
            os.rmdir(name, dir_fd=fd)  # unlinkat(fd, name, AT_REMOVEDIR): never follows
        except FileNotFoundError:
            return True
        except NotADirectoryError:
            return False  # emptied, then swapped for a link: remove the link
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                if self.kept is not None:
                    return True  # kept for an entry below that may not be removed
                raise Failure(Reason.NOT_EMPTY, f"{self.judge.path}: an entry was created "
                                                "below it during the removal; "
                                                f"{self.removed} entries removed") from exc
            raise classify(exc, self.judge.path, True) from exc
        self.removed += 1
        return True


def _moved(path: str, outcome: str) -> Failure:
    return Failure(Reason.NOT_FOUND, f"{path}: a directory below it was moved during the "
                                     f"walk; {outcome}")
