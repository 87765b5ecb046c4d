"""The mount plan: what a bwrap helper's namespace holds for one namespace key.

The namespace starts from nothing (``--tmpfs /``) and holds exactly: the computed runtime
roots and start-up files (read-only), the request's readable set (read-only), its writable
set (read-write, and only for a write request), masks over the denied paths, and fresh
``/proc`` and ``/dev``. It has no network and its own user, pid, ipc, uts and cgroup
namespaces, no capabilities, a cleared environment, and dies with the server.

Every bind source is a descriptor the server opened, never a path bwrap resolves later:
runtime roots are pinned once (``MountPlan`` holds them), and a request's paths are opened
component by component below their served root without following symlinks, so a caller
who swaps a directory for a symlink cannot get another directory mounted under a policy
name. A request path that runs through a symlink is reproduced as that symlink
(``--symlink``): the helper then sees where it leads, and its policy check judges it as
under Landlock.

This module builds command lines and starts nothing; backend.py runs them.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fsgate_server.backends.bwrap.launch import Command
from fsgate_server.backends.bwrap.mounts import MountTable
from fsgate_server.helper.messages import Request
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import Root, is_within

__all__ = ["FORKSERVER_MODULE", "HELPER_MODULE", "NAMESPACE_FLAGS", "PYTHON_FLAGS",
           "MountPlan", "in_namespace", "namespace_key"]

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

_O_PIN = os.O_PATH | os.O_CLOEXEC
# Nothing there that the server may reach: the helper finds nothing there either.
_SKIP_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EACCES, errno.ELOOP})


def namespace_key(req: Request, settings: HelperSettings) -> tuple[object, ...]:
    """What determines req's namespace: its readable and writable sets and denied paths."""
    ns = in_namespace(req)
    c = confinement_for(ns, settings, ())
    return (c.read, c.write, ns.policy.denied)


def in_namespace(req: Request) -> Request:
    """req with the policy its namespace is built from (Request.namespace_policy)."""
    policy = req.namespace_policy()
    return req if policy is req.policy else dataclasses.replace(req, policy=policy)


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


class MountPlan:
    """bwrap command lines for a namespace key, over runtime roots pinned at construction.

    ``runtime_roots`` are the directories bound into every namespace (normally all of
    ``settings.runtime_roots``), ``files`` the start-up files bound beside them, ``env`` the
    helper's whole environment. ``close`` releases the pinned descriptors."""

    def __init__(self, bwrap: str, settings: HelperSettings, *, roots: Sequence[Root],
                 runtime_roots: Sequence[str], files: Sequence[str],
                 env: Mapping[str, str]) -> None:
        self.bwrap = bwrap
        self.settings = settings
        self.roots = tuple(sorted(roots, key=lambda r: len(r.path), reverse=True))
        self.env = dict(env)
        self.runtime_dests = tuple(runtime_roots)
        self.pinned: list[tuple[str, int]] = []
        try:
            for path in (*runtime_roots, *files):
                self.pinned.append((path, os.open(path, _O_PIN)))
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        while self.pinned:
            os.close(self.pinned.pop()[1])

    def helper_command(self, req: Request, channel_fd: int) -> Command:
        """The bwrap command that execs one helper for ``req``, its channel on
        ``channel_fd``: what a fork server's namespace must be equivalent to."""
        settings = json.dumps(self.settings.to_json(), separators=(",", ":"))
        return self.command(req, channel_fd, HELPER_MODULE,
                            ("--fd", str(channel_fd), "--confinement", settings))

    def forkserver_command(self, req: Request, control_fd: int) -> Command:
        """The bwrap command that runs the fork server for ``req``'s namespace key: the same
        namespace as ``helper_command``, the control channel on ``control_fd``. Inside the
        new pid namespace its parent is bwrap's init, pid 1."""
        settings = json.dumps(self.settings.to_json(), separators=(",", ":"))
        return self.command(req, control_fd, FORKSERVER_MODULE,
                            ("--control-fd", str(control_fd), "--parent-pid", "1",
                             "--settings", settings))

    def command(self, req: Request, fd: int, module: str, args: Sequence[str]) -> Command:
        req = in_namespace(req)
        c = confinement_for(req, self.settings, (fd,))
        ops = [_Op(dest, 0, ("--ro-bind-fd", str(fd), dest)) for dest, fd in self.pinned]
        owned: list[int] = []
        remount: list[str] = []
        try:
            binds = [(p, "--ro-bind-fd") for p in c.read] + [(p, "--bind-fd") for p in c.write]
            links: list[_Op] = []
            for path, option in binds:
                found = self.open_below_root(path)
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
        for name, value in sorted(self.env.items()):
            argv += ["--setenv", name, value]
        argv += ["--chdir", "/", "--", sys.executable, *PYTHON_FLAGS, "-m", module, *args]
        pass_fds = (fd, *(pinned for _, pinned in self.pinned), *owned)
        return Command(argv, pass_fds, owned)

    def signature(self, req: Request, mounts: MountTable) -> tuple[object, ...]:
        """What every bind source of req's namespace is right now, with the mounts at or
        below it: a namespace built from another signature is out of date."""
        req = in_namespace(req)
        c = confinement_for(req, self.settings, ())
        out: list[object] = []
        mounts.refresh()
        for path in (*c.read, *c.write, *req.policy.denied):
            found = self.open_below_root(path)
            if isinstance(found, int):
                try:
                    st = os.fstat(found)
                    real = os.readlink(f"/proc/self/fd/{found}")  # where it was found
                finally:
                    os.close(found)
                out.append((path, st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode),
                            mounts.below(real)))
            else:
                out.append((path, found))
        return tuple(out)

    def _root_of(self, path: str) -> str:
        for root in self.roots:  # longest first
            if is_within(path, root.path):
                return root.path
        return "/"  # not below any root (never, for an effective policy): trust nothing

    def open_below_root(self, path: str) -> int | tuple[str, str] | None:
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
        if any(is_within(path, rt) for rt in self.runtime_dests):
            return None
        found = self.open_below_root(path)
        if not isinstance(found, int):
            return None
        try:
            is_dir = stat.S_ISDIR(os.fstat(found).st_mode)
        finally:
            os.close(found)
        if is_dir:
            return _Op(path, 2, ("--tmpfs", path))
        return _Op(path, 2, ("--ro-bind", "/dev/null", path))
