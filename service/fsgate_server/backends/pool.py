"""The landlock backend's executor: helpers forked ahead of demand by the fork server.

``size`` helpers wait, forked ahead of demand. A request takes one (each is used once,
then killed) and asks the fork server for its replacement, which is forked while the
request runs. New helpers wait in the control channel until a request takes them: the
request receives whatever has arrived (without blocking) and takes the oldest, so no
thread of the server wakes up when a helper is handed over.

The bwrap backend runs one of these per namespace, with a ``launch`` that starts the fork
server under bubblewrap (bwrap.py).
"""
from __future__ import annotations

import array
import collections
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import structlog
from fsgate.reasons import Reason

from fsgate_server.backends.channel import Helper, HelperCall, HelperGone, begin
from fsgate_server.backends.launcher import Launcher
from fsgate_server.errors import Failure
from fsgate_server.helper.forkserver import PID
from fsgate_server.helper.messages import Request
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.sandbox.env import helper_env

log = structlog.get_logger("fsgate.pool")

Launch = Callable[[socket.socket], subprocess.Popen[bytes]]
"""Starts the fork server with its end of the control channel (kept open across exec)."""


#: The longest a request waits for the pool's very first helper (forked before the fork
#: server's warm-up, but on a loaded machine that can still take seconds); later waits are
#: bounded by acquire_timeout (--queue-timeout).
STARTUP_WAIT = 60.0


class ForkServerExecutor:
    name = "landlock"

    def __init__(self, settings: HelperSettings, *, size: int = 4,
                 acquire_timeout: float = 5.0, launch: Launch | None = None,
                 stop_timeout: float = 5.0, host_pids: bool = False) -> None:
        """``launch`` replaces the default start (this interpreter, exec'd directly);
        ``host_pids``: the fork server reports pids of another pid namespace, so take each
        helper's pid in ours from its pidfd instead (for logs; nothing looks it up)."""
        self.settings = settings
        self.size = max(1, size)
        self.acquire_timeout = acquire_timeout
        self.stop_timeout = stop_timeout
        self._host_pids = host_pids
        self._ready: collections.deque[Helper] = collections.deque()
        self._lock = threading.Lock()  # one receiver at a time; guards _ready
        # False until the fork server has handed over its first helper (the first pool is
        # forked before its warm-up, but on a loaded machine start-up takes seconds), so the
        # first requests wait for it up to their own deadline instead of failing BUSY after
        # acquire_timeout.
        self._warm = False
        self._stopped = False
        self._broken: str | None = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control = ours
        try:
            self._proc = (launch or self._launch)(theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._ask(self.size)

    def _launch(self, theirs: socket.socket) -> subprocess.Popen[bytes]:
        # Exec'd (not forked) and before any gRPC thread exists: see forkserver.py.
        return subprocess.Popen(
            [sys.executable, "-m", "fsgate_server.helper.forkserver",
             "--control-fd", str(theirs.fileno()), "--parent-pid", str(os.getpid()),
             "--settings", json.dumps(self.settings.to_json())],
            pass_fds=[theirs.fileno()], env=_forkserver_env(), stdin=subprocess.DEVNULL,
            close_fds=True, process_group=0)

    @property
    def broken(self) -> str | None:
        """Why the fork server failed, or None while it works."""
        if self._broken is None and not self._stopped and self._proc.poll() is not None:
            self._fail(f"fork server exited with status {self._proc.returncode}")
        return self._broken

    @property
    def alive(self) -> bool:
        """False once the fork server is known to have failed or exited (cheap to ask)."""
        return self._broken is None and self._proc.poll() is None

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The process launched: the fork server, or what runs it (bwrap)."""
        return self._proc

    @property
    def forkserver_pid(self) -> int:
        return self._proc.pid

    def _ask(self, n: int = 1) -> None:
        """Ask the fork server for n more helpers (one byte each; never blocks for long)."""
        try:
            self._control.sendall(b"F" * n)
        except OSError as exc:
            self._fail(f"fork server failed: {exc}")

    def _fail(self, why: str, *, wait: float = 0.0) -> None:
        """Mark the fork server broken. ``wait``: how long to wait for it to exit, so
        that an exit the server asked for (SIGTERM) is told from a failure."""
        if wait:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=wait)
        if self._broken is None and not self._stopped:
            self._broken = why
            status = self._proc.returncode
            if status == -signal.SIGTERM:
                # Told to stop (the process group's SIGTERM at shutdown): no failure.
                log.info("forkserver_exited", error=why, status=status)
            else:
                log.error("forkserver_failed", error=why, status=status)

    def _receive_one(self, flags: int = 0) -> Helper:
        msg, fds = _recv_fds(self._control, PID.size, 2, flags)
        if len(msg) != PID.size or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise OSError("fork server closed its control channel")
        (pid,) = PID.unpack(msg)
        if self._host_pids:
            pid = _pid_of(fds[1], pid)
        return Helper(pid, socket.socket(fileno=fds[0]), fds[1])

    def _take_arrived(self) -> None:
        """Receive every helper the fork server has handed over so far, without blocking."""
        while True:
            try:
                self._ready.append(self._receive_one(socket.MSG_DONTWAIT))
            except BlockingIOError:
                return

    def acquire(self, deadline: float | None) -> Helper:
        wait = self.acquire_timeout if self._warm else max(self.acquire_timeout, STARTUP_WAIT)
        limit = time.monotonic() + wait
        if deadline is not None:
            limit = min(limit, deadline)
        if not self._lock.acquire(timeout=max(limit - time.monotonic(), 0)):
            raise Failure(Reason.BUSY, "no helper became ready in time")
        try:
            helper = self._take(limit)
        finally:
            self._lock.release()
        self._ask()  # its replacement, forked while this request runs
        return helper

    def wait_helper_ready(self, deadline: float) -> bool:
        """Wait until a helper is ready in the pool, taking none: False at ``deadline``.
        What the server's health waits for before it reports SERVING."""
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0)):
            return False
        try:
            return self._wait_arrived(deadline)
        finally:
            self._lock.release()

    def _take(self, limit: float) -> Helper:
        """The oldest helper handed over, waiting for one until ``limit`` (the lock held)."""
        if not self._wait_arrived(limit):
            raise Failure(Reason.BUSY, "no helper became ready in time")
        self._warm = True
        return self._ready.popleft()

    def _wait_arrived(self, limit: float) -> bool:
        """Whether a helper is ready by ``limit``, receiving what arrives (the lock held)."""
        while True:
            # Helpers forked by a fork server that died are dead too: never hand one out.
            if self._broken or self._stopped:
                raise Failure(Reason.SANDBOX_UNAVAILABLE,
                              self._broken or "the server is shutting down")
            try:
                self._take_arrived()
            except OSError as exc:
                self._fail(f"fork server failed: {exc}", wait=0.2)
                continue
            if self._ready:
                return True
            remaining = limit - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(InterruptedError):
                select.select([self._control], [], [], remaining)

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        for _ in range(3):  # a helper that died idle is replaced, not reported
            try:
                return begin(self.acquire(deadline), req, deadline)
            except HelperGone as exc:
                if not self.alive:  # it died with its fork server: the caller starts anew
                    raise Failure(Reason.SANDBOX_UNAVAILABLE, "the fork server died",
                                       req.path) from exc
                log.warning("idle_helper_gone", error=str(exc))
        raise Failure(Reason.HELPER_FAILED, "helpers keep dying before their request",
                           req.path)

    def stop(self) -> None:
        self._stopped = True
        # The fork server exits on EOF, and its waiting children die with it; a request
        # waiting for a helper wakes up and finds us stopped.
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        with self._lock:
            ready = list(self._ready)
            self._ready.clear()
            self._control.close()  # helpers still in the channel are closed with it
        for helper in ready:
            helper.close()
        try:
            self._proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _recv_fds(sock: socket.socket, size: int, most: int, flags: int) -> tuple[bytes, list[int]]:
    """socket.recv_fds, with its flags honoured (3.11's drops them: no MSG_DONTWAIT)."""
    fds = array.array("i")
    msg, ancdata, _flags, _addr = sock.recvmsg(size, socket.CMSG_LEN(most * fds.itemsize),
                                               flags)
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
    return msg, list(fds)


def _pid_of(pidfd: int, default: int) -> int:
    """The pid, in our pid namespace, of the process pidfd refers to."""
    try:
        with open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return default


def _forkserver_env() -> dict[str, str]:
    env = helper_env(os.environ)
    # Helpers import fsgate from wherever this server did, also from a source checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class SupervisedForkServer:
    """The landlock backend: a ForkServerExecutor whose fork server is started again if it
    dies (the OOM killer, an operator's kill). Requests in flight on the dead one fail
    HELPER_FAILED (their helpers died with it); the next request gets a new fork server."""

    name = "landlock"

    def __init__(self, make: Callable[[], ForkServerExecutor]) -> None:
        self._make = make
        self._launcher = Launcher("fsgate-forkserver-launcher")
        self._lock = threading.Lock()
        self._stopped = False
        try:
            self._inner = self._launcher.call(make)
        except BaseException:
            self._launcher.stop()
            raise
        self.settings = self._inner.settings

    @property
    def forkserver_pid(self) -> int:
        return self._inner.forkserver_pid

    def _current(self) -> ForkServerExecutor:
        inner = self._inner
        if inner.alive:
            return inner
        with self._lock:
            if self._stopped:
                raise Failure(Reason.SHUTTING_DOWN, "the server is shutting down")
            if self._inner is inner:
                log.warning("forkserver_restarting", why=inner.broken)
                inner.stop()
                self._inner = self._launcher.call(self._make)
            return self._inner

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        for _ in range(2):
            inner = self._current()
            try:
                return inner.start(req, deadline)
            except Failure:
                if inner.alive or self._stopped:
                    raise
                # The fork server died before this request's helper started: nothing of
                # the request has happened, so it is served by the new one.
        return self._current().start(req, deadline)

    def wait_helper_ready(self, deadline: float) -> bool:
        return self._current().wait_helper_ready(deadline)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            inner = self._inner
        inner.stop()
        self._launcher.stop()
