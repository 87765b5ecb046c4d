"""The operations that read one file: Stat and ReadFile (pread or splice into the
channel; a line window is first turned into its byte range by lines.py). ListDir is
listing.py."""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec, lines, protocol
from fsgate_server.helper.messages import ReadArgs, StatArgs
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import closing_fd, reopen
from fsgate_server.helper.walk import resolve

# --- operations ---------------------------------------------------------------------------

def op_stat(sock: socket.socket, req: StatArgs) -> None:
    found = resolve(req.path, req.policy.can_read, req.policy.readable,
                    follow=req.follow_symlinks)
    with closing_fd(found.fd) as fd:
        st = found.st
        target = os.readlink("", dir_fd=fd) if stat.S_ISLNK(st.st_mode) else ""
        codec.send(sock, Kind.RESULT, info_of(req.path, st, target))


def op_read(sock: socket.socket, req: ReadArgs) -> None:
    offset, length, chunk, max_bytes = req.offset, req.length, req.chunk_size, req.max_bytes
    found = resolve(req.path, req.policy.can_read, req.policy.readable, follow=True)
    with closing_fd(found.fd) as pfd:
        st = found.st
        if stat.S_ISDIR(st.st_mode):
            raise Failure(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise Failure(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
        available = max(st.st_size - offset, 0)
        todo = available if length == 0 else min(length, available)
        with closing_fd(reopen(pfd, os.O_RDONLY, req.path)) as fd:
            if req.line_offset or req.line_limit or req.tail_lines:
                offset, end = lines.window(fd, st.st_size, req.line_offset, req.line_limit,
                                           req.tail_lines)
                todo = end - offset
            if todo > max_bytes:
                raise Failure(Reason.TOO_LARGE,
                              f"{req.path}: {todo} bytes to read exceed the limit of {max_bytes}")
            result = protocol.frame(Kind.RESULT, codec.encode(info_of(req.path, st)))
            if todo < SPLICE_MIN_BYTES:
                # The answer, the content and END in one send: one wake-up of the server.
                sock.sendall(b"".join([result, *_small_range(fd, offset, todo, chunk),
                                       protocol.frame(Kind.END)]))
                return
            sock.sendall(result)
            _send_range(sock, fd, offset, todo, chunk)
    protocol.send(sock, Kind.END)


SPLICE_MIN_BYTES = 256 << 10  # below this, one pread and one send cost less than a pipe
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _small_range(fd: int, offset: int, todo: int, chunk: int) -> list[bytes]:
    """DATA frames of a range below SPLICE_MIN_BYTES, read with pread."""
    frames = []
    while todo > 0:  # bounded by the size seen at open, as _send_range
        data = os.pread(fd, min(chunk, todo), offset)
        if not data:
            break  # the file shrank under us: send what exists
        frames.append(protocol.frame(Kind.DATA, data))
        offset += len(data)
        todo -= len(data)
    return frames


def _send_range(sock: socket.socket, fd: int, offset: int, todo: int, chunk: int) -> None:
    # Bounded by the size seen at open: a file that grows during the read cannot stretch it.
    if _splice_range(sock, fd, offset, todo, chunk):
        return
    while todo > 0:
        data = os.pread(fd, min(chunk, todo), offset)
        if not data:
            break  # the file shrank under us: send what exists
        protocol.send(sock, Kind.DATA, data)
        offset += len(data)
        todo -= len(data)


def _pipe_of(size: int) -> tuple[int, int, int] | None:
    """A pipe that holds ``size`` bytes (read end, write end, its capacity in bytes), or
    None if the kernel will not make one that big."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        capacity = fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size)
        if capacity >= size:
            return r, w, capacity
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
    r, w, capacity = pipe
    out = sock.fileno()
    sent = False
    try:
        while todo > 0:
            # Fill the pipe first: the frame header must carry the length actually read,
            # which is shorter than asked if the file shrank under us. A pipe holds
            # capacity / PAGE page pieces, and a range that starts inside a page takes one
            # more piece than its length needs: never ask for more than fits, or the fill
            # blocks on a full pipe that nothing drains.
            want, got = min(chunk, todo, capacity - offset % _PAGE), 0
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
