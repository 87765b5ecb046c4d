"""seccomp-bpf: a hand-assembled denylist of syscalls the helper never needs.

A denylist, not an allowlist: CPython and glibc keep working unchanged, while the calls that
reach other processes, the kernel's configuration or a second way around Landlock return
EPERM. Syscalls of a foreign ABI (i386, x32) kill the process: the filter below only
understands native numbers.

The denylist can also be installed in three parts whose conjunction is the whole (the kernel
runs every filter of a process and the strictest answer wins): ``"shared"`` (everything but
setting resource limits and the operation calls), which the fork server installs once and
every helper inherits at fork, ``"rlimits"`` (setrlimit, prlimit64 with a new limit), which
each helper adds once it has set its own limits, and ``"operation"`` (inotify: only a
WatchDir helper may watch), which each helper adds once its request is known, letting
through what that request's operation needs. Installing a filter costs the kernel a JIT
compilation and a per-syscall cache built by running the filter ~450 times: the big shared
part is paid once, not per helper.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import struct
import sys
from dataclasses import dataclass
from typing import Literal

from fsgate_server.sandbox._syscall import AARCH64, MACHINE, SYSCALL_TABLES, X86_64, prctl

__all__ = ["DENIED", "OPERATION_CALLS", "RLIMIT_CALLS", "Rules", "compile_filter", "install"]

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_AUDIT_ARCH = {X86_64: 0xC000003E, AARCH64: 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

# Classic BPF opcodes (linux/filter.h) used here.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_RET_K = 0x06

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARGS = 16

DENIED: dict[str, str] = {
    # The helper's channel is inherited; it never opens a socket (socketpair stays allowed).
    "socket": "no network and no new channels",
    "ptrace": "no reading or steering other processes",
    "process_vm_readv": "no reading other processes' memory",
    "process_vm_writev": "no writing other processes' memory",
    "pidfd_getfd": "no stealing another process's descriptors",
    "kcmp": "no probing other processes' kernel objects",
    "process_madvise": "no influencing other processes' memory",
    "migrate_pages": "no moving other processes' memory",
    "move_pages": "no moving other processes' memory",
    "mount": "no changing the mount table",
    "umount2": "no changing the mount table",
    "pivot_root": "no changing the mount table",
    "chroot": "no changing the root",
    "open_tree": "new mount API",
    "open_tree_attr": "new mount API",
    "move_mount": "new mount API",
    "fsopen": "new mount API",
    "fsconfig": "new mount API",
    "fsmount": "new mount API",
    "fspick": "new mount API",
    "mount_setattr": "new mount API",
    "unshare": "no new namespaces (a user namespace would hand out capabilities)",
    "setns": "no joining other namespaces",
    "bpf": "no kernel programs",
    "perf_event_open": "no kernel introspection",
    "userfaultfd": "a classic primitive for widening kernel races",
    "io_uring_setup": "io_uring performs I/O that seccomp never sees",
    "io_uring_enter": "io_uring performs I/O that seccomp never sees",
    "io_uring_register": "io_uring performs I/O that seccomp never sees",
    "keyctl": "the kernel keyring may hold other services' secrets",
    "add_key": "the kernel keyring may hold other services' secrets",
    "request_key": "the kernel keyring may hold other services' secrets",
    "kexec_load": "no replacing the kernel",
    "kexec_file_load": "no replacing the kernel",
    "init_module": "no kernel modules",
    "finit_module": "no kernel modules",
    "delete_module": "no kernel modules",
    "open_by_handle_at": "opens by inode handle, bypassing path checks (the 'shocker' escape)",
    "name_to_handle_at": "only useful together with open_by_handle_at",
    "personality": "no legacy ABI switches (READ_IMPLIES_EXEC and friends)",
    "fanotify_init": "fanotify hands out descriptors to files anywhere on the mount",
    "fanotify_mark": "fanotify hands out descriptors to files anywhere on the mount",
    "inotify_init": "no watching directories outside the policy",
    "inotify_init1": "no watching directories outside the policy",
    "inotify_add_watch": "no watching directories outside the policy",
    # Landlock does not mediate metadata changes; a root helper could chmod any path.
    "chmod": "path-based metadata change; use fchmod on a descriptor Landlock checked",
    "fchmodat": "path-based metadata change; use fchmod on a descriptor Landlock checked",
    "fchmodat2": "path-based metadata change; use fchmod on a descriptor Landlock checked",
    "chown": "path-based metadata change; use fchown on a descriptor Landlock checked",
    "lchown": "path-based metadata change; use fchown on a descriptor Landlock checked",
    "fchownat": "path-based metadata change; use fchown on a descriptor Landlock checked",
    "setxattr": "path-based metadata change (security.* xattrs for root)",
    "lsetxattr": "path-based metadata change (security.* xattrs for root)",
    "setxattrat": "path-based metadata change (security.* xattrs for root)",
    "removexattr": "path-based metadata change",
    "lremovexattr": "path-based metadata change",
    "removexattrat": "path-based metadata change",
    "file_setattr": "path-based inode flag change (immutable, append-only)",
    "utime": "path-based timestamp change; use futimens",
    "utimes": "path-based timestamp change; use futimens",
    "futimesat": "path-based timestamp change; use futimens",
    # A root helper holds CAP_SYS_RESOURCE and could raise its limits back.
    "setrlimit": "resource limits stay as confine set them",
    "quotactl": "host administration",
    "quotactl_fd": "host administration",
    "swapon": "host administration",
    "swapoff": "host administration",
    "reboot": "host administration",
    "acct": "host administration",
    "syslog": "kernel log may leak addresses and other tenants' data",
    "settimeofday": "host administration",
    "clock_settime": "host administration",
    "clock_adjtime": "host administration",
    "adjtimex": "host administration",
    "sethostname": "host administration",
    "setdomainname": "host administration",
    "vhangup": "no hanging up the terminal of the server",
    "iopl": "no raw I/O ports",
    "ioperm": "no raw I/O ports",
    "modify_ldt": "legacy segment tricks used only by exploits",
    "uselib": "legacy library loader",
    "memfd_secret": "memory the kernel cannot inspect",
}

Rules = Literal["all", "shared", "rlimits", "operation"]
# The part a process that still sets its own limits must leave out (prlimit64 is allowed
# there too, with a new limit; in "rlimits" and "all" only as getrlimit).
RLIMIT_CALLS = frozenset({"setrlimit"})
# The part an operation may need let through (Request.syscalls): installed by each helper
# once its request is known ("operation"), never by the fork server.
OPERATION_CALLS = frozenset({"inotify_init", "inotify_init1", "inotify_add_watch"})


def _part(name: str) -> str:
    return "rlimits" if name in RLIMIT_CALLS else (
        "operation" if name in OPERATION_CALLS else "shared")

# Answered ENOSYS, not EPERM: glibc then falls back to clone(2), whose flags we can inspect.
_ENOSYS = ("clone3",)

_CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)
# Terminal injection: pushing bytes into the input of the server's terminal.
_TIOCSTI = 0x5412
_TIOCLINUX = 0x541C


@dataclass(frozen=True)
class _Insn:
    code: int
    k: int
    jt: str | None = None  # label to jump to when true (None: fall through)
    jf: str | None = None


def _arg_low(index: int) -> int:
    return _OFF_ARGS + 8 * index + (0 if sys.byteorder == "little" else 4)


def _arg_high(index: int) -> int:
    return _OFF_ARGS + 8 * index + (4 if sys.byteorder == "little" else 0)


def _null_arg_or_eperm(label: str, index: int) -> list[tuple[str | None, _Insn]]:
    """Allow the call only when pointer argument `index` is NULL (both 32-bit halves zero)."""
    return [
        (label, _Insn(_LD_W_ABS, _arg_low(index))),
        (None, _Insn(_JEQ_K, 0, jf="eperm")),
        (None, _Insn(_LD_W_ABS, _arg_high(index))),
        (None, _Insn(_JEQ_K, 0, jt="allow", jf="eperm")),
    ]


def _program(machine: str, rules: Rules = "all", allow: frozenset[str] = frozenset()
             ) -> list[tuple[str | None, _Insn]]:
    """The filter as (label, instruction) pairs; jumps name labels further down. ``allow``:
    names of OPERATION_CALLS this filter lets through (one operation's own needs)."""
    table = SYSCALL_TABLES[machine]
    shared, rlimits = rules in ("all", "shared"), rules in ("all", "rlimits")
    parts = {"all": {"shared", "rlimits", "operation"}}.get(rules, {rules})
    p: list[tuple[str | None, _Insn]] = [
        (None, _Insn(_LD_W_ABS, _OFF_ARCH)),
        (None, _Insn(_JEQ_K, _AUDIT_ARCH[machine], jf="kill")),
        (None, _Insn(_LD_W_ABS, _OFF_NR)),
    ]
    if machine == X86_64:
        # x32 calls share AUDIT_ARCH_X86_64 but use other numbers: refuse them outright.
        p.append((None, _Insn(_JSET_K, _X32_SYSCALL_BIT, jt="kill")))
    denied = [n for n in DENIED if n in table and _part(n) in parts and n not in allow]
    p += [(None, _Insn(_JEQ_K, table[n], jt="eperm")) for n in denied]
    branches: list[tuple[str | None, _Insn]] = []
    if shared:
        p += [(None, _Insn(_JEQ_K, table[n], jt="enosys")) for n in _ENOSYS]
        p += [
            (None, _Insn(_JEQ_K, table["clone"], jt="clone")),
            (None, _Insn(_JEQ_K, table["ioctl"], jt="ioctl")),
            (None, _Insn(_JEQ_K, table["utimensat"], jt="utimensat")),
        ]
        branches += [
            # clone(flags, ...): fork and threads pass; new namespaces do not.
            ("clone", _Insn(_LD_W_ABS, _arg_low(0))),
            (None, _Insn(_JSET_K, _CLONE_NAMESPACE_FLAGS, jt="eperm", jf="allow")),
            # ioctl(fd, request, ...): the kernel compares request as a 32-bit value.
            ("ioctl", _Insn(_LD_W_ABS, _arg_low(1))),
            (None, _Insn(_JEQ_K, _TIOCSTI, jt="eperm")),
            (None, _Insn(_JEQ_K, _TIOCLINUX, jt="eperm", jf="allow")),
            # utimensat(fd, NULL, ...) is futimens(fd): allowed; with a path it is not.
            *_null_arg_or_eperm("utimensat", 1),
        ]
    if rlimits:
        p.append((None, _Insn(_JEQ_K, table["prlimit64"], jt="prlimit64")))
        # prlimit64(pid, resource, NULL, old) is getrlimit: allowed; setting is not.
        branches += _null_arg_or_eperm("prlimit64", 2)
    p += [
        (None, _Insn(_RET_K, _RET_ALLOW)),
        *branches,
        # The verdicts come last: classic BPF only jumps forward.
        ("allow", _Insn(_RET_K, _RET_ALLOW)),
        ("eperm", _Insn(_RET_K, _RET_ERRNO | errno.EPERM)),
        ("enosys", _Insn(_RET_K, _RET_ERRNO | errno.ENOSYS)),
        ("kill", _Insn(_RET_K, _RET_KILL_PROCESS)),
    ]
    return p


def _assemble(program: list[tuple[str | None, _Insn]]) -> bytes:
    labels = {label: i for i, (label, _) in enumerate(program) if label is not None}
    out = bytearray()
    for i, (_, insn) in enumerate(program):
        offsets = []
        for target in (insn.jt, insn.jf):
            offset = 0 if target is None else labels[target] - (i + 1)
            if not 0 <= offset <= 255:  # classic BPF jumps only forward, by a u8
                raise ValueError(f"jump from {i} to {target!r} out of range")
            offsets.append(offset)
        # struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } in host byte order.
        out += struct.pack("=HBBI", insn.code, offsets[0], offsets[1], insn.k)
    return bytes(out)


@functools.cache
def compile_filter(machine: str = MACHINE, rules: Rules = "all",
                   allow: frozenset[str] = frozenset()) -> bytes:
    """The packed sock_filter array for `machine` (the whole denylist, or one of its
    parts: module docstring), assembled once per ``allow`` and memoized. ``allow`` must
    name OPERATION_CALLS (a typo, or a call no operation may have, must not pass)."""
    if machine not in _AUDIT_ARCH:
        raise OSError(errno.ENOTSUP, f"no seccomp filter for architecture {machine!r}")
    unknown = allow - OPERATION_CALLS
    if unknown:
        raise ValueError(f"not an operation's call, cannot be allowed: {sorted(unknown)}")
    return _assemble(_program(machine, rules, allow))


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(rules: Rules = "all", allow: frozenset[str] = frozenset()) -> None:
    """Install the filter (the whole denylist, or one part: module docstring) on the calling
    thread and its future children; irreversible.

    Sets no_new_privs first (required without CAP_SYS_ADMIN). Applies to the calling thread
    only: call it while the process is single-threaded.
    """
    _buffer, fprog = _fprog(rules, allow)
    prctl(_PR_SET_NO_NEW_PRIVS, 1)
    prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(fprog))


@functools.cache
def _fprog(rules: Rules, allow: frozenset[str] = frozenset()
           ) -> tuple[ctypes.Array[ctypes.c_char], _SockFprog]:
    """The sock_fprog the kernel reads (and the buffer it points into, kept alive here)."""
    program = compile_filter(MACHINE, rules, allow)
    buffer = ctypes.create_string_buffer(program, len(program))
    return buffer, _SockFprog(len=len(program) // 8, filter=ctypes.addressof(buffer))


if MACHINE in _AUDIT_ARCH:
    # Assembled at import, in the server and the fork server: forked helpers reuse them.
    for _rules in ("all", "shared", "rlimits", "operation"):
        _fprog(_rules)
    _fprog("operation", OPERATION_CALLS)
