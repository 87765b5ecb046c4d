"""The operations that only read: Stat, ReadFile (pread or splice into the channel) and
ListDir (a bounded walk, one sorted page)."""
from __future__ import annotations

import errno
import fcntl
import heapq
import os
import socket
import stat

from fsgate._reasons import Reason

from ..policy import EffectivePolicy
from . import protocol
from .protocol import Kind
from .request import OpError, Request, info_of
from .resolve import closing_fd, fd_path, open_checked, reopen

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


