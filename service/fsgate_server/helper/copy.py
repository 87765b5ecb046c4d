"""Copy: the source resolved with its last name not followed (a symlink is copied as a
link: its target's text, never what it points to), the destination judged like a Move's
(places.py), the copy made beside it and renamed into place (clone.py).

Without ``overwrite`` an existing destination fails ALREADY_EXISTS: said at once, before
anything is copied, and decided again by the kernel when the copy gets its name, so a
destination made meanwhile is never replaced. With it, a file or symlink replaces a file
or symlink, a directory only an empty directory. The source's entries that the policy
denies are left out, as ListDir leaves them out; every entry the copy makes is judged
writable and unprotected by its destination path.
"""
from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.clone import Stage
from fsgate_server.helper.messages import CopyArgs, CopyDone
from fsgate_server.helper.places import Place, open_place, require_changeable, under
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import closing_fd
from fsgate_server.helper.trees import Budget
from fsgate_server.helper.walk import join, resolve


def op_copy(sock: socket.socket, req: CopyArgs) -> None:
    policy = req.policy
    found = resolve(req.path, policy.can_read, policy.readable, follow=False)
    with closing_fd(found.fd):
        st = found.st
        if stat.S_ISDIR(st.st_mode) and not req.recursive:
            raise Failure(Reason.IS_A_DIRECTORY,
                          f"{req.path}: is a directory (copying one needs recursive)")
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)
                or stat.S_ISLNK(st.st_mode)):
            raise Failure(Reason.NOT_REGULAR_FILE,
                          f"{req.path}: not a regular file, directory or symlink; never copied")
        dest = open_place(req.destination, policy, destination=True)
        try:
            require_changeable(dest, policy, req.served_roots)
            _require_fits(req, dest, st, found.real)
            stage = Stage(dest.dfd, source=req.path, path=req.destination,
                          budget=(budget := Budget(req.path, req.max_entries, req.max_bytes)),
                          readable=policy.can_read, check=_checker(req, dest),
                          keep_times=False)
            try:
                stage.build(found.fd, st, found.real)
                final = stage.commit(dest.name, replace=req.overwrite)
            finally:
                stage.close()
            target = (os.readlink(dest.name, dir_fd=dest.dfd) if stat.S_ISLNK(final.st_mode)
                      else "")
        finally:
            dest.close()
    codec.send(sock, Kind.RESULT, CopyDone(info=info_of(req.destination, final, target),
                                           bytes_copied=budget.bytes_taken,
                                           entries_copied=budget.entries_taken))


def _require_fits(req: CopyArgs, dest: Place, st: os.stat_result, real: str) -> None:
    """What can be told before copying (the kernel decides the existing name again)."""
    is_dir = stat.S_ISDIR(st.st_mode)
    if is_dir and any(under(name, real) for name in dest.names()):
        raise Failure(Reason.INVALID_REQUEST,
                      f"{req.destination}: cannot copy the directory {req.path} into itself")
    there = dest.lstat()
    if there is None:
        return
    if not req.overwrite:
        raise Failure(Reason.ALREADY_EXISTS, f"{req.destination}: already exists",
                      metadata=dest.facts)
    if stat.S_ISDIR(there.st_mode) and not is_dir:
        raise Failure(Reason.IS_A_DIRECTORY,
                      f"{req.destination}: is a directory; {req.path} is not",
                      metadata=dest.facts)
    if is_dir and not stat.S_ISDIR(there.st_mode):
        raise Failure(Reason.NOT_A_DIRECTORY,
                      f"{req.destination}: is not a directory; {req.path} is",
                      metadata=dest.facts)
    if is_dir and _has_entries(dest):  # said before the tree is copied, not after
        raise Failure(Reason.NOT_EMPTY,
                      f"{req.destination}: is a directory that is not empty",
                      metadata=dest.facts)


def _has_entries(dest: Place) -> bool:
    try:
        fd = os.open(dest.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                     dir_fd=dest.dfd)
    except OSError:
        return False  # changed since: the rename decides
    with closing_fd(fd), os.scandir(fd) as it:
        return next(it, None) is not None


def _checker(req: CopyArgs, dest: Place) -> Callable[[str], None]:
    bases = dest.names()
    policy = req.policy

    def check(rel: str) -> None:
        if any(policy.is_protected(join(base, rel)) for base in bases):
            raise Failure(Reason.PROTECTED_PATH,
                          f"{req.destination}/{rel}: would be a protected path: readable, "
                          "never written or created", metadata=dest.facts)

    return check
