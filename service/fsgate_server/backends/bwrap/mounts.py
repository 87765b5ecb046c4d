"""The server's mount table, watched cheaply, for the bwrap backend's namespace keys.

A bwrap namespace is a snapshot: a file system mounted at or below a bind source after the
namespace was built is not in it (bwrap makes its mounts private to the namespace), so its
helpers would serve the directory hidden under the mount point, and a write there would be
lost to the host. The bwrap executor folds, for every bind source, the mounts at or below
it (``MountTable.below``) into what a namespace was built from, and builds a new namespace
when that changes.

Reading and parsing ``/proc/self/mountinfo`` for every request would cost too much; the
kernel flags a change of the mount namespace's table with ``POLLPRI | POLLERR`` on an open
mountinfo file (the flag is reset by the poll that reports it), so ``MountTable`` polls its
fd with timeout 0 per request and reads the table again only after a change.
"""
from __future__ import annotations

import os
import re
import select
import threading
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Mount", "MountTable", "below", "parse_mountinfo", "unescape"]

MOUNTINFO = "/proc/self/mountinfo"
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of mountinfo: what identifies a mount for a namespace signature."""

    mount_id: int
    parent_id: int
    device: str  # major:minor
    root: str  # the directory of the file system mounted there
    mount_point: str
    fstype: str
    source: str


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as three octal digits."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> tuple[Mount, ...]:
    """The mounts of a mountinfo text (proc(5)); malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append(Mount(int(fields[0]), int(fields[1]), fields[2],
                                unescape(fields[3]), unescape(fields[4]),
                                unescape(fields[sep + 1]), unescape(fields[sep + 2])))
        except (ValueError, IndexError):
            continue
    return tuple(mounts)


def _within(path: str, parent: str) -> bool:
    return path == parent or parent == "/" or path.startswith(parent.rstrip("/") + "/")


def below(mounts: Iterable[Mount], path: str) -> tuple[tuple[int, str, str, str], ...]:
    """What a bind of ``path`` (a real, absolute path) gets from the mount table: the mount
    it lies on (the last one mounted at its longest covering mount point) and every mount
    at or below it, as (mount id, mount point, fs type, device), in table order."""
    covering: Mount | None = None
    out = []
    for m in mounts:
        if _within(path, m.mount_point) and (
                covering is None or len(m.mount_point) >= len(covering.mount_point)):
            covering = m
        elif _within(m.mount_point, path):
            out.append((m.mount_id, m.mount_point, m.fstype, m.device))
    if covering is not None:
        out.insert(0, (covering.mount_id, covering.mount_point, covering.fstype,
                       covering.device))
    return tuple(out)


class MountTable:
    """This process's mount table, read again only when the kernel says it changed.

    ``generation`` grows with every change seen; ``below`` answers from the current table.
    Thread-safe. If the mountinfo file cannot be polled, every call reads it again."""

    def __init__(self, path: str = MOUNTINFO) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._poll: select.poll | None = select.poll()
        self._poll.register(self._fd, select.POLLPRI | select.POLLERR)
        self.generation = 0
        self._mounts = self._read()
        self._cache: dict[str, tuple[tuple[int, str, str, str], ...]] = {}

    def _read(self) -> tuple[Mount, ...]:
        with open(self._path, encoding="utf-8", errors="surrogateescape") as f:
            return parse_mountinfo(f.read())

    def refresh(self) -> int:
        """Read the table again if it changed since the last call; the generation."""
        with self._lock:
            changed = self._poll is None
            if self._poll is not None:
                for _fd, events in self._poll.poll(0):
                    changed = changed or bool(events & (select.POLLPRI | select.POLLERR))
            if changed:
                # Read after the poll that reset the flag: a change from now on is flagged.
                self._mounts = self._read()
                self._cache = {}
                self.generation += 1
            return self.generation

    def below(self, path: str) -> tuple[tuple[int, str, str, str], ...]:
        """``below(mounts, path)`` for the current table (call ``refresh`` first)."""
        with self._lock:
            found = self._cache.get(path)
            if found is None:
                found = self._cache[path] = below(self._mounts, path)
                if len(self._cache) > 4096:  # many distinct request paths: start over
                    self._cache = {path: found}
            return found

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                self._poll = None
