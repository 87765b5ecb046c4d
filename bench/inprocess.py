"""The unsandboxed baseline: an Executor that runs the helper code in a thread of the
server itself, over the same socketpair and frames, with no fork and no confinement.

It exists only for the benchmark, to price the sandbox: the server code, the frames and
helper/ops.py are the same as in production; only the process boundary and the kernel
confinement are missing. Never use it to serve anything.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading

from fsgate_server.backends.channel import Helper, HelperCall, begin
from fsgate_server.helper.main import serve_one
from fsgate_server.helper.messages import Request


def _no_confinement(_req: Request) -> None:
    return None


class _ThreadHelper(Helper):
    """A helper that is a thread: nothing to kill; closing the channel ends its request."""

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class InProcessExecutor:
    name = "baseline"

    def __init__(self) -> None:
        self.settings = None  # no runtime roots: nothing is confined

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        server_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def run() -> None:
            with helper_end:
                serve_one(helper_end, _no_confinement)

        threading.Thread(target=run, name="bench-inprocess-helper", daemon=True).start()
        return begin(_ThreadHelper(os.getpid(), server_end, None), req, deadline)

    def stop(self) -> None:
        return None
