"""WatchDir in the helper: inotify watches on the watched tree (watch_tree.py), the kernel's
events turned into the fsgate events the caller may see (watch_filter.py), bursts
coalesced (coalesce.py), sent as EVENT frames until the server hangs up.

The conversation: REQUEST WatchArgs -> RESULT WatchStarted -> EVENT WatchBatch ... The
RESULT goes out only once every watch is in place and every event queued while they were
being set up has been read (those are not reported: they describe the tree before
``started``, which the caller lists if it cares), so any change after it is reported.

What a change becomes:

- an entry created, or moved in from outside the tree (or from a denied or excluded
  place), is CREATED; a new directory of a recursive watch is watched at once and
  scanned after its watch landed, and what the scan finds is CREATED too (a name both
  scanned and announced by its own IN_CREATE is reported once);
- removed, or moved out of the tree, is DELETED (for a directory moved out, its watches
  are dropped first: nothing that happens to it outside is ever reported);
- renamed inside the tree is one MOVED (IN_MOVED_FROM and IN_MOVED_TO paired by their
  cookie; the second is waited for up to PAIR_WAIT when it is not read yet);
- content written is MODIFIED, metadata ATTRIBUTES_CHANGED, coalesced per file (not the
  kernel's ``#<inode>`` name of an unnamed O_TMPFILE file: no entry has it);
- the kernel's queue overflowing (IN_Q_OVERFLOW) is an EVENT batch with ``overflow``; then
  every watch is checked and the tree walked again for directories whose creation was
  lost, so the watch stays complete (events lost meanwhile are not reported: rescan);
- the watched directory itself removed or moved away: DELETED for it, then NOT_FOUND
  (from its own IN_DELETE_SELF/IN_MOVE_SELF, or, when those cannot come, a look every
  ROOT_CHECK seconds);
- a new directory beyond ``max_dirs``: the events so far, then TOO_LARGE.
"""
from __future__ import annotations

import errno
import re
import select
import socket
import stat
import time

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.coalesce import Throttle
from fsgate_server.helper.inotify import (
    IN_ATTRIB,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    Inotify,
    RawEvent,
)
from fsgate_server.helper.messages import EventType, WatchArgs, WatchBatch, WatchEvent, WatchStarted
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.resolve import closing_fd
from fsgate_server.helper.walk import resolve
from fsgate_server.helper.watch_filter import Selection
from fsgate_server.helper.watch_tree import Added, Tree

__all__ = ["op_watch"]

PAIR_WAIT = 0.01  # seconds to wait for an IN_MOVED_TO not read yet
PAIR_READS = 8  # ...at most this many more reads
BATCH = 256  # events per EVENT frame
SETUP_READS = 64  # reads of the events queued during setup before `started`
SEEN_MAX = 100_000  # scanned names awaiting their own IN_CREATE; past it, forgotten
# Seconds between looks at whether the watched directory is still there. Its own
# IN_DELETE_SELF does not come while something else pins it: under bwrap a directory that
# is a bind mount in the helper's namespace (a root of the request's policy).
ROOT_CHECK = 5.0
_GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT
# The name the kernel gives an O_TMPFILE file (a WriteFile's content before it is linked):
# changes to it through its descriptor are reported under it, though no entry has it.
_TMPFILE_NAME = re.compile(r"#[0-9]+")


def op_watch(sock: socket.socket, req: WatchArgs) -> None:
    found = resolve(req.path, req.policy.can_read, req.policy.readable, follow=True)
    with closing_fd(found.fd):
        if not stat.S_ISDIR(found.st.st_mode):
            raise Failure(Reason.NOT_A_DIRECTORY, f"{req.path}: not a directory")
        try:
            ino = Inotify()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                raise Failure(Reason.BUSY, "no inotify instance available (the kernel's "
                              "fs.inotify.max_user_instances); retry later") from exc
            raise
        try:
            watch = _Watch(sock, req, ino, found.real)
            watch.start(found.fd)
        except BaseException:
            ino.close()
            raise
    # Not holding the directory open from here on: a descriptor of it would keep its
    # IN_DELETE_SELF from coming until it was closed.
    try:
        watch.serve()
    finally:
        ino.close()


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class _Watch:
    def __init__(self, sock: socket.socket, req: WatchArgs, ino: Inotify, real: str) -> None:
        self.sock = sock
        self.req = req
        self.ino = ino
        self.select = Selection(req.policy, real, req.path, req.include_globs,
                                req.exclude_globs)
        self.tree = Tree(ino, req.policy, real, req.max_dirs, req.path)
        self.throttle = Throttle()
        self.outbox: list[WatchEvent] = []
        self.silent = True  # until `started`: nothing is reported
        self.seen: set[tuple[int, str]] = set()  # (wd, name) a scan reported as CREATED

    # --- setup --------------------------------------------------------------------------

    def start(self, fd: int) -> None:
        root = self.tree.add("", scan=self.req.recursive, fd=fd)
        if root is None:
            raise Failure(Reason.NOT_FOUND, f"{self.req.path}: the directory was replaced "
                          "while its watch was set up")
        if self.req.recursive:
            self._grow("", report=False, added=root)
        for _ in range(SETUP_READS):
            raw = self.ino.read()
            if not raw:
                break
            self._process(raw)
        self.silent = False
        self.seen.clear()
        codec.send(self.sock, Kind.RESULT, WatchStarted(len(self.tree)))

    def _grow(self, rel: str, *, report: bool, rescan: bool = False,
              added: Added | None = None) -> None:
        """Watch ``rel`` and every watchable directory below it, depth first; with
        ``report``, what the scans of newly watched ones find is CREATED. ``rescan``:
        descend through directories already watched too (to find ones that are not)."""
        todo: list[tuple[str, Added | None]] = [(rel, added)]
        while todo:
            rel, got = todo.pop()
            if got is None:
                got = self.tree.add(rel, scan=True, rescan=rescan)
                if got is None:
                    continue
            if len(self.seen) > SEEN_MAX:
                self.seen.clear()  # at worst a name is reported CREATED twice
            for name, is_dir in got.entries:
                child = _join(rel, name)
                if report and got.new:
                    self.seen.add((got.wd, name))
                    self._emit(EventType.CREATED, child, is_dir)
                if is_dir and self.select.watchable(child) and (
                        rescan or not self.tree.has(child)):
                    todo.append((child, None))

    # --- the loop -----------------------------------------------------------------------

    def serve(self) -> None:
        """Report changes until the server closes the channel (or a Failure ends it)."""
        poller = select.poll()
        poller.register(self.ino.fd, select.POLLIN)
        poller.register(self.sock.fileno(), select.POLLIN)  # readable: EOF, the server left
        check = time.monotonic() + ROOT_CHECK
        try:
            while True:
                due = self.throttle.next_due()
                due = check if due is None else min(due, check)
                wait = max(0.0, (due - time.monotonic()) * 1000)
                if any(fd == self.sock.fileno() for fd, _ in poller.poll(wait)):
                    return
                if time.monotonic() >= check:
                    if not self.tree.in_place():
                        self._root_gone()
                    check = time.monotonic() + ROOT_CHECK
                raw = self.ino.read()
                if raw:
                    self._process(raw)
                else:  # nothing queued: no event from before a scan can still come
                    self.seen.clear()
                self.outbox.extend(self.throttle.due(time.monotonic()))
                self._flush()
        except Failure:
            self._flush()  # what happened before it, then the ERROR (ops.run)
            raise
        except (BrokenPipeError, ConnectionResetError):
            return  # the server hung up while we sent

    def _process(self, raw: list[RawEvent]) -> None:
        i = 0
        while i < len(raw):
            ev = raw[i]
            i += 1
            mask = ev.mask
            if mask & IN_Q_OVERFLOW:
                self._overflow()
                continue
            if mask & IN_IGNORED:
                self.tree.forget(ev.wd)
                continue
            where = self.tree.rel_of(ev.wd)
            if where is None:
                continue  # a watch we dropped: its inode may be outside the tree now
            if mask & _GONE:
                if where == "":
                    self._root_gone()
                continue  # a subdirectory's own view; its parent's event tells it
            is_dir = bool(mask & IN_ISDIR)
            if not ev.name:  # the directory itself: only the watched one is reported
                if where == "" and mask & IN_ATTRIB:
                    self._emit(EventType.ATTRIBUTES_CHANGED, "", True)
                continue
            rel = _join(where, ev.name)
            if mask & IN_MOVED_FROM:
                self._moved_from(raw, i, ev, rel, is_dir)
            elif mask & (IN_CREATE | IN_MOVED_TO):
                self._appeared(ev, rel, is_dir)
            elif mask & IN_DELETE:
                self.seen.discard((ev.wd, ev.name))
                self._emit(EventType.DELETED, rel, is_dir)
                if is_dir:
                    self.tree.drop(rel)
            elif _TMPFILE_NAME.fullmatch(ev.name) and not self.tree.holds(where, ev.name):
                continue  # an unnamed file's, not an entry's
            elif mask & IN_MODIFY:
                self._emit(EventType.MODIFIED, rel, is_dir)
            elif mask & IN_ATTRIB:
                self._emit(EventType.ATTRIBUTES_CHANGED, rel, is_dir)

    def _appeared(self, ev: RawEvent, rel: str, is_dir: bool) -> None:
        if (ev.wd, ev.name) in self.seen:  # the scan of its new directory reported it
            self.seen.discard((ev.wd, ev.name))
            return
        self._emit(EventType.CREATED, rel, is_dir)
        if is_dir and self.req.recursive and self.select.watchable(rel):
            self._grow(rel, report=True)

    def _moved_from(self, raw: list[RawEvent], start: int, ev: RawEvent, old: str,
                    is_dir: bool) -> None:
        self.seen.discard((ev.wd, ev.name))
        j = self._pair(raw, start, ev.cookie)
        new = None
        if j is not None:
            to = raw.pop(j)
            self.seen.discard((to.wd, to.name))
            into = self.tree.rel_of(to.wd)
            new = None if into is None else _join(into, to.name)
        old_ok = self.select.reported(old, is_dir)
        new_ok = new is not None and self.select.reported(new, is_dir)
        if old_ok and new is not None and new_ok:
            self._emit(EventType.MOVED, new, is_dir, old=old)
        elif old_ok:
            self._emit(EventType.DELETED, old, is_dir)
        elif new is not None and new_ok:
            self._emit(EventType.CREATED, new, is_dir)
        if not is_dir:
            return
        keep = new is not None and self.req.recursive and self.select.watchable(new)
        if self.tree.has(old):
            if new is not None and keep:
                self.tree.rename(old, new, self.select.watchable)
                if self.select.exclude:  # a subdirectory excluded before may not be now
                    self._grow(new, report=True, rescan=True)
            else:
                self.tree.drop(old)  # moved out (or somewhere not watched): forget it now
        elif new is not None and keep:
            self._grow(new, report=True)

    def _pair(self, raw: list[RawEvent], start: int, cookie: int) -> int | None:
        """Where the IN_MOVED_TO with this cookie is in ``raw`` (read on for it briefly),
        or None: the entry left the tree."""
        for reads in range(PAIR_READS + 1):
            for j in range(start, len(raw)):
                if raw[j].mask & IN_MOVED_TO and raw[j].cookie == cookie:
                    return j
            if reads == PAIR_READS:
                break
            start = len(raw)
            more = self.ino.read(PAIR_WAIT)
            if not more:
                break
            raw.extend(more)
        return None

    def _overflow(self) -> None:
        self._flush(overflow=True)
        self.throttle.clear()
        self.seen.clear()
        if not self.tree.revalidate():
            self._root_gone()
        if self.req.recursive:
            self._grow("", report=False, rescan=True)

    def _root_gone(self) -> None:
        self._emit(EventType.DELETED, "", True)
        self._flush()
        raise Failure(Reason.NOT_FOUND,
                      f"{self.req.path}: the watched directory was removed or moved away")

    # --- output -------------------------------------------------------------------------

    def _emit(self, kind: EventType, rel: str, is_dir: bool, *, old: str | None = None) -> None:
        if self.silent or not self.select.reported(rel, is_dir):
            return
        event = WatchEvent(kind, self.select.path(rel),
                           self.select.path(old) if old is not None else "", is_dir)
        sent = self.throttle.offer(event, time.monotonic())
        if sent is not None:
            self.outbox.append(sent)
            if len(self.outbox) >= BATCH:
                self._flush()

    def _flush(self, *, overflow: bool = False) -> None:
        if self.silent:  # nothing goes out before RESULT; an overflow then is rescanned
            self.outbox.clear()
            return
        if self.outbox or overflow:
            codec.send(self.sock, Kind.EVENT, WatchBatch(tuple(self.outbox), overflow))
            self.outbox.clear()
