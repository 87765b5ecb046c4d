"""The bwrap backend: every request gets a fresh helper inside a bubblewrap namespace.

The helper's mount namespace starts from nothing (``--tmpfs /``) and holds exactly: the
computed runtime roots and start-up files (read-only), the request's readable set
(read-only), its writable set (read-write, and only for a write request), masks over the
denied paths, and fresh ``/proc`` and ``/dev``. It has no network and its own user, pid,
ipc, uts and cgroup namespaces, no capabilities, a cleared environment, and dies with
the server. Inside, the helper confines itself once more (confinement.py: Landlock where
the kernel has it, seccomp, rlimits): bwrap is the outer wall, Landlock the inner one.

Every bind source is a descriptor the server opened, never a path bwrap resolves later:
runtime roots are pinned once at start-up, and a request's paths are opened component by
component below their served root without following symlinks, so a caller who swaps a
directory for a symlink cannot get another directory mounted under a policy name. A
request path that runs through a symlink is reproduced as that symlink (``--symlink``):
the helper then sees where it leads, and its policy check judges it as under Landlock.

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
import errno
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TypeVar

import structlog
from fsgate.reasons import Reason

from fsgate_server.backends import BackendUnavailable
from fsgate_server.backends.bwrap.launch import Command, check_bwrap_location, find_bwrap, popen
from fsgate_server.backends.bwrap.mounts import MountTable
from fsgate_server.backends.channel import Helper, HelperCall, HelperGone, begin
from fsgate_server.backends.launcher import Launcher
from fsgate_server.backends.pool import ForkServerExecutor
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import Request, StatArgs, WriteArgs
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import Root, effective_policy, is_within
from fsgate_server.runtime_roots import RuntimeFacts, runtime_files
from fsgate_server.sandbox.env import helper_env

__all__ = [
    "DROP_RUNTIME_ROOT_ENV",
    "NAMESPACE_FLAGS",
    "PYTHON_FLAGS",
    "BwrapExecutor",
    "Command",
    "check_bwrap_location",
    "find_bwrap",
]

log = structlog.get_logger("fsgate.bwrap")
T = TypeVar("T")

NAMESPACE_FLAGS = (
    "--unshare-all",  # new ipc, pid, net (no network), uts and cgroup namespaces
    "--unshare-user",  # required, not merely tried: root outside is nobody special inside
    "--die-with-parent",
    "--new-session",  # no controlling terminal to push input into (TIOCSTI)
    "--cap-drop", "ALL",
)
HELPER_MODULE = "fsgate_server.helper.main"
FORKSERVER_MODULE = "fsgate_server.helper.forkserver"
# -S: no site module, whose .pth files run code in every helper and cost 5-20 ms each time;
# the import path is passed explicitly instead. -s: no user site. -P: nothing imported from
# the working directory. -B: the runtime roots are read-only, so never try to write .pyc.
PYTHON_FLAGS = ("-S", "-s", "-P", "-B")
DROP_RUNTIME_ROOT_ENV = "FSGATE_TEST_DROP_RUNTIME_ROOT"
"""Test-only fault injection: a runtime root named here is left out of every helper's
namespace, to prove the roots are needed (tests/integration/test_runtime_roots_needed.py).
Never set it in production: the helper then cannot start and every request fails."""

WARM_KEYS = 4
"""Namespace keys with a running fork server: the server's ceiling for reads and writes,
plus the most recently used request policies."""

_O_PIN = os.O_PATH | os.O_CLOEXEC
# Nothing there that the server may reach: the helper finds nothing there either.
_SKIP_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP})


@dataclass(frozen=True)
class _Op:
    dest: str
    rank: int  # among ops on one dest: runtime binds, then request binds, then masks
    args: tuple[str, ...]


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _sort_key(op: _Op) -> tuple[list[str], int]:
    # Component order puts a parent before everything below it: bind parents first.
    return _components(op.dest), op.rank


class BwrapExecutor:
    """One fresh helper per request, forked by its namespace key's fork server under bwrap."""

    name = "bwrap"

    def __init__(self, settings: HelperSettings, *, roots: Sequence[Root],
                 bwrap: str | None = None, environ: Mapping[str, str] | None = None,
                 startup_files: Sequence[str] | None = None,
                 import_path: Sequence[str] | None = None, warm: int = 0,
                 acquire_timeout: float = 10.0) -> None:
        environ = os.environ if environ is None else environ
        found = bwrap or find_bwrap(environ)
        if found is None:
            raise BackendUnavailable("bubblewrap is not installed (no bwrap on PATH); "
                                     "apt-get install bubblewrap, or use --sandbox landlock")
        check_bwrap_location(found, roots)
        self.bwrap = found
        self.settings = settings
        self.roots = tuple(sorted(roots, key=lambda r: len(r.path), reverse=True))
        self._env = helper_env(environ)
        if import_path is None:
            import_path = RuntimeFacts.gather().package_dirs
        self._env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(import_path))
        dropped = environ.get(DROP_RUNTIME_ROOT_ENV, "")
        dropped = os.path.normpath(dropped) if dropped else ""
        kept = [r for r in settings.runtime_roots if r != dropped]
        if dropped:
            log.warning("runtime_root_dropped_for_test", root=dropped, env=DROP_RUNTIME_ROOT_ENV,
                        matched=len(kept) < len(settings.runtime_roots))
        files = runtime_files() if startup_files is None else tuple(startup_files)
        self._runtime_dests = tuple(kept)
        self._pinned: list[tuple[str, int]] = []
        try:
            for path in (*kept, *files):
                self._pinned.append((path, os.open(path, _O_PIN)))
        except OSError:
            self._close_pinned()
            raise
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
        for req in (WriteArgs("/", ceiling, max_bytes=0), StatArgs("/", ceiling)):
            self._remember(req)
            if warm > 0:
                try:
                    self._server_for(self._key(req), req)
                except Failure as exc:  # reported again, with stderr, on first use
                    log.warning("forkserver_start_failed", error=exc.message)

    # --- the command line -------------------------------------------------------------

    def command(self, req: Request, channel_fd: int) -> Command:
        """The bwrap command that execs one helper for ``req``, its channel on
        ``channel_fd``. Not used to serve requests (see forkserver_command); it is what
        the fork server's namespace must be equivalent to, and what `fsgate doctor` and the
        unit tests inspect."""
        settings = json.dumps(self.settings.to_json(), separators=(",", ":"))
        return self._command(req, channel_fd, HELPER_MODULE,
                             ("--fd", str(channel_fd), "--confinement", settings))

    def forkserver_command(self, req: Request, control_fd: int) -> Command:
        """The bwrap command that runs the fork server for ``req``'s namespace key: the same
        namespace as ``command``, with the fork server's control channel on ``control_fd``.
        Inside the new pid namespace its parent is bwrap's init, pid 1."""
        settings = json.dumps(self.settings.to_json(), separators=(",", ":"))
        return self._command(req, control_fd, FORKSERVER_MODULE,
                             ("--control-fd", str(control_fd), "--parent-pid", "1",
                              "--settings", settings))

    def _command(self, req: Request, fd: int, module: str, args: Sequence[str]) -> Command:
        c = confinement_for(req, self.settings, (fd,))
        ops = [_Op(dest, 0, ("--ro-bind-fd", str(fd), dest)) for dest, fd in self._pinned]
        owned: list[int] = []
        remount: list[str] = []
        try:
            binds = [(p, "--ro-bind-fd") for p in c.read] + [(p, "--bind-fd") for p in c.write]
            links: list[_Op] = []
            for path, option in binds:
                found = self._open_below_root(path)
                if isinstance(found, int):
                    owned.append(found)
                    ops.append(_Op(path, 1, (option, str(found), path)))
                elif found is not None:
                    links.append(_Op(found[0], 2, ("--symlink", found[1], found[0])))
            bound = [op.dest for op in ops]
            for link in links:  # inside a bind, the real symlink is already there
                if not any(is_within(link.dest, d) or is_within(d, link.dest) for d in bound):
                    ops.append(link)
                    bound.append(link.dest)
            for path in req.policy.denied:
                mask = self._mask(path)
                if mask is not None:
                    ops.append(mask)
                    if mask.args[0] == "--tmpfs":
                        remount.append(path)
        except BaseException:
            for fd in owned:
                os.close(fd)
            raise
        argv = [self.bwrap, *NAMESPACE_FLAGS, "--tmpfs", "/"]
        seen: set[tuple[str, ...]] = set()
        for op in sorted(ops, key=_sort_key):
            if op.args not in seen:
                seen.add(op.args)
                argv += op.args
        # After the binds, so that no bind (a served "/") can cover them.
        argv += ["--proc", "/proc", "--dev", "/dev"]
        for path in remount:  # last: runtime roots may have been bound inside a mask
            argv += ["--remount-ro", path]
        argv.append("--clearenv")
        for name, value in sorted(self._env.items()):
            argv += ["--setenv", name, value]
        argv += ["--chdir", "/", "--", sys.executable, *PYTHON_FLAGS, "-m", module, *args]
        pass_fds = (fd, *(pinned for _, pinned in self._pinned), *owned)
        return Command(argv, pass_fds, owned)

    def _root_of(self, path: str) -> str:
        for root in self.roots:  # longest first
            if is_within(path, root.path):
                return root.path
        return "/"  # not below any root (never, for an effective policy): trust nothing

    def _open_below_root(self, path: str) -> int | tuple[str, str] | None:
        """An O_PATH fd for ``path``, opened from its served root without following any
        symlink below it; or (prefix, target) for the first symlink on the way; or None
        when there is nothing there."""
        root = self._root_of(path)
        try:
            fd = os.open(os.path.realpath(root), _O_PIN)  # the operator's root: trusted
        except OSError as exc:
            if exc.errno in _SKIP_ERRNOS:
                return None
            raise
        prefix = root
        try:
            for part in _components(path)[len(_components(root)):]:
                prefix = os.path.join(prefix, part)
                try:
                    nxt = os.open(part, _O_PIN | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in _SKIP_ERRNOS:
                        return None
                    raise
                os.close(fd)
                fd = nxt
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    return prefix, os.readlink("", dir_fd=fd)
            result, fd = fd, -1
            return result
        finally:
            if fd >= 0:
                os.close(fd)

    def _mask(self, path: str) -> _Op | None:
        """Hide a denied path: an empty read-only tmpfs over a directory, /dev/null over
        anything else. Runtime roots stay visible; symlinks and missing paths need nothing
        (the denial is by name, and the helper's policy check refuses the name)."""
        if any(is_within(path, rt) for rt in self._runtime_dests):
            return None
        found = self._open_below_root(path)
        if not isinstance(found, int):
            return None
        try:
            is_dir = stat.S_ISDIR(os.fstat(found).st_mode)
        finally:
            os.close(found)
        if is_dir:
            return _Op(path, 2, ("--tmpfs", path))
        return _Op(path, 2, ("--ro-bind", "/dev/null", path))

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
        c = confinement_for(req, self.settings, ())
        return (c.read, c.write, req.policy.denied)

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
        c = confinement_for(req, self.settings, ())
        out: list[object] = []
        self._mounts.refresh()
        for path in (*c.read, *c.write, *req.policy.denied):
            found = self._open_below_root(path)
            if isinstance(found, int):
                try:
                    st = os.fstat(found)
                    real = os.readlink(f"/proc/self/fd/{found}")  # where it was found
                finally:
                    os.close(found)
                out.append((path, st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode),
                            self._mounts.below(real)))
            else:
                out.append((path, found))
        return tuple(out)

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
                return self._launcher.call(lambda: popen(cmd, self._env, stderr=errors))
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
        self._close_pinned()
        self._mounts.close()

    def _close_pinned(self) -> None:
        while self._pinned:
            os.close(self._pinned.pop()[1])


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
