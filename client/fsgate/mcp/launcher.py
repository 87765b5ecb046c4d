"""``fsgate mcp --root``: a private ``fsgate serve`` on a Unix socket in a private 0700
temporary directory, stopped (and the directory removed) when the adapter exits, also on
SIGTERM/SIGHUP; it is started with PR_SET_PDEATHSIG, so even a SIGKILLed adapter leaves no
server behind."""
from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence

from fsgate.mcp.paths import root_path

__all__ = ["LaunchError", "private_server"]

_PR_SET_PDEATHSIG = 1
READY_TIMEOUT = 30.0


class LaunchError(RuntimeError):
    """The private server did not start (its own message is on stderr)."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _ready(socket_path: str, process: subprocess.Popen[bytes], probe: str) -> None:
    """Wait until a helper of the server has answered (a Stat of ``probe``, a root), so
    that the first tool call does not wait for the fork server's warm-up; or it exited."""
    from fsgate._client import Client
    from fsgate._errors import FsgateError

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(f"fsgate serve exited with status {process.returncode}")
        if os.path.exists(socket_path):
            with contextlib.suppress(FsgateError), Client(f"unix:{socket_path}") as client:
                client.stat(probe, timeout=10)
                return
        time.sleep(0.05)
    raise LaunchError(f"fsgate serve did not answer within {READY_TIMEOUT:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _exit_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the ``finally`` below stops the server."""
    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def private_server(roots: Sequence[str], serve_args: Sequence[str] = ()) -> Iterator[str]:
    """Start ``fsgate serve --root R...`` on a private socket; yields its target
    (``unix:/tmp/fsgate-mcp-XXXX/fsgate.sock``). Its logs go to our stderr: stdout belongs
    to the MCP stdio transport."""
    directory = tempfile.mkdtemp(prefix="fsgate-mcp-")  # mode 0700: only we can connect
    socket_path = os.path.join(directory, "fsgate.sock")
    argv = [sys.executable, "-m", "fsgate_server", "serve", "--listen", f"unix:{socket_path}",
            "--log-level", "error", *serve_args]
    for root in roots:
        argv += ["--root", root]
    with _exit_on_signals():
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(),
                                   preexec_fn=_die_with_parent)
        try:
            _ready(socket_path, process, root_path(roots[0]))
            yield f"unix:{socket_path}"
        finally:
            _stop(process)
            shutil.rmtree(directory, ignore_errors=True)
