"""The landlock backend's executor: helpers forked ahead of demand by the fork server.

A background thread keeps ``size`` helpers waiting. A request takes one (each is used
once, then killed), and the thread forks a replacement while the request runs.
"""
from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time

import structlog
from fsgate._reasons import Reason

from .confinement import HelperSettings
from .errors import ServiceError
from .executor import Helper, HelperCall, HelperGone, begin
from .forkserver import PID
from .helper.ops import Request
from .sandbox.env import helper_env

log = structlog.get_logger("fsgate.pool")


class ForkServerExecutor:
    name = "landlock"

    def __init__(self, settings: HelperSettings, *, size: int = 4,
                 acquire_timeout: float = 5.0) -> None:
        self.settings = settings
        self.size = max(1, size)
        self.acquire_timeout = acquire_timeout
        self._ready: collections.deque[Helper] = collections.deque()
        self._cond = threading.Condition()
        self._stopped = False
        self._broken: str | None = None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._control = ours
        # Exec'd (not forked) and before any gRPC thread exists: see forkserver.py.
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fsgate_server.forkserver",
             "--control-fd", str(theirs.fileno()), "--parent-pid", str(os.getpid()),
             "--settings", json.dumps(settings.to_json())],
            pass_fds=[theirs.fileno()], env=_forkserver_env(), stdin=subprocess.DEVNULL,
            close_fds=True)
        theirs.close()
        self._thread = threading.Thread(target=self._refill, name="fsgate-pool", daemon=True)
        self._thread.start()

    @property
    def forkserver_pid(self) -> int:
        return self._proc.pid

    def _refill(self) -> None:
        while True:
            with self._cond:
                while len(self._ready) >= self.size and not self._stopped:
                    self._cond.wait()
                if self._stopped:
                    return
            try:
                helper = self._fork_one()
            except OSError as exc:
                with self._cond:
                    self._broken = f"fork server failed: {exc}"
                    self._cond.notify_all()
                log.error("forkserver_failed", error=str(exc))
                return
            with self._cond:
                if self._stopped:
                    helper.close()
                    return
                self._ready.append(helper)
                self._cond.notify_all()

    def _fork_one(self) -> Helper:
        self._control.sendall(b"F")
        msg, fds, _flags, _addr = socket.recv_fds(self._control, PID.size, 2)
        if len(msg) != PID.size or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise OSError("fork server closed its control channel")
        (pid,) = PID.unpack(msg)
        return Helper(pid, socket.socket(fileno=fds[0]), fds[1])

    def acquire(self, deadline: float | None) -> Helper:
        limit = time.monotonic() + self.acquire_timeout
        if deadline is not None:
            limit = min(limit, deadline)
        with self._cond:
            while not self._ready:
                if self._broken or self._stopped:
                    raise ServiceError(Reason.SANDBOX_UNAVAILABLE,
                                       self._broken or "the server is shutting down")
                remaining = limit - time.monotonic()
                if remaining <= 0:
                    raise ServiceError(Reason.BUSY, "no helper became ready in time")
                self._cond.wait(remaining)
            helper = self._ready.popleft()
            self._cond.notify_all()
        return helper

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        for _ in range(3):  # a helper that died idle is replaced, not reported
            try:
                return begin(self.acquire(deadline), req, deadline)
            except HelperGone as exc:
                log.warning("idle_helper_gone", error=str(exc))
        raise ServiceError(Reason.HELPER_FAILED, "helpers keep dying before their request",
                           req.path)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            ready = list(self._ready)
            self._ready.clear()
            self._cond.notify_all()
        for helper in ready:
            helper.close()
        self._control.close()  # the fork server exits; its waiting children die with it
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _forkserver_env() -> dict[str, str]:
    env = helper_env(os.environ)
    # Helpers import fsgate from wherever this server did, also from a source checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env
