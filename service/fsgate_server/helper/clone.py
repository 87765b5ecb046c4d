"""A copy of a file, a symlink or a tree, made beside its destination and renamed into
place only when it is whole (Copy, and a Move across file systems).

- A file's content goes into an unnamed ``O_TMPFILE`` inode, in the kernel: a reflink
  (``FICLONE``) where the file system shares extents, else ``copy_file_range``, else
  ``sendfile``; it never passes through the helper's memory. Without ``overwrite`` it is
  named by ``linkat``, which fails on an existing name; with it, it gets a marked
  temporary name (temps.py) for the instant before ``rename``.
- A symlink is made from its target's text (never followed, never read through):
  ``symlinkat`` at the name, or at a temporary name renamed over it with ``overwrite``.
- A tree is built in a temporary directory (``.fsgate-tmp-<hex>``, marked like a
  temporary file, so the start-up sweep removes what a killed helper left), every entry
  inside it by one name relative to its parent's descriptor, then renamed into place with
  ``RENAME_NOREPLACE`` (or over an empty directory with ``overwrite``).

Permission bits come from the source (never setuid, setgid or sticky, as WriteFile);
a move also keeps the times. Entries and content bytes are counted against the request's
budget; FIFOs, sockets and devices fail NOT_REGULAR_FILE. On any failure the temporary
is removed: nothing appears at the destination.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable
from typing import Any

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.renaming import rename_failure, renameat2
from fsgate_server.helper.resolve import classify, closing_fd, kernel_path, reopen
from fsgate_server.helper.temps import mark, new_temp_name, unmark
from fsgate_server.helper.trees import DIR_FLAGS, Budget, max_depth, remove_tree, too_deep
from fsgate_server.helper.walk import join

FICLONE = 0x40049409  # _IOW(0x94, 9, int)
_CHUNK = 1 << 30  # bytes per copy_file_range/sendfile call
_NO_CLONE = frozenset({errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.EPERM,
                       errno.ENOSYS, errno.EBADF})
_NO_RANGE = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})
_LOOKUP = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def copy_content(src: int, dst: int, budget: Budget) -> int:
    """Copy everything of ``src`` into the empty file ``dst``; the bytes copied, each
    counted against ``budget`` (a file that grows past it fails TOO_LARGE)."""
    try:
        fcntl.ioctl(dst, FICLONE, src)
    except OSError as exc:
        if exc.errno not in _NO_CLONE:
            raise
    else:
        size = os.fstat(dst).st_size
        budget.spend(size)
        return size
    total = 0
    ranged = True
    while True:
        want = min(_CHUNK, budget.left() + 1)  # one byte more shows a file that grew
        if ranged:
            try:
                n = os.copy_file_range(src, dst, want)
            except OSError as exc:
                if exc.errno not in _NO_RANGE or total:
                    raise
                ranged = False  # not between these two file systems: sendfile instead
                continue
        else:
            n = _sendfile(src, dst, want)
        if n == 0:
            return total
        total += n
        budget.spend(n)


def _sendfile(src: int, dst: int, want: int) -> int:
    try:
        return os.sendfile(dst, src, None, want)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS):
            raise
    data = os.read(src, min(want, 1 << 20))  # neither in-kernel copy works here
    view = memoryview(data)
    while view:
        view = view[os.write(dst, view):]
    return len(data)


Check = Callable[[str], None]


class Stage:
    """One copy of a source object, made in the directory ``dfd`` (a real descriptor).

    ``source`` and ``path`` are the caller's source and destination paths (messages name
    only those), ``readable`` judges the real location of each source entry (one that is
    not readable is not this request's to see: it is left out), ``check`` each entry's
    path relative to the destination before it is made."""

    def __init__(self, dfd: int, *, source: str, path: str, budget: Budget,
                 readable: Callable[[str], bool], check: Check, keep_times: bool) -> None:
        self.dfd = dfd
        self.source = source
        self.path = path
        self.budget = budget
        self.readable = readable
        self.check = check
        self.keep_times = keep_times
        self.fd = -1  # the copy's own descriptor: an unnamed file, or the temporary dir
        self.temp: str | None = None  # its temporary name in dfd, while it has one
        self.link_target: str | None = None  # a symlink, made at commit
        self.depth = max_depth(per_level=2)  # a source and a copy descriptor per level

    # --- building ------------------------------------------------------------------------

    def build(self, src: int, st: os.stat_result, real: str) -> None:
        """Copy the object behind the ``O_PATH`` descriptor ``src`` (lstat ``st``, really
        at ``real``); a directory with everything below it."""
        self.budget.entry()
        if stat.S_ISLNK(st.st_mode):
            self.link_target = os.readlink("", dir_fd=src)
        elif stat.S_ISREG(st.st_mode):
            with closing_fd(self._reopen(src, os.O_RDONLY)) as rfd:
                self.fd = self._unnamed()
                self._fill_file(rfd, self.fd, st)
        elif stat.S_ISDIR(st.st_mode):
            with closing_fd(self._reopen(src, os.O_RDONLY | os.O_DIRECTORY)) as rfd:
                self.temp = new_temp_name()
                self._dst(os.mkdir, self.temp, 0o700, dir_fd=self.dfd)
                self.fd = self._dst(os.open, self.temp, DIR_FLAGS, dir_fd=self.dfd)
                mark(self.fd, self.temp)  # before anything is inside: see temps.py
                self._fill_dir(rfd, real, self.fd, "", 1)
                self._finish(self.fd, st)
        else:
            raise self._special("")

    def _reopen(self, src: int, flags: int) -> int:
        return reopen(src, flags, self.source)  # the same inode; the kernel judges the open

    def _unnamed(self) -> int:
        try:
            return os.open(".", os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600,
                           dir_fd=self.dfd)
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise self._failure(exc) from exc
        # No O_TMPFILE here: a marked temporary name for the whole copy (temps.py).
        self.temp = new_temp_name()
        fd: int = self._dst(os.open, self.temp, _NEW_FILE, 0o600, dir_fd=self.dfd)
        mark(fd, self.temp)
        return fd

    def _fill_file(self, rfd: int, wfd: int, st: os.stat_result) -> None:
        if st.st_size > self.budget.left():
            self.budget.spend(st.st_size)  # raises TOO_LARGE before a byte is copied
        try:
            copy_content(rfd, wfd, self.budget)
        except OSError as exc:  # ENOSPC, EFBIG: the destination's
            raise self._failure(exc) from exc
        self._finish(wfd, st)

    def _finish(self, fd: int, st: os.stat_result) -> None:
        os.fchmod(fd, stat.S_IMODE(st.st_mode) & 0o777)
        if self.keep_times:
            os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))

    def _fill_dir(self, src_dir: int, real: str, dst_dir: int, rel: str, level: int) -> None:
        with os.scandir(src_dir) as it:
            names = [entry.name for entry in it]
        for name in names:
            where = join(real, name)
            if not self.readable(where):
                continue  # a denied path: not this request's to see, nor to copy
            try:
                src = os.open(name, _LOOKUP, dir_fd=src_dir)
            except FileNotFoundError:
                continue  # gone since the scan
            except OSError as exc:
                raise classify(exc, self.source, True) from exc
            with closing_fd(src):
                self._entry(src, os.fstat(src), name, where, dst_dir, rel + name, level)

    def _entry(self, src: int, st: os.stat_result, name: str, where: str, dst_dir: int,
               rel: str, level: int) -> None:
        self.budget.entry()
        self.check(rel)
        if stat.S_ISLNK(st.st_mode):
            self._dst(os.symlink, os.readlink("", dir_fd=src), name, dir_fd=dst_dir)
        elif stat.S_ISREG(st.st_mode):
            with closing_fd(self._reopen(src, os.O_RDONLY)) as rfd, \
                    closing_fd(self._dst(os.open, name, _NEW_FILE, 0o600, dir_fd=dst_dir)) as wfd:
                self._fill_file(rfd, wfd, st)
        elif stat.S_ISDIR(st.st_mode):
            if level >= self.depth:
                raise too_deep(self.source, self.depth)
            with closing_fd(self._reopen(src, os.O_RDONLY | os.O_DIRECTORY)) as rfd:
                if kernel_path(rfd) not in (None, where):
                    return  # moved away under us: what is inside is not at rel any more
                self._dst(os.mkdir, name, 0o700, dir_fd=dst_dir)
                with closing_fd(self._dst(os.open, name, DIR_FLAGS, dir_fd=dst_dir)) as cfd:
                    self._fill_dir(rfd, where, cfd, rel + "/", level + 1)
                    self._finish(cfd, st)
        else:
            raise self._special(rel)

    def _special(self, rel: str) -> Failure:
        what = f"{self.source}/{rel}" if rel else self.source
        return Failure(Reason.NOT_REGULAR_FILE,
                       f"{what}: not a regular file, directory or symlink; never copied")

    def _dst(self, call: Callable[..., Any], *args: object, **kwargs: object) -> Any:
        """A call that makes something in the copy; its errors name the destination."""
        try:
            return call(*args, **kwargs)
        except OSError as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: OSError) -> Failure:
        failure = classify(exc, self.path, True)
        failure.metadata["path"] = self.path  # the destination is at fault (rpc_transfer)
        return failure

    # --- into place ----------------------------------------------------------------------

    def commit(self, name: str, *, replace: bool) -> os.stat_result:
        """Give the copy its name ``name`` in dfd: without ``replace`` the kernel refuses
        an existing one. The lstat of the result."""
        try:
            if self.link_target is not None and not replace:
                os.symlink(self.link_target, name, dir_fd=self.dfd)
            elif self.fd >= 0 and self.temp is None and not replace:
                os.link(f"/proc/self/fd/{self.fd}", name, dst_dir_fd=self.dfd,
                        follow_symlinks=True)  # linkat fails EEXIST: never clobbers
            else:
                self._name_temporary()
                assert self.temp is not None
                self._still_ours()
                renameat2(self.dfd, self.temp, self.dfd, name, replace=replace)
                self.temp = None
            return os.stat(name, dir_fd=self.dfd, follow_symlinks=False)
        except OSError as exc:
            raise rename_failure(exc, self.source, self.path) from exc
        finally:
            if self.temp is None and self.fd >= 0:
                unmark(self.fd)  # the copy is the caller's now

    def _name_temporary(self) -> None:
        if self.temp is not None:
            return
        self.temp = new_temp_name()
        if self.link_target is not None:  # a link cannot be marked: named for an instant
            os.symlink(self.link_target, self.temp, dir_fd=self.dfd)
            return
        mark(self.fd, self.temp)  # before it has the name: see temps.py
        os.link(f"/proc/self/fd/{self.fd}", self.temp, dst_dir_fd=self.dfd,
                follow_symlinks=True)

    def _still_ours(self) -> None:
        """The temporary name still holds our copy (another request may see the name)."""
        if self.fd < 0 or self.temp is None:
            return
        now, ours = os.stat(self.temp, dir_fd=self.dfd, follow_symlinks=False), os.fstat(self.fd)
        if (now.st_dev, now.st_ino) != (ours.st_dev, ours.st_ino):
            self.temp = None  # not ours to remove either
            raise Failure(Reason.ALREADY_EXISTS,
                          f"{self.path}: the copy's temporary was replaced under it")

    def close(self) -> None:
        """Remove whatever of the copy has no final name yet."""
        if self.temp is not None:
            with contextlib.suppress(OSError, Failure):
                if self.fd >= 0 and stat.S_ISDIR(os.fstat(self.fd).st_mode):
                    remove_tree(self.dfd, self.temp, ours=True)
                else:
                    os.unlink(self.temp, dir_fd=self.dfd)
            self.temp = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

