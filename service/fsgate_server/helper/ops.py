"""The file operations a helper carries out after it has been confined, and the one entry
point that runs a request and answers with RESULT or ERROR.

Every operation acts on file descriptors, never on a path checked earlier (resolve.py):
it opens the request path once (``O_PATH``, so nothing blocks and no device is really
opened), reads the real location of what it got from ``/proc/self/fd``, checks that
location against the effective policy, and only then reopens that same inode for reading
or writing. The kernel sandbox (Landlock or bwrap) is the second, independent wall:
content is only ever read through an open the kernel judged. The operations live in
reading.py (Stat, ReadFile, ListDir) and writing.py (WriteFile, the start-up sweep).
"""
from __future__ import annotations

import socket
from collections.abc import Callable

from . import protocol
from .protocol import Kind
from .reading import op_list, op_read, op_stat
from .request import OpError, Request, file_type, info_of, version_of
from .resolve import classify, fd_path, open_checked, reopen
from .writing import TEMP_PREFIX, Abandoned, op_sweep, op_write

__all__ = ["OPS", "TEMP_PREFIX", "OpError", "Request", "classify", "fd_path", "file_type",
           "info_of", "open_checked", "reopen", "run", "version_of"]


OPS: dict[str, Callable[[socket.socket, Request], None]] = {
    "sweep": op_sweep,
    "stat": op_stat,
    "read": op_read,
    "list": op_list,
    "write": op_write,
}


def run(sock: socket.socket, req: Request) -> None:
    """Carry out one request, answering with RESULT or ERROR on the channel."""
    try:
        OPS[req.op](sock, req)
    except OpError as exc:
        protocol.send_json(sock, Kind.ERROR, {"reason": exc.reason.value, "message": exc.message})
    except Abandoned:
        pass
