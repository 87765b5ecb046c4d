"""The file operations a helper carries out after it has been confined, and the one entry
point that runs a request and answers with RESULT or ERROR.

Every operation acts on file descriptors, never on a path string (walk.py): the request
path is resolved component by component with ``O_PATH`` descriptors (so nothing blocks and
no device is really opened), every step judged against the effective policy before the
lookup, and only then is that same inode reopened for reading or writing. Denied paths are
judged by what they resolve to, as well as by name (walk.enforced). The kernel sandbox
(Landlock or bwrap) is the second, independent wall: content is only ever read through an
open the kernel judged. The operations live in reading.py (Stat, ReadFile), listing.py
(ListDir), writing.py (WriteFile), editing.py (EditFile), temps.py (the start-up sweep),
makedir.py (MakeDir), remove.py (Remove, with tree.py's walk), move.py (Move), copy.py
(Copy), search.py (Search) and glob.py (Glob), the last two on the walk of tree_walk.py, and
watching.py (WatchDir).
"""
from __future__ import annotations

import dataclasses
import socket

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.copy import op_copy
from fsgate_server.helper.editing import op_edit
from fsgate_server.helper.glob import op_glob
from fsgate_server.helper.listing import op_list
from fsgate_server.helper.makedir import op_make_dir
from fsgate_server.helper.messages import (
    CopyArgs,
    EditArgs,
    ErrorReport,
    Fact,
    GlobArgs,
    ListArgs,
    MakeDirArgs,
    MoveArgs,
    ReadArgs,
    RemoveArgs,
    Request,
    SearchArgs,
    StatArgs,
    SweepArgs,
    WatchArgs,
    WriteArgs,
)
from fsgate_server.helper.move import op_move
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.reading import op_read, op_stat
from fsgate_server.helper.remove import op_remove
from fsgate_server.helper.request import file_type, info_of, version_of
from fsgate_server.helper.resolve import classify, fd_path, reopen
from fsgate_server.helper.search import op_search
from fsgate_server.helper.temps import MARKER, TEMP_PREFIX, op_sweep
from fsgate_server.helper.walk import enforced
from fsgate_server.helper.watching import op_watch
from fsgate_server.helper.writing import Abandoned, op_write

__all__ = ["MARKER", "TEMP_PREFIX", "Failure", "Request", "classify", "fd_path",
           "file_type", "info_of", "reopen", "run", "version_of"]


def _carry_out(sock: socket.socket, req: Request) -> None:
    """The operation for the request's type (messages.py); it answers on the channel."""
    match req:
        case StatArgs():
            op_stat(sock, req)
        case ReadArgs():
            op_read(sock, req)
        case ListArgs():
            op_list(sock, req)
        case WriteArgs():
            op_write(sock, req)
        case EditArgs():
            op_edit(sock, req)
        case SweepArgs():
            op_sweep(sock, req)
        case MakeDirArgs():
            op_make_dir(sock, req)
        case RemoveArgs():
            op_remove(sock, req)
        case MoveArgs():  # and MoveAcrossArgs, its subclass
            op_move(sock, req)
        case CopyArgs():
            op_copy(sock, req)
        case SearchArgs():
            op_search(sock, req)
        case GlobArgs():
            op_glob(sock, req)
        case WatchArgs():
            op_watch(sock, req)
        case _:
            raise TypeError(f"no operation for {type(req).__name__}")


def run(sock: socket.socket, req: Request) -> None:
    """Carry out one request, answering with RESULT or ERROR on the channel."""
    try:
        policy = enforced(req.policy)
        _carry_out(sock, req if policy is req.policy else dataclasses.replace(req, policy=policy))
    except Failure as exc:
        facts = tuple(Fact(key, value) for key, value in exc.metadata.items())
        codec.send(sock, Kind.ERROR, ErrorReport(reason=exc.reason.value, message=exc.message,
                                                 facts=facts))
    except Abandoned:
        pass
