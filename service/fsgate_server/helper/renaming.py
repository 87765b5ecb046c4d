"""renameat2(2) on directory descriptors, and what its errors mean to the caller.

``RENAME_NOREPLACE`` makes the kernel refuse an existing destination (EEXIST) in the same
step that renames: no-clobber is decided there, never by a look beforehand.
"""
from __future__ import annotations

import ctypes
import errno
import os

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.resolve import classify
from fsgate_server.sandbox._syscall import nr, syscall

RENAME_NOREPLACE = 1 << 0


def renameat2(src_dir: int, src: str, dst_dir: int, dst: str, *, replace: bool) -> None:
    """Rename ``src`` (in ``src_dir``) to ``dst`` (in ``dst_dir``), each a single name;
    without ``replace`` an existing ``dst`` fails EEXIST. OSError on failure."""
    syscall(nr("renameat2"), src_dir, ctypes.c_char_p(os.fsencode(src)), dst_dir,
            ctypes.c_char_p(os.fsencode(dst)), 0 if replace else RENAME_NOREPLACE)


def rename_failure(exc: OSError, source: str, destination: str) -> Failure:
    """The reason for a failed rename of ``source`` onto ``destination`` (both the
    caller's paths); the destination's problems name the destination."""
    code = exc.errno
    dest = {"path": destination}
    if code == errno.EEXIST:
        return Failure(Reason.ALREADY_EXISTS, f"{destination}: already exists", metadata=dest)
    if code == errno.ENOTEMPTY:
        return Failure(Reason.NOT_EMPTY,
                       f"{destination}: is a directory that is not empty", metadata=dest)
    if code == errno.EISDIR:
        return Failure(Reason.IS_A_DIRECTORY,
                       f"{destination}: is a directory; {source} is not", metadata=dest)
    if code == errno.ENOTDIR:
        return Failure(Reason.NOT_A_DIRECTORY,
                       f"{destination}: is not a directory; {source} is", metadata=dest)
    if code == errno.EINVAL:
        return Failure(Reason.INVALID_REQUEST,
                       f"{destination}: cannot move a directory into itself")
    if code == errno.EBUSY:  # a mount point (bwrap binds each root): never renamed
        return Failure(Reason.SANDBOX_DENIED, f"{source}: access denied by the sandbox")
    return classify(exc, source, True)
