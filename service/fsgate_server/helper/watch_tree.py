"""The directories one watch has inotify watches on, by path relative to the watched
directory, and the one way a directory gets watched: through a descriptor.

:meth:`Tree.add` resolves the directory with the walk.py resolver (component by component,
``O_PATH | O_NOFOLLOW``, every step judged by the policy, the last component never
followed), requires that the kernel reports the descriptor exactly where the tree expects
it, adds the watch through ``/proc/self/fd/N`` of that descriptor (helper/inotify.py), and
checks the descriptor's location once more afterwards: a directory swapped for a symlink,
or moved out of the tree, at any moment, is never watched under a name inside it. One
moved out *after* that is seen as its parent's IN_MOVED_FROM, and its watches are dropped
(:meth:`drop`) before any later event of it is read.

Scanning a directory (to report what was created in it before its watch landed) reads the
same inode through that descriptor, after the watch is in place.
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.inotify import Inotify
from fsgate_server.helper.resolve import closing_fd, kernel_path, reopen
from fsgate_server.helper.walk import join, resolve
from fsgate_server.policy import EffectivePolicy

__all__ = ["Added", "Tree"]


@dataclass
class Added:
    wd: int
    new: bool  # False: that inode was watched already
    entries: list[tuple[str, bool]] = field(default_factory=list)  # (name, is a directory)


class Tree:
    def __init__(self, ino: Inotify, policy: EffectivePolicy, real: str, max_dirs: int,
                 path: str) -> None:
        self.ino = ino
        self.policy = policy
        self.real = real  # where the watched directory really is
        self.max_dirs = max_dirs
        self.path = path  # the caller's spelling, for messages
        self._rel: dict[int, str] = {}  # wd -> relative path ("" for the watched directory)
        self._wd: dict[str, int] = {}
        self._inode: dict[int, tuple[int, int]] = {}  # wd -> (st_dev, st_ino)

    def __len__(self) -> int:
        return len(self._rel)

    def rel_of(self, wd: int) -> str | None:
        return self._rel.get(wd)

    def has(self, rel: str) -> bool:
        return rel in self._wd

    def real_of(self, rel: str) -> str:
        return join(self.real, rel) if rel else self.real

    def add(self, rel: str, *, scan: bool, fd: int | None = None,
            rescan: bool = False) -> Added | None:
        """Watch the directory at ``rel`` (``fd``: an O_PATH descriptor of it already
        resolved); with ``scan``, list what it holds once the watch is in place (only for a
        newly watched one, unless ``rescan``). None when it is not a directory inside the
        tree now (gone, a link, moved, denied): nothing is watched then. TOO_LARGE past
        max_dirs or the kernel's inotify limits."""
        where = self.real_of(rel)
        if fd is None:
            try:
                found = resolve(where, self.policy.can_read, self.policy.readable,
                                follow=False)
            except Failure:
                return None  # vanished, swapped, or not ours to look at: nothing to watch
            if found.real != where:
                os.close(found.fd)
                return None
            fd, st = found.fd, found.st
        else:
            fd, st = os.dup(fd), os.fstat(fd)
        with closing_fd(fd):
            if not stat.S_ISDIR(st.st_mode):
                return None
            added = self._watch(fd, rel, where, st)
            if added is not None and scan and (added.new or rescan):
                added.entries = self._scan(fd, rel)
            return added

    def _watch(self, fd: int, rel: str, where: str, st: os.stat_result) -> Added | None:
        try:
            wd = self.ino.watch_fd(fd)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise self._too_large("the kernel's inotify watch limit "
                                      "(fs.inotify.max_user_watches)") from exc
            return None  # ENOENT, ENOTDIR, EACCES: it is not a directory we may watch now
        known = self._rel.get(wd)
        if known is None and len(self._rel) >= self.max_dirs:
            self.ino.remove(wd)
            raise self._too_large(f"the server's limit of {self.max_dirs} watched "
                                  "directories (--max-watched-dirs)")
        if kernel_path(fd) != where:  # moved while we added it: not under this name
            if known is None:
                self.ino.remove(wd)
            return None
        if known is not None and known != rel:
            self._forget(wd)  # the same inode under a new name: events will say so too
            known = None
        if known is None:
            self._rel[wd], self._wd[rel] = rel, wd
            self._inode[wd] = (st.st_dev, st.st_ino)
        return Added(wd, known is None)

    def _too_large(self, limit: str) -> Failure:
        return Failure(Reason.TOO_LARGE, f"{self.path}: more directories to watch than "
                       f"{limit} allows")

    def _scan(self, fd: int, rel: str) -> list[tuple[str, bool]]:
        try:
            dfd = reopen(fd, os.O_RDONLY | os.O_DIRECTORY, self.path)
        except Failure:
            return []
        out = []
        with closing_fd(dfd):
            try:
                with os.scandir(dfd) as it:
                    for entry in it:
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            continue  # gone since the scan read its name
                        out.append((entry.name, is_dir))
            except OSError:
                pass  # removed while we read it: its IN_DELETE_SELF follows
        return out

    def holds(self, rel: str, name: str) -> bool:
        """Whether the directory at ``rel`` has an entry ``name`` now (looked up through a
        resolved descriptor of it, never followed)."""
        try:
            found = resolve(self.real_of(rel), self.policy.can_read, self.policy.readable,
                            follow=False)
        except Failure:
            return False
        with closing_fd(found.fd):
            try:
                os.stat(name, dir_fd=found.fd, follow_symlinks=False)
            except OSError:
                return False
        return True

    def forget(self, wd: int) -> None:
        """The kernel removed this watch (IN_IGNORED)."""
        self._forget(wd)

    def _forget(self, wd: int) -> None:
        rel = self._rel.pop(wd, None)
        self._inode.pop(wd, None)
        if rel is not None and self._wd.get(rel) == wd:
            del self._wd[rel]

    def _below(self, rel: str) -> list[int]:
        prefix = rel + "/"
        return [wd for wd, r in self._rel.items() if r == rel or r.startswith(prefix)]

    def drop(self, rel: str) -> None:
        """Stop watching ``rel`` and everything below it: its events are dropped from now
        on, whatever is still queued (the inode may be outside the tree by now)."""
        for wd in self._below(rel):
            self._forget(wd)
            self.ino.remove(wd)

    def rename(self, old: str, new: str, keep: Callable[[str], bool]) -> None:
        """``old`` and everything below it is now at ``new``; what ``keep`` refuses at its
        new place (denied, excluded) is dropped."""
        for wd in self._below(old):
            rel = new + self._rel[wd][len(old):]
            self._forget(wd)
            if keep(rel):
                self._rel[wd], self._wd[rel] = rel, wd
            else:
                self.ino.remove(wd)

    def in_place(self, rel: str = "") -> bool:
        """Whether the directory watched at ``rel`` is still there (the same inode)."""
        wd = self._wd.get(rel)
        if wd is None:
            return False
        try:
            found = resolve(self.real_of(rel), self.policy.can_read, self.policy.readable,
                            follow=False)
        except Failure:
            return False
        with closing_fd(found.fd):
            st = found.st
            return (found.real == self.real_of(rel) and stat.S_ISDIR(st.st_mode)
                    and (st.st_dev, st.st_ino) == self._inode.get(wd))

    def revalidate(self) -> bool:
        """After an overflow: drop every watch whose directory is no longer at its path
        (events that said so may have been lost). False if that is the watched directory."""
        for wd, rel in sorted(self._rel.items(), key=lambda item: item[1]):
            if wd in self._rel and not self.in_place(rel):  # (not dropped with its parent)
                self.drop(rel)
        return "" in self._wd
