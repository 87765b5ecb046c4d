"""Named temporaries of writes, and the start-up sweep that removes the ones a killed
helper left behind.

A write's content lands in an unnamed ``O_TMPFILE`` inode; it gets a temporary name
(``.fsgate-tmp-<16 hex>``) only for the instant between ``linkat`` and ``rename``, or for
the whole write on a file system without ``O_TMPFILE``. Before it has that name, the
helper marks the inode with the extended attribute ``user.fsgate.temp`` = the same 16 hex
digits, and removes the mark once the file has its final name. The sweep removes only
regular files whose name matches *and* whose mark equals the name's digits: a file a
client wrote under such a name (through fsgate or not) has no matching mark and stays.
On a file system that refuses user xattrs a temporary is simply not marked and never
swept: losing a stale temporary beats deleting someone's data.

A Copy (or a Move across file systems) builds a directory tree under such a name, the
directory marked the same way before anything is inside it (clone.py); the sweep removes
a marked temporary directory with everything below it, by descriptor, never following a
link (trees.remove_tree).
"""
from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import stat

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import SweepArgs, SweepDone
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.resolve import closing_fd, reopen
from fsgate_server.helper.trees import Budget, remove_tree
from fsgate_server.helper.walk import resolve

TEMP_PREFIX = ".fsgate-tmp-"
MARKER = "user.fsgate.temp"
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"([0-9a-f]{16})")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FD_RESERVE = 16  # descriptors kept free for everything but the walk's one per level


def new_temp_name() -> str:
    return TEMP_PREFIX + os.urandom(8).hex()


def mark(fd: int, name: str) -> None:
    """Mark the inode behind fd as the temporary ``name`` (fsetxattr; best effort)."""
    with contextlib.suppress(OSError):  # no user xattrs here: never swept, see above
        os.setxattr(fd, MARKER, name[len(TEMP_PREFIX):].encode())


def unmark(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.removexattr(fd, MARKER)


def is_stale_temp(dfd: int, name: str, *, directory: bool = False) -> os.stat_result | None:
    """The lstat of ``name`` in dfd if it is one of our temporaries (a regular file, or
    with ``directory`` a directory), else None. Read on an O_PATH descriptor (no device or
    FIFO is ever opened), the mark through its /proc/self/fd link."""
    match = _TEMP_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    except OSError:
        return None
    with closing_fd(fd):
        st = os.fstat(fd)
        if not (stat.S_ISDIR(st.st_mode) if directory else stat.S_ISREG(st.st_mode)):
            return None
        try:
            value = os.getxattr(f"/proc/self/fd/{fd}", MARKER)
        except OSError:
            return None
    return st if value == match.group(1).encode() else None


def op_sweep(sock: socket.socket, req: SweepArgs) -> None:
    """Remove temporaries a killed helper left between link and rename (a tiny window; named
    temporaries exist only there, or on file systems without O_TMPFILE). Bounded walk."""
    budget = req.max_entries
    # One descriptor per level: never deeper than the descriptor limit allows.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0] - _FD_RESERVE
    max_depth = min(req.max_depth, max(limit, 1))
    sweep = _Sweep(budget, max_depth)
    for root in req.policy.writable:
        try:
            found = resolve(root, req.policy.can_write, req.policy.readable, follow=True)
        except (Failure, OSError):
            continue  # a root that cannot be swept now is swept at the next start
        with closing_fd(found.fd):
            if not stat.S_ISDIR(found.st.st_mode):
                continue
            try:
                top = reopen(found.fd, os.O_RDONLY | os.O_DIRECTORY, root)
            except Failure:
                continue
        with closing_fd(top):
            sweep.visit(top, 0)
    codec.send(sock, Kind.RESULT, SweepDone(removed=sweep.removed, scanned=sweep.scanned))


class _Sweep:
    def __init__(self, budget: int, max_depth: int) -> None:
        self.budget = budget
        self.max_depth = max_depth
        self.removed = 0
        self.scanned = 0

    def visit(self, fd: int, depth: int) -> None:
        subdirs: list[str] = []
        with os.scandir(fd) as it:
            for entry in it:
                self.scanned += 1
                if self.scanned > self.budget:
                    return
                if entry.is_dir(follow_symlinks=False):
                    if entry.name.startswith(TEMP_PREFIX) and self._remove_tree_if_ours(
                            fd, entry.name):
                        continue
                    if depth < self.max_depth:
                        subdirs.append(entry.name)
                elif entry.name.startswith(TEMP_PREFIX):
                    self._remove_if_ours(fd, entry.name)
        for name in subdirs:
            if self.scanned > self.budget:
                return
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue
            with closing_fd(child):
                self.visit(child, depth + 1)

    def _remove_tree_if_ours(self, dfd: int, name: str) -> bool:
        """A copy's stale temporary tree: removed whole (True), else entered as any
        directory."""
        if is_stale_temp(dfd, name, directory=True) is None:
            return False
        budget = Budget(name, max(self.budget - self.scanned, 0))
        with contextlib.suppress(OSError, Failure):  # what is left goes at the next start
            self.removed += remove_tree(dfd, name, ours=True, budget=budget)
        self.scanned += budget.entries_taken
        return True

    def _remove_if_ours(self, dfd: int, name: str) -> None:
        st = is_stale_temp(dfd, name)
        if st is None:
            return
        with contextlib.suppress(OSError):
            now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):  # still that very file
                os.unlink(name, dir_fd=dfd)
                self.removed += 1
