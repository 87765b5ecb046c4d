"""Shared ctypes access to libc: raw syscalls, prctl, and per-architecture syscall numbers."""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = [
    "AARCH64",
    "MACHINE",
    "NR",
    "SYSCALL_TABLES",
    "X86_64",
    "libc",
    "nr",
    "prctl",
    "syscall",
]

# use_errno so ctypes.get_errno() reports the errno of the call we just made.
libc = ctypes.CDLL(None, use_errno=True)

_syscall = libc.syscall
_syscall.restype = ctypes.c_long
_prctl = libc.prctl
_prctl.restype = ctypes.c_int
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]

X86_64 = "x86_64"
AARCH64 = "aarch64"

# Calls we name somewhere in the sandbox. The numbers >= 424 are shared by every
# architecture; the older ones differ (x86_64 has its own table, aarch64 uses asm-generic).
_COMMON: dict[str, int] = {
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "clone3": 435,
    "close_range": 436,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
    "memfd_secret": 447,
    "fchmodat2": 452,
    "setxattrat": 463,
    "removexattrat": 466,
    "open_tree_attr": 467,
    "file_setattr": 469,
}

_X86_64_TABLE: dict[str, int] = {
    **_COMMON,
    "getpid": 39,
    "ioctl": 16,
    "socket": 41,
    "socketpair": 53,
    "clone": 56,
    "chmod": 90,
    "chown": 92,
    "lchown": 94,
    "ptrace": 101,
    "renameat2": 316,
    "syslog": 103,
    "utime": 132,
    "uselib": 134,
    "personality": 135,
    "vhangup": 153,
    "modify_ldt": 154,
    "pivot_root": 155,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "setrlimit": 160,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "setxattr": 188,
    "lsetxattr": 189,
    "removexattr": 197,
    "lremovexattr": 198,
    "clock_settime": 227,
    "utimes": 235,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "inotify_init": 253,
    "inotify_add_watch": 254,
    "migrate_pages": 256,
    "fchownat": 260,
    "futimesat": 261,
    "fchmodat": 268,
    "unshare": 272,
    "move_pages": 279,
    "utimensat": 280,
    "inotify_init1": 294,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "prlimit64": 302,
    "fanotify_mark": 301,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
}

_AARCH64_TABLE: dict[str, int] = {
    **_COMMON,
    "getpid": 172,
    "setxattr": 5,
    "lsetxattr": 6,
    "removexattr": 14,
    "lremovexattr": 15,
    "inotify_init1": 26,
    "inotify_add_watch": 27,
    "ioctl": 29,
    "umount2": 39,
    "mount": 40,
    "pivot_root": 41,
    "chroot": 51,
    "fchmodat": 53,
    "fchownat": 54,
    "vhangup": 58,
    "quotactl": 60,
    "utimensat": 88,
    "acct": 89,
    "personality": 92,
    "unshare": 97,
    "kexec_load": 104,
    "init_module": 105,
    "delete_module": 106,
    "clock_settime": 112,
    "syslog": 116,
    "ptrace": 117,
    "renameat2": 276,
    "reboot": 142,
    "sethostname": 161,
    "setdomainname": 162,
    "setrlimit": 164,
    "settimeofday": 170,
    "adjtimex": 171,
    "socket": 198,
    "socketpair": 199,
    "add_key": 217,
    "request_key": 218,
    "keyctl": 219,
    "clone": 220,
    "swapon": 224,
    "swapoff": 225,
    "migrate_pages": 238,
    "move_pages": 239,
    "perf_event_open": 241,
    "prlimit64": 261,
    "fanotify_init": 262,
    "fanotify_mark": 263,
    "name_to_handle_at": 264,
    "open_by_handle_at": 265,
    "clock_adjtime": 266,
    "setns": 268,
    "process_vm_readv": 270,
    "process_vm_writev": 271,
    "kcmp": 272,
    "finit_module": 273,
    "bpf": 280,
    "userfaultfd": 282,
    "kexec_file_load": 294,
}

SYSCALL_TABLES: dict[str, dict[str, int]] = {X86_64: _X86_64_TABLE, AARCH64: _AARCH64_TABLE}

# "arm64" is how some kernels/userlands spell aarch64.
MACHINE = {"arm64": AARCH64}.get(platform.machine(), platform.machine())
NR: dict[str, int] = SYSCALL_TABLES.get(MACHINE, {})


def nr(name: str) -> int:
    """The syscall number of `name` on this machine; KeyError if unknown or unsupported here."""
    try:
        return NR[name]
    except KeyError:
        raise KeyError(f"syscall {name!r} is not known on {MACHINE}") from None


def _arg(value: object) -> object:
    # syscall(2) is variadic: a bare Python int would be passed as a 32-bit C int.
    if isinstance(value, int):
        return ctypes.c_long(ctypes.c_ulong(value).value)
    return value


def syscall(number: int, *args: object) -> int:
    """Call syscall `number`; return its result, or raise OSError(errno) when it returns -1.

    `args` are ints (passed as C longs) or ctypes objects (pointers, byref()).
    """
    result: int = _syscall(ctypes.c_long(number), *(_arg(a) for a in args))
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2); raise OSError(errno) on failure."""
    result: int = _prctl(option, arg2, arg3, arg4, arg5)
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return result
