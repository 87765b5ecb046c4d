"""EditFile: exact old -> new replacements in one UTF-8 file, read and replaced by the same
confined helper, the file replaced through WriteFile's own commit (writing.py: an unnamed
temporary, made durable, named by rename under the directory lock with a version check).

An edit is a read-modify-write, so the commit checks that the file is still the version
that was read: a writer that got in between is never overwritten. With ``if_version`` the
edit then fails VERSION_MISMATCH, as the caller asked; without, it is done again on what
that writer left (READY once more, at most EDIT_ATTEMPTS times), this time holding the
directory lock every fsgate commit takes from the read to its own commit, so that only a
writer outside fsgate can get in between again.
"""
from __future__ import annotations

import fcntl
import os
import socket
import stat
from collections.abc import Sequence

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import EDIT_ATTEMPTS, EditArgs, EditDone, TextEdit
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.request import info_of, version_of
from fsgate_server.helper.resolve import classify, closing_fd, reopen
from fsgate_server.helper.textdiff import Changes, unified_diff
from fsgate_server.helper.writing import TempFile, prepare_and_commit, write_target

__all__ = ["apply_edits", "op_edit"]

_LOOKUP = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


class _Changed(Exception):
    """The file is no longer the one this attempt read."""


def op_edit(sock: socket.socket, req: EditArgs) -> None:
    for attempt in range(EDIT_ATTEMPTS):
        try:
            done = _attempt(sock, req, locked=attempt > 0)
        except _Changed:
            if req.if_version:
                raise Failure(Reason.VERSION_MISMATCH,
                              f"{req.path}: version does not match if_version") from None
            continue
        codec.send(sock, Kind.RESULT, done)
        return
    raise Failure(Reason.VERSION_MISMATCH,
                  f"{req.path}: changed by another writer during each of {EDIT_ATTEMPTS} "
                  "attempts to edit it")


def _attempt(sock: socket.socket, req: EditArgs, *, locked: bool) -> EditDone:
    dfd, name, leaf_st = write_target(req, create_parents=False)
    try:
        if locked and not req.dry_run:
            # Held until the commit, which takes it again on this same descriptor (for
            # flock a no-op) and releases it; closing dfd releases it on any failure.
            fcntl.flock(dfd, fcntl.LOCK_EX)
        old, st = _read_text(dfd, name, leaf_st, req)
        new, replacements, changes = apply_edits(old, req.edits, req.max_bytes, req.path)
        diff, truncated = unified_diff(old, new, req.path.rsplit("/", 1)[-1], changes)
        if req.dry_run:
            return EditDone(info=info_of(req.path, st), replacements=replacements, diff=diff,
                            diff_truncated=truncated)
        tmp = TempFile(dfd, req.path)
        try:
            _write_all(tmp.fd, new, req.path)
            try:
                # Never setuid, setgid or sticky, as WriteFile (writing.py says why).
                info = prepare_and_commit(sock, tmp, name, stat.S_IMODE(st.st_mode) & 0o777,
                                          create_new=False, if_version=version_of(st),
                                          request_path=req.path)
            except Failure as exc:
                if exc.reason is Reason.VERSION_MISMATCH:
                    raise _Changed from exc
                raise
        finally:
            tmp.close()
    finally:
        os.close(dfd)
    return EditDone(info=info, replacements=replacements, diff=diff, diff_truncated=truncated)


def _read_text(dfd: int, name: str, leaf_st: os.stat_result | None, req: EditArgs
               ) -> tuple[bytes, os.stat_result]:
    """The file's content and the stat it was read at; the file is the one resolution
    judged (a name swapped since is another attempt), a regular file, at most max_bytes,
    at if_version, and UTF-8."""
    if leaf_st is None:
        raise Failure(Reason.NOT_FOUND, f"{req.path}: no such file or directory")
    if stat.S_ISDIR(leaf_st.st_mode):
        raise Failure(Reason.IS_A_DIRECTORY, f"{req.path}: is a directory")
    if not stat.S_ISREG(leaf_st.st_mode):
        raise Failure(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
    try:
        pfd = os.open(name, _LOOKUP, dir_fd=dfd)  # one name in a judged directory
    except FileNotFoundError:
        raise _Changed from None
    except OSError as exc:
        raise classify(exc, req.path, True) from exc
    with closing_fd(pfd):
        st = os.fstat(pfd)
        if (st.st_dev, st.st_ino) != (leaf_st.st_dev, leaf_st.st_ino):
            raise _Changed
        if st.st_size > req.max_bytes:
            raise Failure(Reason.TOO_LARGE, f"{req.path}: {st.st_size} bytes exceed the edit "
                          f"limit of {req.max_bytes}")
        if req.if_version and version_of(st) != req.if_version:
            raise Failure(Reason.VERSION_MISMATCH,
                          f"{req.path}: version does not match if_version")
        with closing_fd(reopen(pfd, os.O_RDONLY, req.path)) as fd:
            data = _read_all(fd, req.max_bytes, req.path)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise Failure(Reason.NOT_TEXT, f"{req.path}: not UTF-8 text") from None
    return data, st


def _read_all(fd: int, max_bytes: int, path: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        try:
            part = os.read(fd, min(1 << 20, max_bytes + 1 - total))
        except OSError as exc:
            raise classify(exc, path, True) from exc
        if not part:
            return b"".join(parts)
        parts.append(part)
        total += len(part)
        if total > max_bytes:  # it grew under us
            raise Failure(Reason.TOO_LARGE, f"{path}: more than the edit limit of "
                          f"{max_bytes} bytes")


def _write_all(fd: int, data: bytes, path: str) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise classify(exc, path, True) from exc


def apply_edits(text: bytes, edits: Sequence[TextEdit], max_bytes: int, path: str
                ) -> tuple[bytes, int, Changes]:
    """The text after every edit, in order, each on the result of the one before; the
    number of replacements; and where the result differs from ``text`` (for the diff).
    On bytes: UTF-8 text searched for UTF-8 text only matches at character boundaries.

    An occurrence is counted as ``replace_all`` replaces them: left to right, never
    overlapping. Exactly one is required without ``replace_all``; a text whose one
    occurrence overlaps a second one (``aa`` in ``aaa``) is ambiguous too."""
    changes = Changes()
    total = 0
    for index, edit in enumerate(edits):
        old, new = edit.old_text.encode(), edit.new_text.encode()
        if not old:  # the handler refuses it first; b"" would match everywhere
            raise Failure(Reason.INVALID_REQUEST, f"{path}: edit {index}: old_text is empty")
        count = text.count(old)
        first = text.find(old)
        if count == 0:
            raise _mismatch(Reason.NO_MATCH, path, index, 0, "does not occur")
        if not edit.replace_all:
            if count == 1 and text.find(old, first + 1) >= 0:
                count = 2  # two overlapping occurrences: which one is meant?
            if count > 1:
                raise _mismatch(Reason.AMBIGUOUS_MATCH, path, index, count,
                                f"occurs {count} times (give more context to make it "
                                "unique, or set replace_all)")
        grow = len(new) - len(old)
        size = len(text) + count * grow
        if size > max_bytes:
            raise Failure(Reason.TOO_LARGE, f"{path}: edit {index} would make the file "
                          f"{size} bytes, over the edit limit of {max_bytes}")
        if count <= MAX_TRACKED:
            changes.replaced(_occurrences(text, old, first, count), grow)
        else:  # the diff shows the whole stretch from the first to the last as one change
            changes.replaced([(first, text.rfind(old) + len(old))], count * grow)
        text = text.replace(old, new, -1 if edit.replace_all else 1)
        total += count
    return text, total, changes


MAX_TRACKED = 100_000  # occurrences of one edit the diff tells apart


def _occurrences(text: bytes, old: bytes, first: int, count: int) -> list[tuple[int, int]]:
    """Where bytes.replace replaces: left to right, not overlapping."""
    spans, at = [], first
    for _ in range(count):
        spans.append((at, at + len(old)))
        at = text.find(old, at + len(old))
    return spans


def _mismatch(reason: Reason, path: str, index: int, count: int, what: str) -> Failure:
    return Failure(reason, f"{path}: edit {index}: old_text {what}",
                   metadata={"edit": str(index), "count": str(count)})
