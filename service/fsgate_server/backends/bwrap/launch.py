"""Finding and starting bwrap: where it may be installed, and one invocation's launch.

``popen`` passes bwrap's options through a memfd (``--args``), so no request policy can
make the command line exceed the kernel's argument-size limit, and puts bwrap in a process
group of its own: a SIGTERM to the server's group (the start of a graceful shutdown) must
not kill the namespaces whose helpers are serving requests in flight; the server stops
them itself, and ``--die-with-parent`` ends them if the server dies.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO

from fsgate_server.backends import BackendUnavailable
from fsgate_server.policy import Root, is_within
from fsgate_server.sandbox.env import helper_env

__all__ = ["Command", "check_bwrap_location", "find_bwrap", "popen"]


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


def popen(cmd: Command, env: Mapping[str, str], stderr: IO[bytes] | int = subprocess.PIPE
          ) -> subprocess.Popen[bytes]:
    """Start bwrap, its options in a memfd, in a process group of its own."""
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
                                stderr=stderr, close_fds=True, process_group=0)
    finally:
        os.close(args)
