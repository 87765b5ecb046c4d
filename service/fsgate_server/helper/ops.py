"""The four file operations, as a helper carries them out after it has been confined.

Every operation acts on file descriptors, never on a path checked earlier: it opens the
request path once (``O_PATH``, so nothing blocks and no device is really opened), reads the
real location of what it got from ``/proc/self/fd``, checks that location against the
effective policy, and only then reopens that same inode for reading or writing. The kernel
sandbox (Landlock or bwrap) is the second, independent wall: content is only ever read
through an open the kernel judged.

Errors never describe anything outside the effective policy: an ``ENOENT`` whose resolved
path lies outside the policy is reported as SANDBOX_DENIED, exactly like an ``EACCES``.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import heapq
import os
import re
import socket
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fsgate._reasons import Reason

try:  # hashlib's own blake2b, without the OpenSSL start-up hashlib costs an exec'd helper
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

from ..policy import EffectivePolicy
from . import protocol
from .protocol import Kind

TEMP_PREFIX = ".fsgate-tmp-"
_OPEN_BASE = os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


class OpError(Exception):
    """A failure the caller is told about, with a contract reason."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Request:
    op: str
    path: str
    policy: EffectivePolicy
    args: dict[str, Any]

    @classmethod
    def from_json(cls, obj: Any) -> Request:
        try:
            policy = EffectivePolicy(
                readable=tuple(obj["readable"]),
                writable=tuple(obj["writable"]),
                denied=tuple(obj["denied"]),
                protected=tuple(obj.get("protected", ())),
            )
            return cls(op=str(obj["op"]), path=str(obj["path"]), policy=policy,
                       args=dict(obj.get("args", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise protocol.ProtocolError(f"bad request: {exc!r}") from exc

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "path": self.path, "readable": list(self.policy.readable),
                "writable": list(self.policy.writable), "denied": list(self.policy.denied),
                "protected": list(self.policy.protected), "args": self.args}


# --- file facts ---------------------------------------------------------------------------

def version_of(st: os.stat_result) -> str:
    """Changes whenever content or metadata changes: ctime moves on every such change."""
    key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_mode}"
    return blake2b(key.encode(), digest_size=12).hexdigest()


def file_type(mode: int) -> int:
    if stat.S_ISREG(mode):
        return 1
    if stat.S_ISDIR(mode):
        return 2
    if stat.S_ISLNK(mode):
        return 3
    return 4


def info_of(path: str, st: os.stat_result, symlink_target: str = "") -> dict[str, Any]:
    return {"path": path, "type": file_type(st.st_mode), "size": st.st_size,
            "mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns,
            "version": version_of(st), "symlink_target": symlink_target}


# --- resolution ---------------------------------------------------------------------------

def fd_path(fd: int) -> str:
    """Where an open fd really is, from the kernel, not from the string we opened."""
    return os.readlink(f"/proc/self/fd/{fd}")


def _resolved(path: str) -> str:
    """Where path leads, as far as it resolves; "" (visible nowhere) if that cannot be told,
    for instance while an attacker swaps a component under us."""
    try:
        return os.path.realpath(path)
    except (OSError, RuntimeError):
        return ""


def classify(exc: OSError, path: str, visible: Callable[[str], bool]) -> OpError:
    """Map an errno to a reason without revealing anything outside the policy."""
    code = exc.errno
    if code in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
        # bwrap hides what lies outside its mounts as ENOENT; Landlock lets a lookup fail
        # with ENOENT before it can refuse. Either way, where the path leads decides.
        target = _resolved(path)
        if not target or not visible(target):
            return OpError(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")
        if code == errno.ENOENT:
            return OpError(Reason.NOT_FOUND, f"{path}: no such file or directory")
        if code == errno.ENOTDIR:
            return OpError(Reason.NOT_A_DIRECTORY, f"{path}: a path component is not a directory")
        return OpError(Reason.SYMLINK_LOOP, f"{path}: too many levels of symbolic links")
    table = {
        errno.EACCES: (Reason.SANDBOX_DENIED, "access denied by the sandbox"),
        errno.EPERM: (Reason.SANDBOX_DENIED, "operation not permitted by the sandbox"),
        errno.EROFS: (Reason.SANDBOX_DENIED, "read-only file system"),
        errno.EISDIR: (Reason.IS_A_DIRECTORY, "is a directory"),
        errno.EEXIST: (Reason.ALREADY_EXISTS, "already exists"),
        errno.ENOSPC: (Reason.NO_SPACE, "no space left on device"),
        errno.EDQUOT: (Reason.NO_SPACE, "disk quota exceeded"),
        errno.EFBIG: (Reason.TOO_LARGE, "file too large"),
        errno.ENAMETOOLONG: (Reason.INVALID_PATH, "name too long"),
        errno.ENXIO: (Reason.NOT_REGULAR_FILE, "not a regular file"),
    }
    reason, text = table.get(code or 0, (Reason.HELPER_FAILED, os.strerror(code or 0)))
    return OpError(reason, f"{path}: {text}")


def open_checked(path: str, visible: Callable[[str], bool], *, follow: bool) -> int:
    """An O_PATH fd for path whose real location is visible under the policy."""
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise classify(exc, path, visible) from exc
    if not visible(fd_path(fd)):
        os.close(fd)
        raise OpError(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")
    return fd


def reopen(fd: int, flags: int, path: str, visible: Callable[[str], bool]) -> int:
    """Open the very inode behind an O_PATH fd; the kernel sandbox judges this open."""
    try:
        return os.open(f"/proc/self/fd/{fd}", flags | _OPEN_BASE)
    except OSError as exc:
        raise classify(exc, path, visible) from exc


@contextmanager
def closing_fd(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


# --- operations ---------------------------------------------------------------------------

def op_stat(sock: socket.socket, req: Request) -> None:
    follow = bool(req.args.get("follow_symlinks", False))
    with closing_fd(open_checked(req.path, req.policy.can_read, follow=follow)) as fd:
        st = os.fstat(fd)
        target = os.readlink("", dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
        protocol.send_json(sock, Kind.RESULT, {"info": info_of(req.path, st, target)})


def op_read(sock: socket.socket, req: Request) -> None:
    offset = int(req.args.get("offset", 0))
    length = int(req.args.get("length", 0))
    chunk = int(req.args["chunk_size"])
    max_bytes = int(req.args["max_bytes"])
    with closing_fd(open_checked(req.path, req.policy.can_read, follow=True)) as pfd:
        st = os.fstat(pfd)
        if stat.S_ISDIR(st.st_mode):
            raise OpError(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise OpError(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
        available = max(st.st_size - offset, 0)
        todo = available if length == 0 else min(length, available)
        if todo > max_bytes:
            raise OpError(Reason.TOO_LARGE,
                          f"{req.path}: {todo} bytes to read exceed the limit of {max_bytes}")
        with closing_fd(reopen(pfd, os.O_RDONLY, req.path, req.policy.can_read)) as fd:
            protocol.send_json(sock, Kind.RESULT, {"info": info_of(req.path, st)})
            _send_range(sock, fd, offset, todo, chunk)
    protocol.send(sock, Kind.END)


SPLICE_MIN_BYTES = 256 << 10  # below this, one pread and one send cost less than a pipe


def _send_range(sock: socket.socket, fd: int, offset: int, todo: int, chunk: int) -> None:
    # Bounded by the size seen at open: a file that grows during the read cannot stretch it.
    if todo >= SPLICE_MIN_BYTES and _splice_range(sock, fd, offset, todo, chunk):
        return
    while todo > 0:
        data = os.pread(fd, min(chunk, todo), offset)
        if not data:
            break  # the file shrank under us: send what exists
        protocol.send(sock, Kind.DATA, data)
        offset += len(data)
        todo -= len(data)


def _pipe_of(size: int) -> tuple[int, int] | None:
    """A pipe that holds ``size`` bytes, or None if the kernel will not make one that big."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        if fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size) >= size:
            return r, w
    except OSError:
        pass  # above fs.pipe-max-size (1 MiB by default) for an unprivileged helper
    os.close(r)
    os.close(w)
    return None


def _splice_range(sock: socket.socket, fd: int, offset: int, todo: int, chunk: int) -> bool:
    """Send the range as DATA frames without copying it through Python: file -> pipe ->
    socket with splice(2). False (nothing sent) if no pipe can hold a whole chunk."""
    pipe = _pipe_of(chunk)
    if pipe is None:
        return False
    r, w = pipe
    out = sock.fileno()
    sent = False
    try:
        while todo > 0:
            # Fill the pipe first: the frame header must carry the length actually read,
            # which is shorter than asked if the file shrank under us.
            want, got = min(chunk, todo), 0
            while got < want:
                try:
                    n = os.splice(fd, w, want - got, offset_src=offset + got)
                except OSError as exc:
                    if exc.errno in (errno.EINVAL, errno.ENOSYS) and not sent:
                        return False  # a file system without splice: the caller preads
                    raise
                if n == 0:
                    break  # end of file
                got += n
            if got == 0:
                break
            sock.sendall(protocol.HEADER.pack(Kind.DATA, got))
            sent = True
            left = got
            while left > 0:
                left -= os.splice(r, out, left)
            offset += got
            todo -= got
    finally:
        os.close(r)
        os.close(w)
    return True


def op_list(sock: socket.socket, req: Request) -> None:
    depth = int(req.args.get("depth", 1))
    page_size = int(req.args["page_size"])
    max_entries = int(req.args["max_entries"])
    after = req.args.get("after")
    after_b = os.fsencode(after) if after is not None else None
    with closing_fd(open_checked(req.path, req.policy.can_read, follow=True)) as pfd:
        if not stat.S_ISDIR(os.fstat(pfd).st_mode):
            raise OpError(Reason.NOT_A_DIRECTORY, f"{req.path}: not a directory")
        real = fd_path(pfd)
        with closing_fd(reopen(pfd, os.O_RDONLY | os.O_DIRECTORY, req.path,
                               req.policy.can_read)) as dfd:
            names = _walk(dfd, os.fsencode(real), depth, req.policy, max_entries, req.path)
            wanted = (n for n in names if after_b is None or n > after_b)
            page = heapq.nsmallest(page_size + 1, wanted)
            more = len(page) > page_size
            entries = []
            for rel in page[:page_size]:
                try:
                    st = os.stat(rel, dir_fd=dfd, follow_symlinks=False)
                    target = (os.fsdecode(os.readlink(rel, dir_fd=dfd))
                              if stat.S_ISLNK(st.st_mode) else "")
                except FileNotFoundError:
                    continue  # removed since the scan
                full = req.path.rstrip("/") + "/" + os.fsdecode(rel)
                entries.append({"name": os.fsdecode(rel), "info": info_of(full, st, target)})
    last = os.fsdecode(page[page_size - 1]) if more else None
    protocol.send_json(sock, Kind.RESULT, {"entries": entries, "last": last})


def _walk(dfd: int, real: bytes, depth: int, policy: EffectivePolicy, budget: int,
          path: str) -> list[bytes]:
    """Relative paths (bytes) of every visible entry up to depth; bounded by budget."""
    out: list[bytes] = []
    # The listed directory itself was checked readable, and readable roots are whole
    # subtrees: only denied paths below it can hide an entry. Check just those, per entry.
    base = os.fsdecode(real).rstrip("/")
    hidden = [d for d in policy.denied if d.casefold().startswith(base.casefold() + "/")]

    def visible(rel: bytes) -> bool:
        return not hidden or policy.can_read(base + "/" + os.fsdecode(rel))

    def visit(fd: int, prefix: bytes, level: int) -> None:
        with os.scandir(fd) as it:
            for entry in it:
                rel = prefix + os.fsencode(entry.name)
                if not visible(rel):
                    continue  # denied paths do not show up, not even their names
                out.append(rel)
                if len(out) > budget:
                    raise OpError(Reason.TOO_LARGE,
                                  f"{path}: more than {budget} entries to list")
                if level < depth and entry.is_dir(follow_symlinks=False):
                    try:
                        child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY
                                        | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
                    except OSError:
                        continue  # vanished, swapped for a link, or refused: skip its inside
                    with closing_fd(child):
                        visit(child, rel + b"/", level + 1)

    visit(dfd, b"", 1)
    return out


# --- write --------------------------------------------------------------------------------

def require_writable(req: Request, real: str) -> None:
    """The real target of a write must be writable; protected paths say so by name."""
    if req.policy.can_write(real):
        return
    if req.policy.is_protected(real):
        raise OpError(Reason.PROTECTED_PATH,
                      f"{req.path}: leads to a protected path: readable, never writable")
    raise OpError(Reason.SANDBOX_DENIED, f"{req.path}: access denied by the sandbox")


def op_write(sock: socket.socket, req: Request) -> None:
    args = req.args
    create_new = bool(args.get("create_new", False))
    if_version = str(args.get("if_version", ""))
    max_bytes = int(args["max_bytes"])
    file_mode = int(args.get("file_mode", 0))
    parent, name = os.path.split(req.path)
    if not name:
        raise OpError(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
    dfd = _open_parent(parent, req, bool(args.get("create_parents", False)))
    try:
        dfd, name = _follow_leaf_symlink(dfd, name, req)
        existing = _lstat_or_none(name, dfd)
        if existing is not None:
            if create_new:
                raise OpError(Reason.ALREADY_EXISTS, f"{req.path}: already exists")
            if stat.S_ISDIR(existing.st_mode):
                raise OpError(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
            if not stat.S_ISREG(existing.st_mode):
                raise OpError(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
        _check_version(existing, if_version, req.path)
        mode = file_mode or (stat.S_IMODE(existing.st_mode) if existing else 0o644)
        tmp = _TempFile(dfd, req.path, req.policy.can_read)
        try:
            protocol.send(sock, Kind.READY)
            written = _receive_into(sock, tmp.fd, max_bytes, req.path)
            os.fchmod(tmp.fd, mode)
            os.fsync(tmp.fd)
            # Prepared: the content is durable but has no name yet. The server says COMMIT
            # only after checking, once more and as late as it can, that the call is alive.
            protocol.send(sock, Kind.READY)
            _await_commit(sock)
            info = tmp.commit(name, create_new=create_new, if_version=if_version,
                              request_path=req.path)
        finally:
            tmp.close()
    finally:
        os.close(dfd)
    protocol.send_json(sock, Kind.RESULT, {"info": info, "bytes_written": written})


def _open_parent(parent: str, req: Request, create: bool) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    missing: list[str] = []
    cur = parent
    # Bounded: each step drops one component of a path of at most 4096 bytes.
    while True:
        try:
            fd = os.open(cur, flags)
            break
        except OSError as exc:
            if exc.errno != errno.ENOENT or not create or cur == "/":
                raise classify(exc, cur, req.policy.can_read) from exc
            cur, leaf = os.path.split(cur)
            missing.append(leaf)
    for leaf in reversed(missing):
        where = fd_path(fd).rstrip("/") + "/" + leaf
        try:
            require_writable(req, where)
        except OpError:
            os.close(fd)
            raise
        try:
            os.mkdir(leaf, 0o755, dir_fd=fd)
        except FileExistsError:
            pass  # a concurrent writer made it
        except OSError as exc:
            os.close(fd)
            raise classify(exc, req.path, req.policy.can_read) from exc
        try:
            child = os.open(leaf, flags | os.O_NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            raise classify(exc, req.path, req.policy.can_read) from exc
        finally:
            os.close(fd)
        fd = child
    if not req.policy.can_read(fd_path(fd)):
        os.close(fd)
        raise OpError(Reason.SANDBOX_DENIED, f"{req.path}: access denied by the sandbox")
    return fd


def _follow_leaf_symlink(dfd: int, name: str, req: Request) -> tuple[int, str]:
    """A symlink leaf is followed: the write lands where it points, if that is writable."""
    target_path = fd_path(dfd).rstrip("/") + "/" + name
    st = _lstat_or_none(name, dfd)
    if st is not None and stat.S_ISLNK(st.st_mode):
        target_path = os.path.realpath(target_path)
        require_writable(req, target_path)
        parent, name = os.path.split(target_path)
        new = open_checked(parent, req.policy.can_write, follow=True)
        try:
            new_dfd = reopen(new, os.O_RDONLY | os.O_DIRECTORY, req.path, req.policy.can_read)
        finally:
            os.close(new)
        os.close(dfd)
        return new_dfd, name
    require_writable(req, target_path)
    return dfd, name


def _lstat_or_none(name: str, dfd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _check_version(st: os.stat_result | None, if_version: str, path: str) -> None:
    if if_version and (st is None or version_of(st) != if_version):
        raise OpError(Reason.VERSION_MISMATCH, f"{path}: version does not match if_version")


def _receive_into(sock: socket.socket, fd: int, max_bytes: int, path: str) -> int:
    written = 0
    pipe: tuple[int, int] | None = None
    try:
        while True:
            try:
                kind, length = protocol.recv_header(sock)
            except protocol.PeerClosed:
                raise _Abandoned from None  # the server gave up on this write: leave no trace
            if kind is Kind.END:
                return written
            if kind is not Kind.DATA:
                raise protocol.ProtocolError(f"unexpected {kind.name} during a write")
            written += length
            if written > max_bytes:
                raise OpError(Reason.TOO_LARGE, f"{path}: more than {max_bytes} bytes")
            try:
                if length >= SPLICE_MIN_BYTES:
                    if pipe is None:
                        pipe = _any_pipe(length)
                    _splice_in(sock, pipe, fd, length)
                else:
                    view = memoryview(protocol.recv_payload(sock, length))
                    while view:
                        view = view[os.write(fd, view):]
            except OSError as exc:
                raise classify(exc, path, lambda _: True) from exc
    finally:
        if pipe is not None:
            os.close(pipe[0])
            os.close(pipe[1])


def _any_pipe(size: int) -> tuple[int, int]:
    r, w = os.pipe2(os.O_CLOEXEC)
    with contextlib.suppress(OSError):  # a smaller pipe only means more splices
        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, min(size, 1 << 20))
    return r, w


def _splice_in(sock: socket.socket, pipe: tuple[int, int], fd: int, length: int) -> None:
    """One DATA payload from the channel into the file, socket -> pipe -> file, never
    through Python memory."""
    r, w = pipe
    left = length
    while left > 0:
        n = os.splice(sock.fileno(), w, left)
        if n == 0:
            raise protocol.ProtocolError(f"channel closed after {length - left} of {length} "
                                         "bytes")
        left -= n
        while n > 0:
            n -= os.splice(r, fd, n)


def _await_commit(sock: socket.socket) -> None:
    try:
        kind, _ = protocol.recv(sock)
    except protocol.PeerClosed:
        raise _Abandoned from None
    if kind is not Kind.COMMIT:
        raise protocol.ProtocolError(f"expected COMMIT, got {kind.name}")


class _Abandoned(Exception):
    """The server closed the channel before END: the write is dropped silently."""


class _TempFile:
    """Content lands in an unnamed O_TMPFILE inode and gets a name only at commit."""

    def __init__(self, dfd: int, path: str, visible: Callable[[str], bool]) -> None:
        self.dfd = dfd
        self.named: str | None = None
        try:
            self.fd = os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dfd)
            self.anonymous = True
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise classify(exc, path, visible) from exc
            # A file system without O_TMPFILE: a named temp, removed on every failure path.
            self.named = TEMP_PREFIX + os.urandom(8).hex()
            try:
                self.fd = os.open(self.named, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                  | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600, dir_fd=dfd)
            except OSError as exc2:
                raise classify(exc2, path, visible) from exc2
            self.anonymous = False

    def _link_as(self, name: str) -> None:
        os.link(f"/proc/self/fd/{self.fd}", name, dst_dir_fd=self.dfd, follow_symlinks=True)

    def commit(self, name: str, *, create_new: bool, if_version: str,
               request_path: str) -> dict[str, Any]:
        fcntl.flock(self.dfd, fcntl.LOCK_EX)  # serializes version checks with renames
        try:
            if if_version:
                _check_version(_lstat_or_none(name, self.dfd), if_version, request_path)
            try:
                if create_new:
                    if self.anonymous:
                        self._link_as(name)  # linkat fails EEXIST: never clobbers
                    else:
                        assert self.named is not None
                        os.link(self.named, name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
                else:
                    if self.anonymous:
                        self.named = TEMP_PREFIX + os.urandom(8).hex()
                        self._link_as(self.named)
                    assert self.named is not None
                    os.rename(self.named, name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
                    self.named = None
            except OSError as exc:
                raise classify(exc, request_path, lambda _: True) from exc
            os.fsync(self.dfd)
            return info_of(request_path, os.fstat(self.fd))
        finally:
            fcntl.flock(self.dfd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.named is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.named, dir_fd=self.dfd)
            self.named = None
        os.close(self.fd)


# --- sweep ------------------------------------------------------------------------------

_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}")


def op_sweep(sock: socket.socket, req: Request) -> None:
    """Remove temporaries a killed helper left between link and rename (a tiny window; named
    temporaries exist only there, or on file systems without O_TMPFILE). Bounded walk."""
    budget = int(req.args["max_entries"])
    max_depth = int(req.args.get("max_depth", 64))
    removed = 0
    scanned = 0
    for root in req.policy.writable:
        try:
            top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        stack = [(top, 0)]
        while stack:
            fd, depth = stack.pop()
            with closing_fd(fd), os.scandir(fd) as it:
                for entry in it:
                    scanned += 1
                    if scanned > budget:
                        for other, _ in stack:
                            os.close(other)
                        stack.clear()
                        break
                    if entry.is_dir(follow_symlinks=False):
                        if depth < max_depth:
                            with contextlib.suppress(OSError):
                                stack.append((os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY
                                                      | os.O_NOFOLLOW | os.O_CLOEXEC,
                                                      dir_fd=fd), depth + 1))
                    elif (_TEMP_NAME.fullmatch(entry.name)
                          and entry.is_file(follow_symlinks=False)):
                        with contextlib.suppress(OSError):
                            os.unlink(entry.name, dir_fd=fd)
                            removed += 1
    protocol.send_json(sock, Kind.RESULT, {"removed": removed, "scanned": scanned})


OPS: dict[str, Callable[[socket.socket, Request], None]] = {
    "sweep": op_sweep,
    "stat": op_stat,
    "read": op_read,
    "list": op_list,
    "write": op_write,
}


def run(sock: socket.socket, req: Request) -> None:
    """Carry out one request, answering with RESULT or ERROR on the channel."""
    try:
        OPS[req.op](sock, req)
    except OpError as exc:
        protocol.send_json(sock, Kind.ERROR, {"reason": exc.reason.value, "message": exc.message})
    except _Abandoned:
        pass
