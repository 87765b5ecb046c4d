"""seccomp: the denylist refuses escape syscalls and leaves CPython working."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import resource
import signal
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsgate_server.sandbox import _syscall, seccomp

Runner = Callable[[Callable[[int], object]], Any]  # conftest.ChildResult
ErrnoOf = Callable[..., int | None]

ALLOW = 0x7FFF0000
EPERM = 0x00050000 | errno.EPERM
ENOSYS = 0x00050000 | errno.ENOSYS
KILL = 0x80000000
ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17
TIOCSTI = 0x5412


def run_bpf(program: bytes, nr: int, arch: int, args: tuple[int, ...] = (0,) * 6) -> int:
    """A classic-BPF interpreter for the opcodes the filter uses, over one seccomp_data."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x15:  # jeq #k
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x45:  # jset #k
            pc += 1 + (jt if acc & k else jf)
        elif code == 0x06:  # ret #k
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_refuses_every_denied_syscall_with_eperm(machine: str) -> None:
    program = seccomp.compile_filter(machine)
    table = _syscall.SYSCALL_TABLES[machine]
    for name in seccomp.DENIED:
        if name in table:
            assert run_bpf(program, table[name], ARCH[machine]) == EPERM, name


# What CPython and glibc do all day, per architecture (checked against the kernel headers).
EVERYDAY = {
    "x86_64": {
        "read": 0, "write": 1, "openat": 257, "close": 3, "fstat": 5, "mmap": 9, "futex": 202,
        "exit_group": 231, "sendmsg": 46, "recvmsg": 47, "getdents64": 217, "renameat2": 316,
        "linkat": 265, "fsync": 74, "fchmod": 91, "fchown": 93, "execve": 59,
        "newfstatat": 262, "statx": 332, "getrandom": 318, "rt_sigaction": 13, "wait4": 61,
        "kill": 62, "fsetxattr": 190, "fremovexattr": 199,
    },
    "aarch64": {
        "read": 63, "write": 64, "openat": 56, "close": 57, "fstat": 80, "mmap": 222,
        "futex": 98, "exit_group": 94, "sendmsg": 211, "recvmsg": 212, "getdents64": 61,
        "renameat2": 276, "linkat": 37, "fsync": 82, "fchmod": 52, "fchown": 55,
        "execve": 221, "newfstatat": 79, "statx": 291, "getrandom": 278,
        "rt_sigaction": 134, "wait4": 260, "kill": 129, "fsetxattr": 7, "fremovexattr": 16,
    },
}  # fmt: skip


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_allows_what_cpython_needs(machine: str) -> None:
    program = seccomp.compile_filter(machine)
    table = _syscall.SYSCALL_TABLES[machine]
    everyday = {n: table[n] for n in ("getpid", "socketpair", "close_range")}
    everyday |= {n: table[n] for n in ("landlock_create_ruleset", "landlock_restrict_self")}
    for name, nr in (everyday | EVERYDAY[machine]).items():
        assert run_bpf(program, nr, ARCH[machine]) == ALLOW, name


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_kills_syscalls_of_a_foreign_architecture(machine: str) -> None:
    program = seccomp.compile_filter(machine)
    for arch in (0x40000003, 0x40000028, *(a for m, a in ARCH.items() if m != machine)):
        assert run_bpf(program, 0, arch) == KILL  # i386, arm, the other 64-bit arch


def test_filter_kills_x32_syscalls_on_x86_64() -> None:
    program = seccomp.compile_filter("x86_64")
    assert run_bpf(program, 0x40000000 | 39, ARCH["x86_64"]) == KILL


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_refuses_clone_into_new_namespaces_but_allows_fork(machine: str) -> None:
    program, clone = seccomp.compile_filter(machine), _syscall.SYSCALL_TABLES[machine]["clone"]
    assert run_bpf(program, clone, ARCH[machine], (SIGCHLD, 0, 0, 0, 0, 0)) == ALLOW
    assert run_bpf(program, clone, ARCH[machine], (CLONE_NEWUSER | SIGCHLD,) + (0,) * 5) == EPERM
    # clone3 hides its flags in memory: ENOSYS makes glibc fall back to clone.
    assert run_bpf(program, 435, ARCH[machine]) == ENOSYS


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_filter_refuses_terminal_injection_path_timestamps_and_new_limits(machine: str) -> None:
    program, table, arch = seccomp.compile_filter(machine), _syscall.SYSCALL_TABLES[machine], 0
    arch = ARCH[machine]
    assert run_bpf(program, table["ioctl"], arch, (0, TIOCSTI, 0, 0, 0, 0)) == EPERM
    assert run_bpf(program, table["ioctl"], arch, (0, 0x541B, 0, 0, 0, 0)) == ALLOW  # FIONREAD
    assert run_bpf(program, table["utimensat"], arch, (3, 0, 0, 0, 0, 0)) == ALLOW  # futimens
    assert run_bpf(program, table["utimensat"], arch, (3, 0x1000, 0, 0, 0, 0)) == EPERM
    assert run_bpf(program, table["utimensat"], arch, (3, 1 << 40, 0, 0, 0, 0)) == EPERM
    assert run_bpf(program, table["prlimit64"], arch, (0, 7, 0, 0x1000, 0, 0)) == ALLOW  # get
    assert run_bpf(program, table["prlimit64"], arch, (0, 7, 0x1000, 0, 0, 0)) == EPERM  # set


def _strictest(*verdicts: int) -> int:
    """What the kernel answers when several filters run: the lowest action wins (KILL
    before ERRNO before ALLOW, comparing the action as a signed 32-bit value)."""
    return min(verdicts, key=lambda v: struct.unpack("=i", struct.pack("=I", v & 0xFFFF0000)))


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_shared_and_rlimits_parts_together_refuse_exactly_what_the_whole_does(
        machine: str) -> None:
    """The three parts (shared, rlimits, and the per-request operation part) together are
    the whole denylist."""
    whole, shared, rlimits, operation = (seccomp.compile_filter(machine, rules)
                                         for rules in ("all", "shared", "rlimits", "operation"))
    arch = ARCH[machine]
    args = [(0,) * 6, (0, 7, 0x1000, 0, 0, 0), (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0, 0),
            (0, TIOCSTI, 0, 0, 0, 0), (3, 0x1000, 0, 0, 0, 0), (-1 & 0xFFFFFFFF,) * 6]
    numbers = sorted({*_syscall.SYSCALL_TABLES[machine].values(), 999, 1 << 30})
    for nr in numbers:
        for a in args:
            split = _strictest(run_bpf(shared, nr, arch, a), run_bpf(rlimits, nr, arch, a),
                               run_bpf(operation, nr, arch, a))
            assert split == run_bpf(whole, nr, arch, a), (nr, a)
    assert _strictest(run_bpf(shared, 0, 0x40000003), run_bpf(rlimits, 0, 0x40000003)) == KILL


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_shared_part_leaves_setting_limits_to_the_helpers(machine: str) -> None:
    shared, rlimits = (seccomp.compile_filter(machine, r) for r in ("shared", "rlimits"))
    table, arch = _syscall.SYSCALL_TABLES[machine], ARCH[machine]
    setting = (0, 7, 0x1000, 0, 0, 0)  # prlimit64(0, RLIMIT_NOFILE, &new, NULL)
    assert run_bpf(shared, table["prlimit64"], arch, setting) == ALLOW
    assert run_bpf(rlimits, table["prlimit64"], arch, setting) == EPERM
    assert run_bpf(rlimits, table["prlimit64"], arch, (0, 7, 0, 0x1000, 0, 0)) == ALLOW
    if "setrlimit" in table:
        assert run_bpf(shared, table["setrlimit"], arch) == ALLOW
        assert run_bpf(rlimits, table["setrlimit"], arch) == EPERM
    for name in seccomp.DENIED:  # and nothing else is the rlimits part's business
        if name in table and name not in seccomp.RLIMIT_CALLS | seccomp.OPERATION_CALLS:
            assert run_bpf(rlimits, table[name], arch) == ALLOW, name
            assert run_bpf(shared, table[name], arch) == EPERM, name


def test_seccomp_in_two_parts_refuses_every_denied_syscall_and_raising_limits(
        in_child: Runner) -> None:
    names = [n for n in seccomp.DENIED if n in _syscall.NR and n != "vhangup"]

    def child(_fd: int) -> object:
        seccomp.install("shared")  # what the fork server has; its helpers still set limits
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 64), min(hard, 64)))
        seccomp.install("rlimits")  # what each helper adds once its limits are set
        seccomp.install("operation")  # and once its request is known (not a watch here)
        got: dict[str, int | None] = {}
        for name in names:
            try:
                _syscall.syscall(_syscall.nr(name), *([-1] * 6))
                got[name] = 0
            except OSError as exc:
                got[name] = exc.errno
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))  # even lowering is refused
            got["prlimit64"] = 0
        except ValueError:  # how resource reports EPERM
            got["prlimit64"] = errno.EPERM
        return got, resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    got, hard = in_child(child).value
    assert got == dict.fromkeys([*names, "prlimit64"], errno.EPERM)
    assert hard <= 64


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_operation_part_denies_inotify_unless_the_request_allows_it(machine: str) -> None:
    """inotify is refused to every helper but a WatchDir one (Request.syscalls), and only by
    the part installed per request: the shared part the fork server installs lets it by."""
    table, arch = _syscall.SYSCALL_TABLES[machine], ARCH[machine]
    shared = seccomp.compile_filter(machine, "shared")
    denying = seccomp.compile_filter(machine, "operation")
    watching = seccomp.compile_filter(machine, "operation", seccomp.OPERATION_CALLS)
    for name in ("inotify_init1", "inotify_add_watch"):
        assert run_bpf(shared, table[name], arch) == ALLOW, name
        assert run_bpf(denying, table[name], arch) == EPERM, name
        assert run_bpf(watching, table[name], arch) == ALLOW, name
    with pytest.raises(ValueError, match="cannot be allowed"):
        seccomp.compile_filter(machine, "operation", frozenset({"ptrace"}))


def test_compile_filter_is_assembled_once() -> None:
    assert seccomp.compile_filter() is seccomp.compile_filter()
    assert len(seccomp.compile_filter()) % 8 == 0
    assert len(seccomp.compile_filter()) // 8 < 4096  # the kernel's BPF_MAXINSNS


def test_seccomp_refuses_inet_socket_but_keeps_socketpair(
    in_child: Runner, errno_of: ErrnoOf
) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        a, b = socket.socketpair()
        a.sendall(b"ping")
        echoed = b.recv(4)
        return (
            echoed,
            errno_of(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM)),
            errno_of(lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)),
            errno_of(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)),
            errno_of(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
        )

    assert in_child(child).value == (b"ping",) + (errno.EPERM,) * 4


def test_seccomp_refuses_every_denied_syscall_in_the_kernel(in_child: Runner) -> None:
    # Arguments of -1 make each call harmless even if the filter were missing; vhangup
    # takes none and would hang up the terminal, so it is checked by the emulator only.
    names = [n for n in seccomp.DENIED if n in _syscall.NR and n != "vhangup"]

    def child(_fd: int) -> object:
        seccomp.install()
        got: dict[str, int | None] = {}
        for name in names:
            try:
                _syscall.syscall(_syscall.nr(name), *([-1] * 6))
                got[name] = 0
            except OSError as exc:
                got[name] = exc.errno
        return got

    got = in_child(child).value
    assert got == dict.fromkeys(names, errno.EPERM)


def test_seccomp_refuses_ptrace_mount_and_unshare(in_child: Runner, errno_of: ErrnoOf) -> None:
    libc = _syscall.libc

    def child(_fd: int) -> object:
        seccomp.install()
        return (
            errno_of(lambda: _syscall.syscall(_syscall.nr("ptrace"), 0, 0, 0, 0)),  # TRACEME
            errno_of(lambda: _syscall.syscall(_syscall.nr("unshare"), CLONE_NEWUSER)),
            libc.mount(b"none", b"/mnt", b"tmpfs", 0, None),
            ctypes.get_errno(),
        )

    assert in_child(child).value == (errno.EPERM, errno.EPERM, -1, errno.EPERM)


def test_seccomp_refuses_clone_into_new_user_namespace(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        try:
            pid = _syscall.syscall(_syscall.nr("clone"), CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
        except OSError as exc:
            return exc.errno
        if pid == 0:
            os._exit(0)  # the filter failed: leave the clone at once
        os.waitpid(pid, 0)
        return "cloned"

    assert in_child(child).value == errno.EPERM


def test_seccomp_keeps_threads_and_fork_working(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        seen = []
        thread = threading.Thread(target=lambda: seen.append(threading.get_ident()))
        thread.start()
        thread.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        return len(seen), os.WEXITSTATUS(status)

    assert in_child(child).value == (1, 7)


def test_seccomp_keeps_cpython_file_operations_working(in_child: Runner, tmp_path: Path) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        tmp = tmp_path / "tmp"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"hello")
        os.fsync(fd)
        os.fchmod(fd, 0o640)
        os.utime(fd, (1, 1))
        with mmap.mmap(fd, 5) as m:
            mapped = bytes(m)
        os.close(fd)
        os.link(tmp, tmp_path / "hard")
        os.replace(tmp, tmp_path / "final")
        os.unlink(tmp_path / "hard")
        st = os.stat(tmp_path / "final")
        return mapped, sorted(os.listdir(tmp_path)), oct(st.st_mode & 0o777), st.st_mtime

    assert in_child(child).value == (b"hello", ["final"], "0o640", 1.0)


def test_seccomp_refuses_path_based_chmod_but_allows_fchmod(
    in_child: Runner, errno_of: ErrnoOf, tmp_path: Path
) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    target.chmod(0o600)

    def child(_fd: int) -> object:
        seccomp.install()
        refused = (
            errno_of(lambda: os.chmod(target, 0o777)),
            errno_of(lambda: os.chown(target, 1, 1)),
            errno_of(lambda: os.utime(target, (1, 1))),
            errno_of(lambda: os.setxattr(target, "user.x", b"1")),
        )
        fd = os.open(target, os.O_RDONLY)
        os.fchmod(fd, 0o644)
        return refused

    assert in_child(child).value == (errno.EPERM,) * 4
    assert target.stat().st_mode & 0o777 == 0o644


def test_seccomp_refuses_changing_resource_limits_again(
    in_child: Runner, errno_of: ErrnoOf
) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)  # prlimit64(0, r, NULL, &old)
        new = (ctypes.c_uint64 * 2)(*limit)
        return limit == resource.getrlimit(resource.RLIMIT_NOFILE), errno_of(
            lambda: _syscall.syscall(
                _syscall.nr("prlimit64"), 0, resource.RLIMIT_NOFILE, ctypes.byref(new), 0
            )
        )

    assert in_child(child).value == (True, errno.EPERM)


def test_seccomp_refuses_terminal_input_injection(in_child: Runner, errno_of: ErrnoOf) -> None:
    def child(_fd: int) -> object:
        fd = os.open("/dev/null", os.O_RDONLY)
        before = errno_of(lambda: fcntl.ioctl(fd, TIOCSTI, b"x"))
        seccomp.install()
        return before, errno_of(lambda: fcntl.ioctl(fd, TIOCSTI, b"x"))

    assert in_child(child).value == (errno.ENOTTY, errno.EPERM)


@pytest.mark.skipif(_syscall.MACHINE != "x86_64", reason="x32 exists only on x86_64")
def test_seccomp_kills_a_process_making_x32_syscalls(in_child: Runner) -> None:
    def child(_fd: int) -> object:
        seccomp.install()
        return _syscall.syscall(0x40000000 | _syscall.nr("getpid"))

    result = in_child(child)
    assert (result.outcome, result.term_signal) == ("died", signal.SIGSYS)
