"""WriteFile: content lands in an unnamed temporary, made durable, and is named only on
COMMIT, in the directory the path resolves to (walk.py; a leaf symlink is followed).

The commit is shared: EditFile (editing.py) finds its target with ``write_target`` and
replaces the file through the same ``TempFile`` and ``prepare_and_commit``."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec, protocol
from fsgate_server.helper.messages import FileFacts, Request, WriteArgs, WriteDone
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.reading import SPLICE_MIN_BYTES
from fsgate_server.helper.request import info_of, version_of
from fsgate_server.helper.resolve import classify, closing_fd, reopen
from fsgate_server.helper.temps import mark, new_temp_name, unmark
from fsgate_server.helper.walk import join, resolve_parent

# --- write --------------------------------------------------------------------------------

def require_writable(req: Request, real: str) -> None:
    """The real target of a write must be writable; protected paths say so by name."""
    if req.policy.can_write(real):
        return
    if req.policy.is_protected(real):
        raise Failure(Reason.PROTECTED_PATH,
                      f"{req.path}: leads to a protected path: readable, never writable")
    raise Failure(Reason.SANDBOX_DENIED, f"{req.path}: access denied by the sandbox")


def op_write(sock: socket.socket, req: WriteArgs) -> None:
    create_new, if_version = req.create_new, req.if_version
    dfd, name, existing = write_target(req, req.create_parents)
    try:
        if existing is not None:
            if create_new:
                raise Failure(Reason.ALREADY_EXISTS, f"{req.path}: already exists")
            if stat.S_ISDIR(existing.st_mode):
                raise Failure(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
            if not stat.S_ISREG(existing.st_mode):
                raise Failure(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
        check_version(existing, if_version, req.path)
        # Never setuid, setgid or sticky: a replaced 06755 file of a co-tenant must not
        # come back as a set-id program of the server's user with the caller's content.
        mode = req.file_mode or (stat.S_IMODE(existing.st_mode) & 0o777 if existing else 0o644)
        tmp = TempFile(dfd, req.path)
        try:
            protocol.send(sock, Kind.READY)
            written = _receive_into(sock, tmp.fd, req.max_bytes, req.path)
            info = prepare_and_commit(sock, tmp, name, mode, create_new=create_new,
                                      if_version=if_version, request_path=req.path)
        finally:
            tmp.close()
    finally:
        os.close(dfd)
    codec.send(sock, Kind.RESULT, WriteDone(info=info, bytes_written=written))


def prepare_and_commit(sock: socket.socket, tmp: TempFile, name: str, mode: int, *,
                       create_new: bool, if_version: str, request_path: str) -> FileFacts:
    """The one commit of every replacement: the temporary's content, fully written, gets
    its permission bits and is made durable; READY says it is prepared; the server says
    COMMIT only after checking, once more and as late as it can, that the call is alive;
    then the temporary is named (TempFile.commit: version check and rename under the
    directory lock)."""
    os.fchmod(tmp.fd, mode & 0o777)
    os.fsync(tmp.fd)
    protocol.send(sock, Kind.READY)  # prepared: durable, but no name yet
    _await_commit(sock)
    return tmp.commit(name, create_new=create_new, if_version=if_version,
                      request_path=request_path)


def write_target(req: Request, create_parents: bool
                 ) -> tuple[int, str, os.stat_result | None]:
    """The directory the write lands in (a real, readable fd), the name in it, and what the
    name held when resolution judged it (None: nothing). A leaf symlink is followed
    (walk.py): the write replaces what it points to, if writable. That lstat is the one the
    write is decided on: a name swapped for a link since then is replaced as a name by the
    commit's rename, never followed, so looking again would only misreport the race."""

    # Every other name the walk reached the target by (walk._Walk.aliases): with
    # ``.git -> gitdir``, a link ``cfg -> .git/config`` lands in ``gitdir/config``, which
    # git reads as its config. A protected name on the way protects what it leads to.
    aliases: list[str] = []

    def not_protected_by_name() -> None:
        if any(req.policy.is_protected(alias) for alias in aliases):
            raise Failure(Reason.PROTECTED_PATH,
                          f"{req.path}: leads to a protected path: readable, never writable")

    def create(where: str) -> None:
        not_protected_by_name()
        require_writable(req, where)

    found = resolve_parent(req.path, req.policy.can_read, req.policy.readable,
                           create if create_parents else None, aliases)
    with closing_fd(found.fd):
        if found.leaf is None:
            raise Failure(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
        not_protected_by_name()
        require_writable(req, join(found.real, found.leaf))
        return (reopen(found.fd, os.O_RDONLY | os.O_DIRECTORY, req.path), found.leaf,
                found.leaf_st)


def _lstat_or_none(name: str, dfd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def check_version(st: os.stat_result | None, if_version: str, path: str) -> None:
    if if_version and (st is None or version_of(st) != if_version):
        raise Failure(Reason.VERSION_MISMATCH, f"{path}: version does not match if_version")


def _receive_into(sock: socket.socket, fd: int, max_bytes: int, path: str) -> int:
    written = 0
    pipe: tuple[int, int] | None = None
    try:
        while True:
            try:
                kind, length = protocol.recv_header(sock)
            except protocol.PeerClosed:
                raise Abandoned from None  # the server gave up on this write: leave no trace
            if kind is Kind.END:
                return written
            if kind is not Kind.DATA:
                raise protocol.ProtocolError(f"unexpected {kind.name} during a write")
            written += length
            if written > max_bytes:
                raise Failure(Reason.TOO_LARGE, f"{path}: more than {max_bytes} bytes")
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
                raise classify(exc, path, True) from exc
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
        raise Abandoned from None
    if kind is not Kind.COMMIT:
        raise protocol.ProtocolError(f"expected COMMIT, got {kind.name}")


class Abandoned(Exception):
    """The server closed the channel before END: the write is dropped silently."""


class TempFile:
    """Content lands in an unnamed O_TMPFILE inode and gets a name only at commit."""

    def __init__(self, dfd: int, path: str) -> None:
        self.dfd = dfd
        self.named: str | None = None
        try:
            self.fd = os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dfd)
            self.anonymous = True
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise classify(exc, path, True) from exc
            # A file system without O_TMPFILE: a named temp, removed on every failure path,
            # and marked as ours for the start-up sweep in case the helper is killed.
            self.named = new_temp_name()
            try:
                self.fd = os.open(self.named, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                  | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600, dir_fd=dfd)
            except OSError as exc2:
                raise classify(exc2, path, True) from exc2
            mark(self.fd, self.named)
            self.anonymous = False

    def _link_as(self, name: str) -> None:
        os.link(f"/proc/self/fd/{self.fd}", name, dst_dir_fd=self.dfd, follow_symlinks=True)

    def commit(self, name: str, *, create_new: bool, if_version: str,
               request_path: str) -> FileFacts:
        fcntl.flock(self.dfd, fcntl.LOCK_EX)  # serializes version checks with renames
        try:
            if if_version:
                check_version(_lstat_or_none(name, self.dfd), if_version, request_path)
            try:
                if create_new:
                    if self.anonymous:
                        self._link_as(name)  # linkat fails EEXIST: never clobbers
                    else:
                        assert self.named is not None
                        os.link(self.named, name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
                else:
                    if self.anonymous:
                        self.named = new_temp_name()
                        mark(self.fd, self.named)  # before it has a name: see temps.py
                        self._link_as(self.named)
                    assert self.named is not None
                    os.rename(self.named, name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
                    self.named = None
            except OSError as exc:
                raise classify(exc, request_path, True) from exc
            unmark(self.fd)  # the file is the caller's now
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
