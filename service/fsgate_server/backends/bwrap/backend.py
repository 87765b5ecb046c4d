"""The bwrap backend's executor: every request gets a fresh helper inside a bubblewrap
namespace, forked by a cache of fork servers, one per namespace key.

What a namespace holds, and the bwrap command that builds it, is the mount plan (plan.py);
starting bwrap is launch.py. Inside, the helper confines itself once more (confinement.py:
Landlock where the kernel has it, seccomp, rlimits): bwrap is the outer wall, Landlock the
inner one.

Starting Python under bwrap costs tens of milliseconds, so requests do not exec helpers.
A namespace is determined by its *key* (the request's readable and writable sets and its
denied paths), and for each key one long-lived bwrap runs the fork server (forkserver.py)
inside exactly the namespace ``command`` would build for that key
(``forkserver_command``). As in the landlock backend (pool.ForkServerExecutor, reused
here), it forks helpers ahead of demand; each serves one request, never reused, and
confines itself to that request (Landlock, seccomp) before touching a user path. A
request is served only by its own key's fork server, so its helper sees precisely the
namespace an exec'd helper would. The two ceiling keys (no request policy: read-class and
write-class) start with the executor when ``warm`` > 0; others start on first use, and at
most WARM_KEYS are kept (least recently used evicted). The namespace reflects the tree
when its fork server started: every request looks each bind source up again, and with it
the mounts at or below it (mounts.py), and a key whose sources changed (a root replaced, a
missing path created, a file system mounted or unmounted inside) gets a new fork server;
so does a key whose fork server died, and a request that finds it dead is served anew.
A fork server that is evicted or replaced is stopped only once no request is using one of
its helpers (they die with it). One that cannot start fails its key's requests with
HELPER_FAILED, bwrap's and its stderr in the server log; the next request starts anew.
Every bwrap is started from one long-lived thread, since ``--die-with-parent`` follows
the thread that forked it.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import IO

import structlog
from fsgate.reasons import Reason

from fsgate_server.backends import BackendUnavailable
from fsgate_server.backends.bwrap.launch import Command, check_bwrap_location, find_bwrap, popen
from fsgate_server.backends.bwrap.mounts import MountTable
from fsgate_server.backends.bwrap.plan import (
    NAMESPACE_FLAGS,
    PYTHON_FLAGS,
    MountPlan,
    namespace_key,
)
from fsgate_server.backends.channel import Helper, HelperCall, HelperGone, begin
from fsgate_server.backends.launcher import Launcher
from fsgate_server.backends.pool import ForkServerExecutor
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import Request, StatArgs, WriteArgs
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.policy import Root, effective_policy
from fsgate_server.runtime_roots import RuntimeFacts, runtime_files
from fsgate_server.sandbox.env import helper_env

__all__ = [
    "NAMESPACE_FLAGS",
    "PYTHON_FLAGS",
    "BwrapExecutor",
    "Command",
    "check_bwrap_location",
    "find_bwrap",
]

log = structlog.get_logger("fsgate.bwrap")

WARM_KEYS = 4
"""Namespace keys with a running fork server: the server's ceiling for reads and writes,
plus the most recently used request policies."""


class BwrapExecutor:
    """One fresh helper per request, forked by its namespace key's fork server under bwrap."""

    name = "bwrap"

    def __init__(self, settings: HelperSettings, *, roots: Sequence[Root],
                 bwrap: str | None = None, environ: Mapping[str, str] | None = None,
                 startup_files: Sequence[str] | None = None,
                 import_path: Sequence[str] | None = None, warm: int = 0,
                 acquire_timeout: float = 10.0,
                 leave_out_runtime_roots: Collection[str] = ()) -> None:
        """``leave_out_runtime_roots`` is a fault-injection seam for tests only, which prove
        every runtime root is needed (tests/integration/test_runtime_roots_needed.py): the
        roots named there are left out of every namespace, so helpers cannot start. The
        server never passes it."""
        environ = os.environ if environ is None else environ
        found = bwrap or find_bwrap(environ)
        if found is None:
            raise BackendUnavailable("bubblewrap is not installed (no bwrap on PATH); "
                                     "apt-get install bubblewrap, or use --sandbox landlock")
        check_bwrap_location(found, roots)
        self.bwrap = found
        self.settings = settings
        env = helper_env(environ)
        if import_path is None:
            import_path = RuntimeFacts.gather().package_dirs
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(import_path))
        left_out = {os.path.normpath(p) for p in leave_out_runtime_roots}
        kept = [r for r in settings.runtime_roots if r not in left_out]
        for root in sorted(left_out):
            log.warning("runtime_root_dropped_for_test", root=root,
                        matched=root in settings.runtime_roots)
        files = runtime_files() if startup_files is None else tuple(startup_files)
        self.plan = MountPlan(found, settings, roots=roots, runtime_roots=kept, files=files,
                              env=env)
        self._mounts = MountTable()
        self._cond = threading.Condition()
        self._spawning = 0  # fork servers being launched: they still get the pinned fds
        self._stopped = False
        self._size = max(1, warm)
        self.acquire_timeout = acquire_timeout
        self._servers: dict[tuple[object, ...], _Server] = {}
        self._retired: list[_Server] = []  # replaced or evicted, stopped once idle
        self._start_lock = threading.Lock()  # one fork server started at a time
        self._templates: OrderedDict[tuple[object, ...], Request] = OrderedDict()
        # Every bwrap is started from this one thread, which lives as long as the executor:
        # --die-with-parent (PR_SET_PDEATHSIG) fires when the thread that forked bwrap exits.
        self._launcher = Launcher("fsgate-bwrap-launcher")
        ceiling = effective_policy(tuple(roots), None)
        # The ceiling: what every request without a policy gets, writing or not.
        self._ceiling: tuple[Request, ...] = (WriteArgs("/", ceiling, max_bytes=0),
                                              StatArgs("/", ceiling))
        for req in self._ceiling:
            self._remember(req)
            if warm > 0:
                try:
                    self._server_for(self._key(req), req)
                except Failure as exc:  # reported again, with stderr, on first use
                    log.warning("forkserver_start_failed", error=exc.message)

    # --- the command line (the mount plan's) ----------------------------------------

    def command(self, req: Request, channel_fd: int) -> Command:
        """The bwrap command that execs one helper for ``req``, its channel on
        ``channel_fd``. Not used to serve requests (see forkserver_command); it is what
        the fork server's namespace must be equivalent to, and what `fsgate doctor` and the
        unit tests inspect."""
        return self.plan.helper_command(req, channel_fd)

    def forkserver_command(self, req: Request, control_fd: int) -> Command:
        """The bwrap command that runs the fork server for ``req``'s namespace key."""
        return self.plan.forkserver_command(req, control_fd)

    # --- the Executor protocol --------------------------------------------------------

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        key = self._key(req)
        self._remember(req)
        for _ in range(3):  # a helper that died idle is replaced, not reported
            server = self._server_for(key, req)
            helper = self._acquire(server, key, req, deadline)
            if helper is None:
                continue  # evicted meanwhile, or its fork server died: take the key's new one
            try:
                return begin(helper, req, deadline)
            except HelperGone as exc:
                if server.pool.alive:
                    log.warning("idle_helper_gone", error=str(exc))
                else:  # it died with its fork server, before the request reached it
                    self._discard(key, server)
        raise Failure(Reason.HELPER_FAILED, "helpers keep dying before their request",
                           req.path)

    def wait_helper_ready(self, deadline: float) -> bool:
        """Whether the fork servers of both ceiling keys (reads and writes without a
        policy) hold a ready helper by ``deadline``; started as a request would start
        them."""
        return all(self._server_for(self._key(req), req).pool.wait_helper_ready(deadline)
                   for req in self._ceiling)

    def _acquire(self, server: _Server, key: tuple[object, ...], req: Request,
                 deadline: float | None) -> Helper | None:
        with self._cond:
            if server.retired:
                return None
            server.inflight += 1  # counted before taking a helper: retiring waits for it
        try:
            helper = server.pool.acquire(deadline)
        except Failure as exc:
            if server.pool.broken is not None:
                if server.served:  # it worked, then died: serve the request on a new one
                    log.warning("forkserver_died", why=server.pool.broken)
                else:  # it could not start: this request fails, the next one starts anew
                    log.error("helper_failed", why=server.pool.broken, stderr=server.stderr())
                self._release(server)
                self._discard(key, server)  # stops it, and closes its stderr file
                if server.served:
                    return None
                raise Failure(Reason.HELPER_FAILED, "the helper failed; see the server "
                                   "log", req.path) from exc
            self._release(server)
            if deadline is not None and time.monotonic() >= deadline:
                raise Failure(Reason.DEADLINE_EXCEEDED, "deadline exceeded before the "
                                   "helper started", req.path) from exc
            raise
        except BaseException:
            self._release(server)
            raise
        server.served = True
        return _Leased(helper, lambda: self._release(server))

    # --- fork servers, one per namespace key ----------------------------------------

    def _key(self, req: Request) -> tuple[object, ...]:
        return namespace_key(req, self.settings)

    def _remember(self, req: Request) -> None:
        with self._cond:
            evicted = self._touch(self._key(req), req)
        for server in evicted:
            self._retire(server)

    def _touch(self, key: tuple[object, ...], req: Request) -> list[_Server]:
        """Mark key most recently used; the fork servers evicted. Holding _cond."""
        self._templates[key] = req
        self._templates.move_to_end(key)
        evicted = []
        while len(self._templates) > WARM_KEYS:
            old, _ = self._templates.popitem(last=False)
            server = self._servers.pop(old, None)
            if server is not None:
                evicted.append(server)
        return evicted

    def _signature(self, req: Request) -> tuple[object, ...]:
        """What every bind source of req's namespace is right now."""
        return self.plan.signature(req, self._mounts)

    def _server_for(self, key: tuple[object, ...], req: Request) -> _Server:
        """The fork server for key, started (or restarted) if its namespace would not be
        what a fresh one gets now."""
        try:
            signature = self._signature(req)
        except OSError as exc:
            log.error("helper_spawn_failed", bwrap=self.bwrap, error=str(exc))
            raise Failure(Reason.HELPER_FAILED, "the helper failed; see the server log",
                               req.path) from exc
        with self._start_lock:
            with self._cond:
                if self._stopped:
                    raise Failure(Reason.SHUTTING_DOWN, "the server is shutting down",
                                       req.path)
                server = self._servers.get(key)
                alive = server is not None and server.pool.alive
                if server is not None and alive and server.signature == signature:
                    return server
                if server is not None:  # a bind source changed, or it died
                    del self._servers[key]
                self._spawning += 1
            if server is not None:
                log.info("forkserver_replaced", reason="bind sources changed" if alive
                         else f"it died: {server.pool.broken or 'exited'}")
                self._retire(server)
            try:
                fresh = self._start_server(req, signature)
            except BaseException:
                with self._cond:
                    self._spawning -= 1
                    self._cond.notify_all()
                raise
            with self._cond:
                self._spawning -= 1
                self._cond.notify_all()
                stopped = self._stopped
                evicted = [] if stopped else self._touch(key, req)  # evicted meanwhile?
                if not stopped:
                    self._servers[key] = fresh
            for old in evicted:
                self._retire(old)
            if stopped:
                fresh.stop()
                raise Failure(Reason.SHUTTING_DOWN, "the server is shutting down",
                                   req.path)
            return fresh

    def _start_server(self, req: Request, signature: tuple[object, ...]) -> _Server:
        # Open as long as the fork server runs; _Server.stop closes it.
        errors = tempfile.TemporaryFile(prefix="fsgate-bwrap-stderr-")  # noqa: SIM115

        def launch(theirs: socket.socket) -> subprocess.Popen[bytes]:
            cmd = self.forkserver_command(req, theirs.fileno())
            try:
                return self._launcher.call(lambda: popen(cmd, self.plan.env, stderr=errors))
            finally:
                cmd.close()

        try:
            pool = ForkServerExecutor(self.settings, size=self._size,
                                      acquire_timeout=self.acquire_timeout, launch=launch,
                                      stop_timeout=1.0, host_pids=True)
        except OSError as exc:
            errors.close()
            log.error("helper_spawn_failed", bwrap=self.bwrap, error=str(exc))
            raise Failure(Reason.HELPER_FAILED, "the helper failed; see the server log",
                               req.path) from exc
        except BaseException:
            errors.close()
            raise
        log.info("forkserver_started", bwrap_pid=pool.forkserver_pid)
        return _Server(pool, signature, errors)

    def _release(self, server: _Server) -> None:
        with self._cond:
            server.inflight -= 1
            done = server.retired and server.inflight == 0 and server in self._retired
            if done:
                self._retired.remove(server)
        if done:
            self._launcher.submit(server.stop)

    def _retire(self, server: _Server) -> None:
        """Stop server once no request is using one of its helpers: they die with it."""
        with self._cond:
            server.retired = True
            if server.inflight:
                self._retired.append(server)
                return
        self._launcher.submit(server.stop)

    def _discard(self, key: tuple[object, ...], server: _Server) -> None:
        with self._cond:
            if self._servers.get(key) is server:
                del self._servers[key]
            else:
                return
        self._retire(server)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            while self._spawning:  # a launch in flight still passes the pinned fds
                self._cond.wait()
            servers = [*self._servers.values(), *self._retired]
            self._servers.clear()
            self._retired.clear()
        for server in servers:
            server.stop()
        self._launcher.stop()  # after the stops it may still run
        self.plan.close()
        self._mounts.close()


class _Server:
    """One key's fork server under bwrap, what its namespace was built from, and how many
    requests are using its helpers."""

    def __init__(self, pool: ForkServerExecutor, signature: tuple[object, ...],
                 errors: IO[bytes]) -> None:
        self.pool = pool
        self.signature = signature
        self.errors = errors  # stderr of bwrap, the fork server and its helpers
        self.inflight = 0
        self.retired = False
        self.served = False  # a helper of it was handed out: it did start

    def stderr(self) -> str:
        """What was written to stderr, its last 64 KiB; waits briefly for bwrap to exit."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.pool.process.wait(timeout=1.0)
        try:
            size = os.fstat(self.errors.fileno()).st_size
            return os.pread(self.errors.fileno(), 64 << 10,
                            max(0, size - (64 << 10))).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stop(self) -> None:
        try:
            self.pool.stop()
        finally:
            self.errors.close()


class _Leased(Helper):
    """A helper from a fork server; closing it tells the executor it is done with it."""

    def __init__(self, helper: Helper, release: Callable[[], None]) -> None:
        super().__init__(helper.pid, helper.sock, helper.pidfd)
        self._release: Callable[[], None] | None = release

    def close(self) -> None:
        try:
            super().close()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()
