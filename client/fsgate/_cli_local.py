"""The CLI's local side: the write source, the read output, and how their errors print.

Local file errors print like the server's, with ``LOCAL`` in place of the gRPC code:
``fsgate: LOCAL/NOT_FOUND: ./src: No such file or directory``, and exit with the code of
the same category (see :func:`local_error`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

__all__ = ["EXIT_FOR_LOCAL", "StdinReader", "local_error", "open_input", "open_output"]

#: The reason shown for an errno, and the exit code it gives (the CLI's table: 2 invalid
#: argument, 3 not found, 4 denied, 5 conflict, 1 anything else).
_REASONS: dict[int, str] = {
    errno.ENOENT: "NOT_FOUND",
    errno.EACCES: "PERMISSION_DENIED",
    errno.EPERM: "PERMISSION_DENIED",
    errno.EROFS: "PERMISSION_DENIED",
    errno.EEXIST: "ALREADY_EXISTS",
    errno.EISDIR: "IS_A_DIRECTORY",
    errno.ENOTDIR: "NOT_A_DIRECTORY",
    errno.ENAMETOOLONG: "INVALID_PATH",
    errno.ENOSPC: "NO_SPACE",
    errno.EDQUOT: "NO_SPACE",
}
EXIT_FOR_LOCAL: dict[str, int] = {
    "INVALID_ARGUMENT": 2,
    "INVALID_PATH": 2,
    "NOT_FOUND": 3,
    "PERMISSION_DENIED": 4,
    "ALREADY_EXISTS": 5,
}


def local_error(exc: OSError) -> tuple[str, int]:
    """The ``fsgate: LOCAL/REASON: message`` line for a local file error, and its exit code.

    A reason comes from the errno (an unlisted one shows its name, e.g. ``EIO``); the
    message names the local file when the error has one.
    """
    if exc.errno in _REASONS:
        reason = _REASONS[exc.errno]
    elif exc.errno is not None:
        reason = errno.errorcode.get(exc.errno, f"ERRNO_{exc.errno}")
    else:
        reason = "IO_ERROR"
    detail = exc.strerror or str(exc) or type(exc).__name__
    message = f"{exc.filename}: {detail}" if exc.filename is not None else detail
    return f"fsgate: LOCAL/{reason}: {message}", EXIT_FOR_LOCAL.get(reason, 1)


class StdinReader:
    """stdin as a binary file object read with ``os.read`` on its descriptor.

    gRPC pulls the write source on its own daemon thread. If the call fails (say the
    server shuts down) while that thread waits in ``sys.stdin.buffer.read``, the thread
    holds the buffer's lock, and the interpreter's shutdown aborts with ``Fatal Python
    error: _enter_buffered_busy`` (exit 134). ``os.read`` holds no lock, so the process
    exits with its error line while the thread still waits.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            chunks = []
            while chunk := os.read(self._fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        return os.read(self._fd, size)  # a short read is fine; b"" only at the end


def _stdin() -> BinaryIO | StdinReader:
    buffer: BinaryIO = sys.stdin.buffer
    try:
        fd = buffer.fileno()
    except (OSError, AttributeError, ValueError):  # no descriptor (e.g. replaced in a test)
        return buffer
    return StdinReader(fd)


@contextlib.contextmanager
def open_input(path: str) -> Iterator[BinaryIO | StdinReader]:
    """The write source: the local file ``path``, or stdin for ``-``."""
    if path == "-":
        yield _stdin()
        return
    with open(path, "rb") as f:
        yield f


@contextlib.contextmanager
def open_output(path: str | None) -> Iterator[BinaryIO]:
    """The read destination: the local file ``path``, or stdout for None or ``-``."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as f:
        yield f
