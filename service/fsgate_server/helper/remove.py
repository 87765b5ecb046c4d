"""Remove: a file, a symlink (the link itself, never what it points to) or a directory,
recursively with ``recursive`` (tree.py: the whole tree is checked before anything goes).

The path's directory is resolved by descriptor (walk.py; links before the last component
are followed and judged where they land), the last component never: it is removed as the
name it is. The entry and its directory must be writable (mutable.py); a served root, and
whatever holds one, is PROTECTED_PATH. ``if_version`` is compared, and the entry removed,
under the directory's lock, as WriteFile's commit takes it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import RemoveArgs, RemoveDone
from fsgate_server.helper.mutable import Judge
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import version_of
from fsgate_server.helper.resolve import classify, closing_fd, kernel_path, reopen
from fsgate_server.helper.tree import DIR_FLAGS, Tree
from fsgate_server.helper.walk import join, resolve_parent

__all__ = ["op_remove", "remove"]


def op_remove(sock: socket.socket, req: RemoveArgs) -> None:
    codec.send(sock, Kind.RESULT, RemoveDone(removed=remove(req)))


def remove(req: RemoveArgs) -> int:
    """The number of entries removed, the top one included."""
    judge = Judge(req.policy, req.path, req.served)
    aliases: list[str] = []
    try:
        found = resolve_parent(req.path, req.policy.can_read, req.policy.readable,
                               aliases=aliases, follow_leaf=False)
    except Failure as exc:
        if req.missing_ok and exc.reason is Reason.NOT_FOUND:
            return 0
        raise
    with closing_fd(found.fd):
        if found.leaf is None:  # "/": a served root or above every one
            raise Failure(Reason.PROTECTED_PATH, f"{req.path}: is a served root or lies "
                                                 "above one: never removed")
        where = join(found.real, found.leaf)
        judge.require(where, aliases)
        dfd = reopen(found.fd, os.O_RDONLY | os.O_DIRECTORY, req.path)
    with closing_fd(dfd):
        if req.if_version:
            fcntl.flock(dfd, fcntl.LOCK_EX)  # released when dfd closes
        return _remove(req, judge, dfd, found.leaf, where, aliases)


def _remove(req: RemoveArgs, judge: Judge, dfd: int, name: str, where: str,
            aliases: list[str]) -> int:
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        if req.missing_ok:
            return 0
        raise Failure(Reason.NOT_FOUND, f"{req.path}: no such file or directory") from None
    except OSError as exc:
        raise classify(exc, req.path, True) from exc
    if req.if_version and version_of(st) != req.if_version:
        raise Failure(Reason.VERSION_MISMATCH, f"{req.path}: version does not match "
                                               "if_version")
    if not stat.S_ISDIR(st.st_mode):
        _unlink(name, dfd, req.path)
        return 1
    if not req.recursive:
        try:
            _rmdir(name, dfd, req.path)
        except Failure as exc:
            if exc.reason is Reason.NOT_EMPTY:
                _protected_below(req, judge, dfd, name, where, aliases)
            raise
        return 1
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link: the name goes
            _unlink(name, dfd, req.path)
            return 1
        raise classify(exc, req.path, True) from exc
    with closing_fd(fd):
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) and req.if_version:
            raise Failure(Reason.VERSION_MISMATCH, f"{req.path}: replaced; version does not "
                                                   "match if_version")
        real = kernel_path(fd)
        if real is not None and real != where:
            raise Failure(Reason.NOT_FOUND, f"{req.path}: moved during the removal; nothing "
                                            "removed")
        tree = Tree(judge, where, aliases, req.max_entries)
        tree.check(fd)
        tree.clear(fd)
    if tree.kept is not None:
        raise Failure(tree.kept.reason, f"{tree.kept.message} (it appeared during the "
                                        f"removal: kept, with the directories above it; "
                                        f"{tree.removed} entries removed)")
    _rmdir(name, dfd, req.path, removed=tree.removed)
    return tree.removed + 1


def _protected_below(req: RemoveArgs, judge: Judge, dfd: int, name: str, where: str,
                     aliases: list[str]) -> None:
    """A directory that is not empty fails NOT_EMPTY, unless a protected path lies below
    it: then PROTECTED_PATH says so (SPEC: at or above a protected path), as ``recursive``
    would. Looked for only on this failure path, within the entry limit."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except OSError:
        return
    with closing_fd(fd):
        try:
            Tree(judge, where, aliases, req.max_entries).check(fd)
        except Failure as exc:
            if exc.reason is Reason.PROTECTED_PATH:
                raise exc from None
            # anything else (a denied entry, the limit): it stays a plain NOT_EMPTY


def _unlink(name: str, dfd: int, path: str) -> None:
    try:
        os.unlink(name, dir_fd=dfd)  # unlinkat(dfd, name, 0): a link goes as a link
    except OSError as exc:
        raise classify(exc, path, True) from exc


def _rmdir(name: str, dfd: int, path: str, removed: int = 0) -> None:
    try:
        os.rmdir(name, dir_fd=dfd)  # unlinkat(dfd, name, AT_REMOVEDIR): never follows
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            done = f"; {removed} entries below it removed" if removed else ""
            raise Failure(Reason.NOT_EMPTY, f"{path}: directory not empty{done}") from exc
        raise classify(exc, path, True) from exc
