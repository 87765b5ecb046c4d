"""Resolution on file descriptors: open a path once (``O_PATH``), ask the kernel where the
descriptor really is, judge that against the policy, and reopen that very inode.

Errors never describe anything outside the effective policy: an ``ENOENT`` whose resolved
path lies outside the policy is reported as SANDBOX_DENIED, exactly like an ``EACCES``.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fsgate._reasons import Reason

from .request import OpError

_OPEN_BASE = os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


# --- resolution ---------------------------------------------------------------------------

def fd_path(fd: int) -> str:
    """Where an open fd really is, from the kernel, not from the string we opened."""
    return os.readlink(f"/proc/self/fd/{fd}")


def _resolved(path: str) -> str:
    """Where path leads, as far as it resolves; "" (visible nowhere) if that cannot be told,
    for instance while an attacker swaps a component under us."""
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError):
        return ""


def classify(exc: OSError, path: str, visible: Callable[[str], bool]) -> OpError:
    """Map an errno to a reason without revealing anything outside the policy."""
    code = exc.errno
    if code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
        # bwrap hides what lies outside its mounts as ENOENT; Landlock lets a lookup fail
        # with ENOENT before it can refuse. Either way, where the path leads decides.
        target = _resolved(path)
        if not target or not visible(target):
            return OpError(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")
        if code == errno.ENOENT:
            return OpError(Reason.NOT_FOUND, f"{path}: no such file or directory")
        if code == errno.ENOTDIR:
            return OpError(Reason.NOT_A_DIRECTORY, f"{path}: a path component is not a directory")
        return OpError(Reason.SYMLINK_LOOP, f"{path}: too many levels of symbolic links")
    table = {
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
    }
    reason, text = table.get(code or 0, (Reason.HELPER_FAILED, os.strerror(code or 0)))
    return OpError(reason, f"{path}: {text}")


def open_checked(path: str, visible: Callable[[str], bool], *, follow: bool) -> int:
    """An O_PATH fd for path whose real location is visible under the policy."""
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise classify(exc, path, visible) from exc
    if not visible(fd_path(fd)):
        os.close(fd)
        raise OpError(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")
    return fd


def reopen(fd: int, flags: int, path: str, visible: Callable[[str], bool]) -> int:
    """Open the very inode behind an O_PATH fd; the kernel sandbox judges this open."""
    try:
        return os.open(f"/proc/self/fd/{fd}", flags | _OPEN_BASE)
    except OSError as exc:
        raise classify(exc, path, visible) from exc


@contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


