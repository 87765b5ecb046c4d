"""Move: one ``renameat2`` between two directory descriptors, each path's last name taken
as it is (a symlink is moved or replaced as a link, never followed).

No-clobber is the kernel's ``RENAME_NOREPLACE``: of two moves racing onto one name,
exactly one gets it and the other EEXIST, nothing is checked before. ``overwrite`` is a
plain atomic rename: a file replaces a file or symlink, a directory only an empty
directory. Before the rename, both places are judged (places.py), a moved directory must
not land inside itself, and every entry of a moved tree is checked for protected paths
under its old and its new names.

Across file systems (EXDEV) the helper of a MoveArgs, which may not write file content,
answers MoveDone(None) and changes nothing; the server sends the request again as
MoveAcrossArgs, whose helper copies the source beside the destination (clone.py), renames
the copy into place (so the destination still appears atomically, with the same
no-clobber rule) and then removes the source.
"""
from __future__ import annotations

import errno
import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.clone import Stage
from fsgate_server.helper.messages import FileFacts, MoveAcrossArgs, MoveArgs, MoveDone
from fsgate_server.helper.places import (
    Place,
    open_place,
    require_changeable,
    require_no_protected_below,
    under,
)
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.renaming import rename_failure, renameat2
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import closing_fd
from fsgate_server.helper.trees import DIR_FLAGS, Budget, remove_tree
from fsgate_server.helper.walk import join

_MOVABLE = (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)


def op_move(sock: socket.socket, req: MoveArgs) -> None:
    policy = req.policy
    source = open_place(req.path, policy)
    try:
        require_changeable(source, policy, req.served_roots)
        st = source.lstat()
        if st is None:
            raise Failure(Reason.NOT_FOUND, f"{req.path}: no such file or directory")
        if stat.S_IFMT(st.st_mode) not in _MOVABLE:
            raise Failure(Reason.NOT_REGULAR_FILE,
                          f"{req.path}: not a regular file, directory or symlink")
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir and under(req.destination, req.path):  # before any parent is made
            raise _into_itself(req)
        dest = open_place(req.destination, policy, destination=True,
                          parents=req.create_parents)
        try:
            require_changeable(dest, policy, req.served_roots)
            _require_distinct(req, source, dest, st, is_dir)
            if is_dir:
                _require_tree_movable(req, source, dest)
            done = _rename(req, source, dest, st)
        finally:
            dest.close()
    finally:
        source.close()
    codec.send(sock, Kind.RESULT, done)


def _into_itself(req: MoveArgs) -> Failure:
    return Failure(Reason.INVALID_REQUEST,
                   f"{req.destination}: cannot move the directory {req.path} into itself")


def _require_distinct(req: MoveArgs, source: Place, dest: Place, st: os.stat_result,
                      is_dir: bool) -> None:
    if source.where == dest.where:
        raise Failure(Reason.INVALID_REQUEST,
                      f"{req.path} and {req.destination} are the same path")
    if is_dir and any(under(d, s) for d in dest.names() for s in source.names()):
        raise _into_itself(req)
    if req.overwrite:
        # rename(2) between two names of one inode does nothing and succeeds: say so.
        there = dest.lstat()
        if there is not None and (there.st_dev, there.st_ino) == (st.st_dev, st.st_ino):
            raise Failure(Reason.INVALID_REQUEST,
                          f"{req.path} and {req.destination} are the same file")


def _require_tree_movable(req: MoveArgs, source: Place, dest: Place) -> None:
    try:
        top = os.open(source.name, DIR_FLAGS, dir_fd=source.dfd)
    except OSError as exc:
        raise source.failure(exc) from exc
    with closing_fd(top):
        require_no_protected_below(top, (*source.names(), *dest.names()), req.policy,
                                   Budget(req.path, req.max_entries), req.path, {})


def _rename(req: MoveArgs, source: Place, dest: Place, st: os.stat_result) -> MoveDone:
    try:
        renameat2(source.dfd, source.name, dest.dfd, dest.name, replace=req.overwrite)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise rename_failure(exc, req.path, req.destination) from exc
        if not isinstance(req, MoveAcrossArgs):
            return MoveDone(info=None)  # the server asks a helper that may copy
        return _across(req, source, dest, st)
    return MoveDone(info=_facts(req, dest))


def _facts(req: MoveArgs, dest: Place) -> FileFacts:
    st = dest.lstat()
    if st is None:  # renamed away again already: the move itself happened
        raise Failure(Reason.NOT_FOUND, f"{req.destination}: gone right after the move",
                      metadata=dest.facts)
    target = os.readlink(dest.name, dir_fd=dest.dfd) if stat.S_ISLNK(st.st_mode) else ""
    return info_of(req.destination, st, target)


def _across(req: MoveAcrossArgs, source: Place, dest: Place, st: os.stat_result) -> MoveDone:
    """Copy, rename the copy into place, remove the source."""
    policy = req.policy
    bases = dest.names()

    def check(rel: str) -> None:
        if any(policy.is_protected(join(base, rel)) for base in bases):
            raise Failure(Reason.PROTECTED_PATH, f"{req.path}: holds a protected path")

    try:
        src = os.open(source.name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=source.dfd)
    except OSError as exc:
        raise source.failure(exc) from exc
    with closing_fd(src):
        now = os.fstat(src)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            raise Failure(Reason.NOT_FOUND, f"{req.path}: replaced while it was moved")
        stage = Stage(dest.dfd, source=req.path, path=req.destination,
                      budget=Budget(req.path, req.max_entries, req.max_bytes),
                      readable=policy.can_read, check=check, keep_times=True)
        try:
            stage.build(src, now, source.where)
            stage.commit(dest.name, replace=req.overwrite)
        finally:
            stage.close()
    try:
        if stat.S_ISDIR(st.st_mode):
            remove_tree(source.dfd, source.name, ours=False)
        else:
            os.unlink(source.name, dir_fd=source.dfd)
    except OSError as exc:
        raise Failure(Reason.SANDBOX_DENIED if exc.errno in (errno.EACCES, errno.EPERM)
                      else Reason.HELPER_FAILED,
                      f"{req.path}: copied to {req.destination}, but not all of the source "
                      f"could be removed: {exc.strerror}") from exc
    return MoveDone(info=_facts(req, dest), copied=True)
