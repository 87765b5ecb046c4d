"""The bwrap backend: every request execs a fresh helper under bubblewrap.

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

Starting Python under bwrap costs tens of milliseconds, so helpers are started ahead of
demand, each for one *exact* namespace: the key is the request's readable and writable
sets and denied paths, and a warm helper serves only a request whose key is the same —
so it gets precisely the namespace a fresh helper would. The namespace reflects the tree
when the helper started; before use, every bind source is looked up again and a helper
whose sources changed (a root replaced, a missing path created) is discarded, not used.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from fsgate._reasons import Reason

from .backends import BackendUnavailable
from .confinement import HelperSettings, confinement_for
from .errors import ServiceError
from .executor import Helper, HelperCall, HelperGone, begin
from .helper.ops import Request
from .helper.protocol import Kind
from .policy import Root, effective_policy, is_within
from .runtime_roots import RuntimeFacts, runtime_files
from .sandbox.env import helper_env

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

NAMESPACE_FLAGS = (
    "--unshare-all",  # new ipc, pid, net (no network), uts and cgroup namespaces
    "--unshare-user",  # required, not merely tried: root outside is nobody special inside
    "--die-with-parent",
    "--new-session",  # no controlling terminal to push input into (TIOCSTI)
    "--cap-drop", "ALL",
)
HELPER_MODULE = "fsgate_server.helper.main"
# -S: no site module, whose .pth files run code in every helper and cost 5-20 ms each time;
# the import path is passed explicitly instead. -s: no user site. -P: nothing imported from
# the working directory. -B: the runtime roots are read-only, so never try to write .pyc.
PYTHON_FLAGS = ("-S", "-s", "-P", "-B")
DROP_RUNTIME_ROOT_ENV = "FSGATE_TEST_DROP_RUNTIME_ROOT"
"""Test-only fault injection: a runtime root named here is left out of every helper's
namespace, to prove the roots are needed (tests/integration/test_runtime_roots_needed.py).
Never set it in production: the helper then cannot start and every request fails."""

WARM_MAX_AGE = 60.0
"""Seconds a warm helper may wait for its request before it is replaced."""
WARM_KEYS = 4
"""Distinct policies kept warm: the server's ceiling for reads and writes, plus the most
recently used request policies."""

_O_PIN = os.O_PATH | os.O_CLOEXEC
# Nothing there that the server may reach: the helper finds nothing there either.
_SKIP_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP})


def find_bwrap(environ: Mapping[str, str] | None = None) -> str | None:
    """bwrap on the preserved PATH (the server's own, or a safe default), absolute, or None."""
    path = helper_env(os.environ if environ is None else environ)["PATH"]
    found = shutil.which("bwrap", path=path)
    return os.path.abspath(found) if found else None


def check_bwrap_location(bwrap: str, roots: Iterable[Root]) -> None:
    """Refuse a bwrap that a caller could replace: one inside (or reached through) a root."""
    names = {os.path.abspath(bwrap), os.path.realpath(bwrap)}
    for root in roots:
        for served in {root.path, os.path.realpath(root.path)}:
            if any(is_within(name, served) for name in names):
                raise BackendUnavailable(
                    f"refusing bwrap at {bwrap}: it lies inside the served root {root.path}, "
                    "where a caller could replace the sandbox itself; install bubblewrap "
                    "outside every --root (apt-get install bubblewrap puts it in /usr/bin) "
                    "and put that directory first on PATH")


@dataclass
class Command:
    """One helper's bwrap invocation. ``argv`` is the whole command line as bwrap sees it;
    the fds in ``pass_fds`` keep their numbers in bwrap, and ``owned`` are closed by
    ``close`` once bwrap has been started (the pinned runtime-root fds are not owned)."""

    argv: list[str]
    pass_fds: tuple[int, ...]
    owned: list[int]

    def close(self) -> None:
        while self.owned:
            os.close(self.owned.pop())


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
    """Starts one helper per request: bwrap around ``python -m fsgate_server.helper.main``."""

    name = "bwrap"

    def __init__(self, settings: HelperSettings, *, roots: Sequence[Root],
                 bwrap: str | None = None, environ: Mapping[str, str] | None = None,
                 startup_files: Sequence[str] | None = None,
                 import_path: Sequence[str] | None = None, warm: int = 0) -> None:
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
        self._cond = threading.Condition()
        self._spawning = 0
        self._stopped = False
        self._warm_size = max(0, warm)
        self._warm: dict[tuple[object, ...], deque[_Warm]] = {}
        self._templates: OrderedDict[tuple[object, ...], Request] = OrderedDict()
        ceiling = effective_policy(tuple(roots), None)
        for op in ("write", "stat"):  # the ceiling: what every request without a policy gets
            self._remember(Request(op, "/", ceiling, {}))
        self._refiller: threading.Thread | None = None
        if self._warm_size:
            self._refiller = threading.Thread(target=self._refill, name="fsgate-bwrap-warm",
                                              daemon=True)
            self._refiller.start()

    # --- the command line -------------------------------------------------------------

    def command(self, req: Request, channel_fd: int) -> Command:
        """The bwrap command for ``req``, with the helper's channel on ``channel_fd``."""
        c = confinement_for(req, self.settings, (channel_fd,))
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
        argv += ["--chdir", "/", "--", sys.executable, *PYTHON_FLAGS, "-m", HELPER_MODULE,
                 "--fd", str(channel_fd),
                 "--confinement", json.dumps(self.settings.to_json(), separators=(",", ":"))]
        pass_fds = (channel_fd, *(fd for _, fd in self._pinned), *owned)
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
        warm = self._take_warm(key)
        if warm is not None:
            try:
                return begin(warm, req, deadline)
            except HelperGone:
                log.warning("warm_helper_gone", pid=warm.pid)
        with self._cond:
            if self._stopped:
                raise ServiceError(Reason.SHUTTING_DOWN, "the server is shutting down", req.path)
            self._spawning += 1
        try:
            helper = self._spawn(req)
        finally:
            with self._cond:
                self._spawning -= 1
                self._cond.notify_all()
        call = HelperCall(helper, req, deadline)
        try:
            # Not executor.begin, whose HelperGone means "an idle pooled helper died, take
            # another": a helper exec'd for this request that hangs up before reading it
            # failed to start, and HelperCall.send reports that as HELPER_FAILED with
            # bwrap's stderr in the log.
            call.send(Kind.REQUEST, json.dumps(req.to_json(), separators=(",", ":")).encode())
        except BaseException:
            call.close()
            raise
        return call

    # --- warm helpers -------------------------------------------------------------------

    def _key(self, req: Request) -> tuple[object, ...]:
        c = confinement_for(req, self.settings, ())
        return (c.read, c.write, req.policy.denied)

    def _remember(self, req: Request) -> None:
        key = self._key(req)
        with self._cond:
            self._templates[key] = req
            self._templates.move_to_end(key)
            while len(self._templates) > WARM_KEYS:
                old, _ = self._templates.popitem(last=False)
                for warm in self._warm.pop(old, deque()):
                    warm.helper.close()
            self._cond.notify_all()

    def _signature(self, req: Request) -> tuple[object, ...]:
        """What every bind source of req's namespace is right now."""
        c = confinement_for(req, self.settings, ())
        out: list[object] = []
        for path in (*c.read, *c.write, *req.policy.denied):
            found = self._open_below_root(path)
            if isinstance(found, int):
                try:
                    st = os.fstat(found)
                finally:
                    os.close(found)
                out.append((path, st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode)))
            else:
                out.append((path, found))
        return tuple(out)

    def _take_warm(self, key: tuple[object, ...]) -> Helper | None:
        while True:
            with self._cond:
                queue = self._warm.get(key)
                if not queue:
                    return None
                warm = queue.popleft()
                template = self._templates.get(key)
                self._cond.notify_all()
            try:
                fresh = (time.monotonic() - warm.born < WARM_MAX_AGE
                         and warm.helper.proc is not None and warm.helper.proc.poll() is None
                         and template is not None
                         and self._signature(template) == warm.signature)
            except OSError:
                fresh = False
            if fresh:
                return warm.helper
            warm.helper.close()

    def _refill(self) -> None:
        while True:
            with self._cond:
                target = None
                while target is None:
                    if self._stopped:
                        return
                    for key in reversed(self._templates):  # most recently used first
                        queue = self._warm.setdefault(key, deque())
                        while queue and time.monotonic() - queue[0].born > WARM_MAX_AGE:
                            queue.popleft().helper.close()
                        if len(queue) < self._warm_size:
                            target = (key, self._templates[key])
                            break
                    else:
                        self._cond.wait(WARM_MAX_AGE / 4)
                key, template = target
                self._spawning += 1
            try:
                signature = self._signature(template)
                helper = self._spawn(template)
            except (ServiceError, OSError) as exc:
                log.warning("warm_spawn_failed", error=str(exc))
                helper = None
            finally:
                with self._cond:
                    self._spawning -= 1
                    self._cond.notify_all()
            if helper is None:
                time.sleep(1.0)  # do not spin on a host where spawning fails
                continue
            with self._cond:
                if self._stopped or key not in self._templates:
                    helper.close()
                    continue
                self._warm.setdefault(key, deque()).append(
                    _Warm(helper, signature, time.monotonic()))

    def _spawn(self, req: Request) -> Helper:
        server_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            cmd = self.command(req, helper_end.fileno())
            try:
                proc = _popen(cmd, self._env)
            finally:
                cmd.close()
        except OSError as exc:
            server_end.close()
            log.error("helper_spawn_failed", bwrap=self.bwrap, error=str(exc))
            raise ServiceError(Reason.HELPER_FAILED, "the helper failed; see the server log",
                               req.path) from exc
        except BaseException:
            server_end.close()
            raise
        finally:
            # Only bwrap and the helper hold it now: if they die, the server reads EOF.
            helper_end.close()
        return _ExecHelper(proc.pid, server_end, None, proc)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            while self._spawning:  # a spawn in flight still passes the pinned fds
                self._cond.wait()
            warm = [w for queue in self._warm.values() for w in queue]
            self._warm.clear()
        for w in warm:
            w.helper.close()
        self._close_pinned()

    def _close_pinned(self) -> None:
        while self._pinned:
            os.close(self._pinned.pop()[1])


@dataclass
class _Warm:
    helper: Helper
    signature: tuple[object, ...]
    born: float


class _ExecHelper(Helper):
    """A helper whose process is bwrap itself; closing it also closes its stderr pipe."""

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.proc is not None and self.proc.stderr is not None:
                self.proc.stderr.close()


def _popen(cmd: Command, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start bwrap. Its options travel through a memfd (``--args``), so no request policy
    can make the command line exceed the kernel's argument-size limit."""
    end = cmd.argv.index("--")
    args = os.memfd_create("fsgate-bwrap-args", os.MFD_CLOEXEC)
    try:
        data = memoryview(b"".join(os.fsencode(a) + b"\0" for a in cmd.argv[1:end]))
        while data:
            data = data[os.write(args, data):]
        os.lseek(args, 0, os.SEEK_SET)
        argv = [cmd.argv[0], "--args", str(args), *cmd.argv[end:]]
        return subprocess.Popen(argv, pass_fds=(*cmd.pass_fds, args), env=dict(env),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, close_fds=True)
    finally:
        os.close(args)
