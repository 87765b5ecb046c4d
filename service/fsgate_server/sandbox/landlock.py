"""Landlock LSM: unprivileged, per-process file-system, TCP and IPC-scope restrictions.

`restrict` turns three path sets into one ruleset, handling every right the kernel's ABI
knows, so anything not granted below is denied — including rights the paths never mention.
A `Ruleset` can also be built in two steps: `prepare` adds the paths known in advance (the
runtime roots, while a forked helper waits for its request), `Ruleset.restrict` the
request's own paths, and confines.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterable

from fsgate_server.sandbox._syscall import nr, prctl, syscall

__all__ = ["RIGHTS", "LandlockUnavailable", "Ruleset", "abi_version", "prepare", "restrict"]

_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# File-system rights (include/uapi/linux/landlock.h), by the ABI that introduced them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

_FS_ABI1 = (1 << 13) - 1
_FS_BY_ABI = {1: _FS_ABI1, 2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}

# The only rights the kernel accepts on a rule whose inode is not a directory.
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

_READ = FS_READ_FILE | FS_READ_DIR
_READ_EXEC = _READ | FS_EXECUTE
# No MAKE_CHAR/BLOCK/FIFO/SOCK (devices, blocking FIFOs, sockets have no business in a
# workspace) and no IOCTL_DEV.
_WRITE = (
    _READ
    | FS_WRITE_FILE
    | FS_REMOVE_DIR
    | FS_REMOVE_FILE
    | FS_MAKE_DIR
    | FS_MAKE_REG
    | FS_MAKE_SYM
    | FS_REFER
    | FS_TRUNCATE
)

# The write-side rights by name, for a request that needs only some (Request.rights).
RIGHTS: dict[str, int] = {
    "write_file": FS_WRITE_FILE,
    "truncate": FS_TRUNCATE,
    "make_reg": FS_MAKE_REG,
    "make_dir": FS_MAKE_DIR,
    "make_sym": FS_MAKE_SYM,
    "remove_file": FS_REMOVE_FILE,
    "remove_dir": FS_REMOVE_DIR,
    "refer": FS_REFER,
}
assert sum(RIGHTS.values()) == _WRITE & ~_READ


def write_access(rights: Iterable[str] | None) -> int:
    """The access mask of a writable root: reading plus the named rights (None: all)."""
    if rights is None:
        return _WRITE
    unknown = set(rights) - RIGHTS.keys()
    if unknown:
        raise ValueError(f"unknown Landlock rights: {sorted(unknown)}")
    return _READ | sum(RIGHTS[name] for name in set(rights))


class LandlockUnavailable(OSError):
    """The kernel has no usable Landlock (not built in, or not in the `lsm=` list)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes, not 16
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 when Landlock is missing or disabled."""
    try:
        return syscall(
            nr("landlock_create_ruleset"), ctypes.c_void_p(None), 0, _CREATE_RULESET_VERSION
        )
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def _handled_fs(abi: int) -> int:
    return sum(bits for since, bits in _FS_BY_ABI.items() if abi >= since)


def _ruleset_attr(abi: int) -> tuple[_RulesetAttr, int]:
    """The attr plus the size to pass: older kernels reject a struct bigger than they know."""
    attr = _RulesetAttr(handled_access_fs=_handled_fs(abi))
    size = 8
    if abi >= 4:
        # Handled with no rule at all: every TCP bind and connect is denied.
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    return attr, size


def _add_path_rule(ruleset_fd: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return  # a root that does not exist grants nothing; nothing to add
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_RIGHTS
        attr = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
        syscall(nr("landlock_add_rule"), ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(attr), 0)
    finally:
        os.close(fd)


class Ruleset:
    """A ruleset under construction (its fd); confines the calling thread once, then closes."""

    def __init__(self, abi: int | None = None) -> None:
        kernel_abi = abi_version()
        self.abi = kernel_abi if abi is None else min(abi, kernel_abi)
        if self.abi <= 0:
            raise LandlockUnavailable(errno.EOPNOTSUPP,
                                      "Landlock is not available on this kernel")
        self._handled = _handled_fs(self.abi)
        attr, size = _ruleset_attr(self.abi)
        self.fd = syscall(nr("landlock_create_ruleset"), ctypes.byref(attr), size, 0)

    def allow(self, paths: Iterable[str], access: int) -> None:
        """Grant ``access`` (FS_* bits) beneath each path (missing paths are skipped)."""
        for path in paths:
            _add_path_rule(self.fd, path, access & self._handled)

    def restrict(self, *, read: Iterable[str] = (), write: Iterable[str] = (),
                 write_rights: Iterable[str] | None = None) -> int:
        """Add the readable and writable paths, confine the calling thread (and its future
        children) to every rule added, and close the ruleset; return the ABI used."""
        try:
            self.allow(read, _READ)
            self.allow(write, write_access(write_rights))
            # Required for an unprivileged restrict_self; harmless when already set.
            prctl(_PR_SET_NO_NEW_PRIVS, 1)
            syscall(nr("landlock_restrict_self"), self.fd, 0)
        finally:
            self.close()
        return self.abi

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def prepare(read_exec: Iterable[str], abi: int | None = None) -> Ruleset:
    """A ruleset holding the read-and-execute paths (the runtime roots), to be finished
    with the request's own by ``Ruleset.restrict``. ``abi`` as for ``restrict``."""
    ruleset = Ruleset(abi)
    try:
        ruleset.allow(read_exec, _READ_EXEC)
    except BaseException:
        ruleset.close()
        raise
    return ruleset


def restrict(
    *,
    read_exec: Iterable[str],
    read: Iterable[str],
    write: Iterable[str],
    write_rights: Iterable[str] | None = None,
    abi: int | None = None,
) -> int:
    """Confine the calling thread (and its future children) to the given paths; return the ABI.

    Paths are opened following symlinks, so callers pass resolved paths. Missing paths are
    skipped. `abi` caps the ABI used (default: the kernel's). Applies to the calling thread
    only: call it while the process is single-threaded.
    """
    return prepare(read_exec, abi).restrict(read=read, write=write, write_rights=write_rights)
