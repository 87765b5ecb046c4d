"""A helper in a forked child, confined by the same ``confine()`` the backends use, for the
kernel-refuses tests: the child runs its request with ``ops.run`` (no REQUEST frame, so the
request's policy may lie: only the kernel stands between it and the files), and the test
holds the server's side of the channel."""
from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager

from fsgate_server.backends.channel import Helper, HelperCall
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.helper import ops
from fsgate_server.helper.messages import Request
from fsgate_server.sandbox.confine import Confinement, confine

__all__ = ["confined_call", "confined_client"]


def confined_call(confinement: Confinement, req: Request,
                  body: Callable[[socket.socket], None] | None = None) -> HelperCall:
    """Fork a child confined by ``confinement`` (its keep_fds: the channel alone) that runs
    ``body`` on its end of the channel (default: ``ops.run`` of ``req``); the server's side
    of the conversation, about ``req``. The caller closes it and reaps the child."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            ours.close()
            confine(dataclasses.replace(confinement, keep_fds=(theirs.fileno(),)))
            if body is None:
                ops.run(theirs, req)
            else:
                body(theirs)
            status = 0
        finally:
            os._exit(status)
    theirs.close()
    return HelperCall(Helper(pid, ours, os.pidfd_open(pid)), req, time.monotonic() + 30)


@contextmanager
def confined_client(confinement: Confinement, req: Request) -> Iterator[HelperClient]:
    """A HelperClient over one confined child running ``req``; the child is closed and
    reaped when the block ends."""
    call = confined_call(confinement, req)
    try:
        yield HelperClient(lambda _req: closing(call))
    finally:
        call.close()
        os.waitpid(call.pid, 0)
