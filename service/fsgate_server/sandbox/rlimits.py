"""Resource limits: CPU time, address space, file size and open descriptors.

Every limit is set soft == hard, so the helper cannot raise it back, and never above the
hard limit the helper inherited.
"""

from __future__ import annotations

import os
import resource
import signal
from dataclasses import dataclass

__all__ = [
    "DEFAULT_ADDRESS_SPACE_BYTES",
    "DEFAULT_CPU_SECONDS",
    "DEFAULT_FILE_SIZE_BYTES",
    "DEFAULT_OPEN_FILES",
    "Limits",
    "apply",
    "open_files_for",
]

DEFAULT_CPU_SECONDS = 30
DEFAULT_ADDRESS_SPACE_BYTES = 1 << 30
DEFAULT_FILE_SIZE_BYTES = 1 << 30
DEFAULT_OPEN_FILES = 64
# A helper holds ~8 descriptors of its own (stdio, channel, pipes) plus, walking a tree,
# one per level (and briefly a second while it reads a directory).
_BASE_OPEN_FILES = 32


def open_files_for(max_depth: int) -> int:
    """RLIMIT_NOFILE for helpers that may walk ``max_depth`` levels (ListDir's cap, the
    sweep's depth): every depth the server allows must fit, with a margin."""
    return max(DEFAULT_OPEN_FILES, _BASE_OPEN_FILES + 2 * max_depth)


@dataclass(frozen=True)
class Limits:
    """Per-helper resource limits; every field is a positive integer in the unit it names."""

    # CPU seconds (RLIMIT_CPU): past it the kernel sends SIGXCPU, which kills the helper.
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    # Virtual address space in bytes (RLIMIT_AS), counted from zero, not from the current
    # size: a helper forked from a large process (a gRPC server maps 0.5-1.5 GiB) needs it
    # raised, or should be exec'd fresh (a bare interpreter maps ~20 MiB, ~50 MiB with grpc).
    address_space_bytes: int = DEFAULT_ADDRESS_SPACE_BYTES
    # Largest file offset the helper may write, in bytes (RLIMIT_FSIZE); callers pass the
    # server's write limit. A breach fails the write with EFBIG.
    file_size_bytes: int = DEFAULT_FILE_SIZE_BYTES
    # Lowest descriptor number the helper can no longer open (RLIMIT_NOFILE).
    open_files: int = DEFAULT_OPEN_FILES

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "address_space_bytes", "file_size_bytes", "open_files"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")


def _current_address_space() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None  # no /proc (some bwrap setups): skip the sanity check


def _set(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)  # lowering is always allowed; raising needs privilege
    resource.setrlimit(which, (value, value))


def apply(limits: Limits) -> None:
    """Apply `limits` to the calling process; raise ValueError or OSError on failure."""
    current = _current_address_space()
    if current is not None and limits.address_space_bytes <= current:
        # Below the current size every later allocation fails: refuse rather than limp.
        raise ValueError(
            f"address-space limit {limits.address_space_bytes} B is below the process's "
            f"current size {current} B"
        )
    # Without this a write past RLIMIT_FSIZE kills the helper instead of failing with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _set(resource.RLIMIT_CPU, limits.cpu_seconds)
    _set(resource.RLIMIT_AS, limits.address_space_bytes)
    _set(resource.RLIMIT_FSIZE, limits.file_size_bytes)
    _set(resource.RLIMIT_NOFILE, limits.open_files)
