"""Process-level hardening: parent-death signal, no_new_privs, and descriptor hygiene."""

from __future__ import annotations

import ctypes
import errno
import os
import signal
from collections.abc import Callable, Iterable

from fsgate_server.sandbox._syscall import nr, prctl, syscall

__all__ = ["close_fds_except", "namer", "set_no_new_privs", "set_parent_death_signal"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_PR_SET_NO_NEW_PRIVS = 38
_MAX_FD = 0xFFFFFFFF  # close_range's "last" is an unsigned int; ~0U means "to the end"


def set_parent_death_signal(sig: int = signal.SIGKILL, expected_parent: int | None = None) -> None:
    """Have the kernel send `sig` to this process when its parent dies.

    Call it in the child right after fork, passing the parent's pid as seen before the
    fork: if the parent died before the prctl took effect, the signal would never come, so
    the child exits at once instead. Note the kernel tracks the parent *thread*: the helper
    also gets `sig` if the thread that forked it exits. Survives execve (not of setuid files).
    """
    prctl(_PR_SET_PDEATHSIG, int(sig))
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def set_no_new_privs() -> None:
    """Forbid gaining privileges through execve (setuid bits, file capabilities), for good."""
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


def namer(name: bytes) -> Callable[[], None]:
    """A function that names the calling thread ``name`` (``/proc/PID/comm``, what ps
    shows; at most 15 bytes). The name's buffer is made now, so the call is one prctl."""
    buf = ctypes.create_string_buffer(name[:15])

    def set_name() -> None:
        prctl(_PR_SET_NAME, ctypes.addressof(buf))

    return set_name


def _close_range(first: int, last: int) -> None:
    """Close [first, last]; close_range(2) when the kernel has it, else os.closerange."""
    if first > last:
        return
    try:
        syscall(nr("close_range"), first, last, 0)
        return
    except KeyError:
        pass  # unknown architecture: no syscall number to try
    except OSError as exc:
        if exc.errno != errno.ENOSYS:
            raise
    os.closerange(first, min(last, os.sysconf("SC_OPEN_MAX") - 1) + 1)


def close_fds_except(keep: Iterable[int]) -> None:
    """Close every descriptor not in `keep` (0, 1 and 2 included, unless kept)."""
    start = 0
    for fd in sorted({fd for fd in keep if fd >= 0}):
        _close_range(start, fd - 1)
        start = fd + 1
    _close_range(start, _MAX_FD)
