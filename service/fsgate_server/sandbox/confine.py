"""The confinement of a helper process: every kernel facility, applied in one flat order.

`confine` runs `STEPS` top to bottom and stops at the first failure; the caller must then
exit the helper, never serve the request half-confined. Two things happen earlier, at
fork/exec time, and are the caller's job: `process.set_parent_death_signal` (right after
fork, so the helper cannot outlive the server) and `env.apply_env(env.helper_env(...))` (or
an `env=` argument to exec), before any untrusted input is read.

A helper forked by the fork server gets the same facilities in three stages, so that a
request pays only for its own paths: the fork server applies `inherit_to_helpers` to
itself once (no_new_privs and the seccomp denylist but for setting limits: every helper
inherits them at fork); a helper applies `BEFORE_REQUEST` and `prepare_paths` (Landlock
with the runtime roots) while it waits; once the request is in, `restrict_prepared` adds
the request's paths and confines. Landlock then comes after seccomp, which denies none of
its calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from fsgate_server.sandbox import landlock, process, rlimits, seccomp
from fsgate_server.sandbox.rlimits import Limits

__all__ = ["BEFORE_REQUEST", "STEPS", "Confinement", "ConfinementError", "confine",
           "inherit_to_helpers", "prepare_paths", "restrict_prepared"]


class ConfinementError(RuntimeError):
    """The process is in a state the kernel facilities cannot confine as a whole."""


@dataclass(frozen=True)
class Confinement:
    """What the helper may touch; paths are absolute and already resolved."""

    read_exec: tuple[str, ...]  # computed runtime roots: interpreter, stdlib, site-packages, libs
    read: tuple[str, ...]  # the request's readable set
    write: tuple[str, ...]  # the request's writable set (readable too)
    limits: Limits
    keep_fds: tuple[int, ...]  # descriptors to keep besides 0, 1 and 2 (the helper's channel)
    landlock: bool = True  # False only when the bwrap backend runs without Landlock
    # Landlock rights on ``write`` beyond reading (landlock.RIGHTS names); None: all of them.
    write_rights: frozenset[str] | None = None
    # seccomp.DENIED names this helper's operation needs (WatchDir: inotify); default none.
    allow_syscalls: frozenset[str] = frozenset()


def _thread_count() -> int:
    # Native threads count too (gRPC's are invisible to `threading`), so ask the kernel.
    # os.open/os.read rather than open(): a forked helper pays for every object it touches.
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.read(fd, 4096)
    finally:
        os.close(fd)
    # Field 20; split after the ")" that ends the command name, which may contain spaces.
    return int(stat[stat.rindex(b")") + 2 :].split()[17])


def require_single_thread(c: Confinement) -> None:
    """Landlock and seccomp bind only the calling thread: refuse if there is any other."""
    threads = _thread_count()
    if threads != 1:
        raise ConfinementError(
            f"{threads} threads in the helper; Landlock and seccomp would confine only one "
            "(a fork of a gRPC process restarts gRPC's threads: set GRPC_ENABLE_FORK_SUPPORT=0)"
        )


def close_fds(c: Confinement) -> None:
    """Drop every inherited descriptor (server sockets, other requests' files)."""
    process.close_fds_except((0, 1, 2, *c.keep_fds))


def limit_resources(c: Confinement) -> None:
    """CPU, memory, file size and descriptor limits."""
    rlimits.apply(c.limits)


def no_new_privs(c: Confinement) -> None:
    """No privilege gain through execve; also what lets Landlock and seccomp apply unprivileged."""
    process.set_no_new_privs()


def restrict_paths(c: Confinement) -> None:
    """Landlock: files, TCP and IPC scopes (skipped only for bwrap without Landlock)."""
    if c.landlock:
        landlock.restrict(read_exec=c.read_exec, read=c.read, write=c.write,
                          write_rights=c.write_rights)


def filter_syscalls(c: Confinement) -> None:
    """seccomp last: it denies nothing the earlier steps still need."""
    seccomp.install("all", c.allow_syscalls)


STEPS: tuple[Callable[[Confinement], None], ...] = (
    require_single_thread,
    close_fds,
    limit_resources,
    no_new_privs,
    restrict_paths,
    filter_syscalls,
)


def guard_limits(c: Confinement) -> None:
    """seccomp's part on setting resource limits, for a process that already has the rest
    (inherit_to_helpers): the limits limit_resources set stay."""
    seccomp.install("rlimits")


def inherit_to_helpers() -> None:
    """What the fork server applies to itself, once, for every helper it will fork."""
    process.set_no_new_privs()
    seccomp.install("shared")


# A forked helper's steps before its request (after inherit_to_helpers in its parent).
BEFORE_REQUEST: tuple[Callable[[Confinement], None], ...] = (
    require_single_thread,
    close_fds,
    limit_resources,
    no_new_privs,
    guard_limits,
)


def prepare_paths(c: Confinement) -> landlock.Ruleset | None:
    """A Landlock ruleset holding the runtime roots (None: no Landlock, bwrap without it)."""
    return landlock.prepare(c.read_exec) if c.landlock else None


def restrict_prepared(ruleset: landlock.Ruleset | None, c: Confinement) -> None:
    """restrict_paths for a prepared ruleset: add the request's paths and confine; then
    seccomp's operation part (inotify for a WatchDir helper only), now the request is known."""
    if ruleset is not None:
        ruleset.restrict(read=c.read, write=c.write, write_rights=c.write_rights)
    seccomp.install("operation", c.allow_syscalls)


def confine(c: Confinement) -> None:
    """Apply every step, in order; raise on any failure (never run half-confined)."""
    for step in STEPS:
        step(c)
