"""Descriptor facts and the error mapping shared by every operation.

Resolution itself is walk.py: component by component on descriptors, never a path string.
Errors never describe anything outside the effective policy: an ``ENOENT`` met outside it
is reported as SANDBOX_DENIED, exactly like an ``EACCES``.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from fsgate.reasons import Reason

from fsgate_server.errors import Failure

_OPEN_BASE = os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def fd_path(fd: int) -> str:
    """Where an open fd really is, from the kernel, not from the string we opened. Not a
    path at all (``socket:[…]``, ``anon_inode:…``) for descriptors that are not files;
    callers check that it starts with ``/``."""
    return os.readlink(f"/proc/self/fd/{fd}")


def kernel_path(fd: int) -> str | None:
    """fd_path, or None when the kernel cannot name it (beyond PATH_MAX) or it is not a
    file (a socket, an anonymous inode): a location nobody can check is inside."""
    try:
        real = fd_path(fd)
    except OSError:
        return None
    return real if real.startswith("/") else None


_TABLE = {
    errno.EACCES: (Reason.SANDBOX_DENIED, "access denied by the sandbox"),
    errno.EPERM: (Reason.SANDBOX_DENIED, "operation not permitted by the sandbox"),
    errno.EROFS: (Reason.SANDBOX_DENIED, "read-only file system"),
    errno.EISDIR: (Reason.IS_A_DIRECTORY, "is a directory"),
    errno.EEXIST: (Reason.ALREADY_EXISTS, "already exists"),
    errno.ENOSPC: (Reason.NO_SPACE, "no space left on device"),
    errno.EDQUOT: (Reason.NO_SPACE, "disk quota exceeded"),
    errno.EFBIG: (Reason.TOO_LARGE, "file too large"),
    errno.ENAMETOOLONG: (Reason.INVALID_PATH, "name too long"),
    errno.ENXIO: (Reason.NOT_REGULAR_FILE, "not a regular file"),
    errno.ENOENT: (Reason.NOT_FOUND, "no such file or directory"),
    errno.ENOTDIR: (Reason.NOT_A_DIRECTORY, "a path component is not a directory"),
    errno.ELOOP: (Reason.SYMLINK_LOOP, "too many levels of symbolic links"),
}


def classify(exc: OSError, path: str, inside: bool) -> Failure:
    """Map an errno to a reason without revealing anything outside the policy: ``inside``
    says whether the failing location is inside it (walk.py knows where it failed)."""
    code = exc.errno or 0
    if code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP) and not inside:
        # bwrap hides what lies outside its mounts as ENOENT: say nothing about it.
        return Failure(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")
    reason, text = _TABLE.get(code, (Reason.HELPER_FAILED, os.strerror(code)))
    return Failure(reason, f"{path}: {text}")


def reopen(fd: int, flags: int, path: str) -> int:
    """Open the very inode behind an O_PATH fd; the kernel sandbox judges this open."""
    try:
        return os.open(f"/proc/self/fd/{fd}", flags | _OPEN_BASE)
    except OSError as exc:
        raise classify(exc, path, True) from exc


@contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)
