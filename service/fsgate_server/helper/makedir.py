"""MakeDir: one directory, or with ``parents`` every missing one on the way to it.

Each directory is made by ``mkdirat`` in the directory the path resolves to (walk.py: links
before the last component are followed and judged where they land; the last one never: a
link there is an existing entry, not a way to create elsewhere). Every directory created
is checked writable first, with the directory that holds it (mutable.py); with
``parents`` only names of the request path itself are created, never a link's target.
``mode`` is given to each created directory exactly (fchmod after mkdirat), as WriteFile's
file_mode is: the server's umask does not narrow it.
"""
from __future__ import annotations

import os
import socket
import stat

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import FileFacts, MakeDirArgs
from fsgate_server.helper.mutable import Judge
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of
from fsgate_server.helper.resolve import classify, closing_fd
from fsgate_server.helper.tree import DIR_FLAGS
from fsgate_server.helper.walk import join, resolve, resolve_parent

__all__ = ["make_dir", "op_make_dir"]


def op_make_dir(sock: socket.socket, req: MakeDirArgs) -> None:
    codec.send(sock, Kind.RESULT, make_dir(req))


def make_dir(req: MakeDirArgs) -> FileFacts:
    """The FileFacts of the directory: made, or (``exist_ok``) already there."""
    judge = Judge(req.policy, req.path)
    if not req.parents:
        return _make_one(req, judge, req.path, exist_ok=req.exist_ok)
    # The request path, then each ancestor whose own parent is missing, upwards; then
    # made downwards. Each is resolved afresh: what a co-tenant changed meanwhile is seen.
    chain = [req.path]
    while True:
        try:
            info = _make_one(req, judge, chain[-1], exist_ok=len(chain) > 1 or req.exist_ok)
            break
        except Failure as exc:
            parent = chain[-1].rsplit("/", 1)[0] or "/"
            if exc.reason is not Reason.NOT_FOUND or parent == chain[-1]:
                raise
            chain.append(parent)
    for path in reversed(chain[:-1]):
        info = _make_one(req, judge, path, exist_ok=path != req.path or req.exist_ok)
    return info


def _make_one(req: MakeDirArgs, judge: Judge, path: str, *, exist_ok: bool) -> FileFacts:
    """Make ``path``, whose parent must exist."""
    aliases: list[str] = []
    found = resolve_parent(path, req.policy.can_read, req.policy.readable, aliases=aliases,
                           follow_leaf=False)
    with closing_fd(found.fd):
        if found.leaf is None:  # "/": a directory of its own
            return _existing(req, judge, path, found.real, aliases, found.st, exist_ok)
        where = join(found.real, found.leaf)
        if found.leaf_st is None:
            judge.require(where, aliases)
            try:
                os.mkdir(found.leaf, req.mode, dir_fd=found.fd)
            except FileExistsError:
                pass  # made meanwhile: judged as an existing entry below
            except OSError as exc:
                raise classify(exc, path, True) from exc
            else:
                return _exactly(req, found.fd, found.leaf, path)
        try:
            st = os.stat(found.leaf, dir_fd=found.fd, follow_symlinks=False)
        except OSError as exc:
            raise classify(exc, path, True) from exc
        return _existing(req, judge, path, where, aliases, st, exist_ok)


def _exactly(req: MakeDirArgs, dfd: int, name: str, path: str) -> FileFacts:
    """The new directory with exactly ``mode`` (set-group-ID inherited from its parent
    stays), and its facts."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
    except OSError as exc:
        raise classify(exc, path, True) from exc
    with closing_fd(fd):
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) & 0o777 != req.mode:
            os.fchmod(fd, (stat.S_IMODE(st.st_mode) & ~0o777) | req.mode)
            st = os.fstat(fd)
        return info_of(path, st)


def _existing(req: MakeDirArgs, judge: Judge, path: str, where: str, aliases: list[str],
              st: os.stat_result, exist_ok: bool) -> FileFacts:
    """An entry already at the path: a directory is fine with ``exist_ok``, so is a link
    that leads to one (writable, like anything MakeDir names); anything else exists."""
    refusal = judge.refusal(where, aliases)
    if refusal is not None:
        raise refusal
    if exist_ok and stat.S_ISDIR(st.st_mode):
        return info_of(path, st)
    if exist_ok and stat.S_ISLNK(st.st_mode):
        try:
            target = resolve(path, req.policy.can_read, req.policy.readable, follow=True)
        except Failure as exc:
            if exc.reason is not Reason.NOT_FOUND:
                raise
        else:
            with closing_fd(target.fd):
                if stat.S_ISDIR(target.st.st_mode):
                    refusal = judge.refusal(target.real)
                    if refusal is not None:
                        raise refusal
                    return info_of(path, target.st)
    kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a directory"
    raise Failure(Reason.ALREADY_EXISTS, f"{path}: already exists ({kind})")
