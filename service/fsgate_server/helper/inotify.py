"""A small ctypes layer over inotify(7): one non-blocking instance, watches added through a
descriptor (never a path string), and the events it reads, parsed.

Why our own and not inotify-simple: it is three libc calls and a struct, the confined
helper then imports nothing outside the standard library and fsgate, and the one thing
that matters here -- adding a watch by ``/proc/self/fd/N`` of an ``O_PATH`` descriptor the
resolver checked -- is explicit in :meth:`Inotify.watch_fd`.

The watch flags, and why:

- ``IN_ONLYDIR``: the descriptor must still be a directory when the watch lands.
- no ``IN_DONT_FOLLOW``: ``/proc/self/fd/N`` is a magic link that must be followed to reach
  the descriptor's inode (with it the kernel would watch the procfs link itself); where it
  leads is fixed by the descriptor, not by any name a co-tenant can swap.
- no ``IN_MASK_CREATE``: adding an inode that is already watched must give back its
  existing watch descriptor, which is how a directory seen twice (by a scan and by its
  IN_CREATE) is recognised; the mask we pass is always the same, so nothing is widened.
- ``IN_EXCL_UNLINK``: nothing about a child after it was unlinked (a deleted file still
  open elsewhere).
"""
from __future__ import annotations

import ctypes
import os
import select
import struct
from dataclasses import dataclass

__all__ = [
    "IN_ATTRIB",
    "IN_CREATE",
    "IN_DELETE",
    "IN_DELETE_SELF",
    "IN_IGNORED",
    "IN_ISDIR",
    "IN_MODIFY",
    "IN_MOVED_FROM",
    "IN_MOVED_TO",
    "IN_MOVE_SELF",
    "IN_Q_OVERFLOW",
    "IN_UNMOUNT",
    "WATCH_MASK",
    "Inotify",
    "RawEvent",
]

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

WATCH_MASK = (IN_MODIFY | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
              | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

_EVENT = struct.Struct("=iIII")  # struct inotify_event: wd, mask, cookie, len; then name
READ_BYTES = 64 << 10  # per read(): ~2,000 events with short names

_libc = ctypes.CDLL(None, use_errno=True)
_init1 = _libc.inotify_init1
_init1.argtypes = [ctypes.c_int]
_add = _libc.inotify_add_watch
_add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
_rm = _libc.inotify_rm_watch
_rm.argtypes = [ctypes.c_int, ctypes.c_int]


@dataclass(frozen=True, slots=True)
class RawEvent:
    wd: int  # -1 for IN_Q_OVERFLOW
    mask: int
    cookie: int  # pairs an IN_MOVED_FROM with its IN_MOVED_TO
    name: str  # the child's name (surrogate-escaped bytes), "" for the directory itself


def _failed() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


class Inotify:
    """One inotify instance (``IN_NONBLOCK | IN_CLOEXEC``); :meth:`close` it."""

    def __init__(self) -> None:
        fd = _init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _failed()
        self.fd = fd

    def watch_fd(self, fd: int, mask: int = WATCH_MASK) -> int:
        """Watch the directory an open descriptor refers to; its watch descriptor (the one
        it already had, if it was watched). OSError as inotify_add_watch(2) fails."""
        wd = _add(self.fd, f"/proc/self/fd/{fd}".encode(), mask | IN_ONLYDIR)
        if wd < 0:
            raise _failed()
        return int(wd)

    def remove(self, wd: int) -> None:
        """Stop a watch (its IN_IGNORED follows); one already gone is no error."""
        _rm(self.fd, wd)  # EINVAL: the kernel removed it already (the directory is gone)

    def read(self, timeout: float = 0.0) -> list[RawEvent]:
        """The events queued now, after waiting up to ``timeout`` seconds for one."""
        if timeout > 0:
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            if not poller.poll(timeout * 1000):
                return []
        try:
            data = os.read(self.fd, READ_BYTES)
        except BlockingIOError:
            return []
        return parse(data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def parse(data: bytes) -> list[RawEvent]:
    """The events of one read(2) of an inotify descriptor."""
    out = []
    offset = 0
    while offset + _EVENT.size <= len(data):
        wd, mask, cookie, length = _EVENT.unpack_from(data, offset)
        offset += _EVENT.size
        raw = data[offset:offset + length].split(b"\0", 1)[0]
        offset += length
        out.append(RawEvent(wd, mask, cookie, os.fsdecode(raw)))
    return out
