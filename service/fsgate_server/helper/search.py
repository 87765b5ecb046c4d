"""Search (grep): the tree walk (tree_walk.py) feeds each regular file to RE2, matches
stream back in batches as they are found, the summary last.

A file is read in windows of at most WINDOW bytes (most are one read), and the pattern
runs over a whole window at once; line numbers and lines are worked out only around a
match (``bytes.count`` of newlines since the last one). Matches never span lines (RE2's
never_nl), so a window ends at its last newline and the rest is carried into the next one,
with the lines before it that a match there may need as context. Binary files (a NUL in
the first 8 KiB, as grep and rg judge) are skipped and not counted as searched.

Bounds: ``max_matches`` (the search stops at the next match, and says truncated),
``max_file_bytes`` searched per file, the walk's entry and time budget. Each ends the
search with ``truncated`` in the summary instead of an error.
"""
from __future__ import annotations

import os
import socket
import stat
import time

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import MatchFacts, SearchArgs, SearchBatch, SearchSummary
from fsgate_server.helper.patterns import GitRules, Regex, matchable, search_regex, user_spec
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.resolve import closing_fd, reopen
from fsgate_server.helper.tree_walk import FILE, Budget, TreeWalk, WalkRules, open_regular
from fsgate_server.helper.walk import resolve

__all__ = ["MAX_LINE_BYTES", "op_search"]

MAX_LINE_BYTES = 4096  # a reported line (and each context line) is cut here
BINARY_PROBE = 8192
WINDOW = 4 << 20  # bytes read at once from a big file
LONG_LINE = 16 << 20  # a line longer than this is searched in pieces
BATCH_MATCHES = 256
BATCH_BYTES = 256 << 10
BATCH_SECONDS = 0.1  # a match found is sent within about this long, even in a slow search
_CLOCK_EVERY = 64  # matches between two looks at the clock


def op_search(sock: socket.socket, req: SearchArgs) -> None:
    regex = search_regex(req.pattern, fixed_strings=req.fixed_strings,
                         ignore_case=req.ignore_case)
    include = user_spec(req.include_globs, "include globs")
    rules = WalkRules(req.include_hidden, req.include_ignored,
                      user_spec(req.exclude_globs, "exclude globs"))
    found = resolve(req.path, req.policy.can_read, req.policy.readable, follow=True)
    budget = Budget(req.max_entries, req.budget_ms)
    out = _Out(sock, req, budget)
    with closing_fd(found.fd) as pfd:
        if stat.S_ISDIR(found.st.st_mode):
            with closing_fd(reopen(pfd, os.O_RDONLY | os.O_DIRECTORY, req.path)) as dfd:
                walk = TreeWalk(dfd, found.real, req.policy, rules, budget)
                _search_tree(walk, include, regex, out, req.path)
                out.truncated |= walk.truncated
        elif stat.S_ISREG(found.st.st_mode):
            with closing_fd(reopen(pfd, os.O_RDONLY, req.path)) as fd:
                scan_file(out, regex, req.path, fd, found.st.st_size)
        else:
            raise Failure(Reason.NOT_REGULAR_FILE, f"{req.path}: not a regular file")
    out.finish()


def _search_tree(walk: TreeWalk, include: GitRules | None, regex: Regex, out: _Out,
                 path: str) -> None:
    base = path.rstrip("/") + "/"
    for item in walk.items():
        if item.kind != FILE or (include is not None
                                 and not include.matches(matchable(item.rel))):
            continue
        opened = open_regular(item.dir_fd, item.name)
        if opened is None:
            continue  # gone, swapped for a link or a FIFO, or refused by the kernel
        try:  # not closing_fd: this runs once per file, and a generator costs more than it
            scan_file(out, regex, base + item.rel, *opened)
        finally:
            os.close(opened[0])
        if out.full or walk.budget.out_of_time():
            walk.stop()
        out.tick()


class _Out:
    """The batches on their way to the server, and the tallies of the summary."""

    def __init__(self, sock: socket.socket, req: SearchArgs, budget: Budget) -> None:
        self.sock = sock
        self.budget = budget
        self.max_matches = req.max_matches
        self.context = req.context_lines
        self.files_only = req.files_only
        self.max_file_bytes = req.max_file_bytes
        self.batch: list[MatchFacts] = []
        self.batch_bytes = 0
        self.since = time.monotonic()
        self.matches = 0
        self.files = 0
        self.truncated = False
        self.full = False  # max_matches reached and one more found

    def add(self, match: MatchFacts, size: int) -> bool:
        """Queue a match; False (and nothing queued) once max_matches were sent."""
        if self.matches >= self.max_matches:
            self.full = self.truncated = True
            return False
        self.matches += 1
        if not self.batch:
            self.since = time.monotonic()
        self.batch.append(match)
        self.batch_bytes += size + len(match.path)
        if len(self.batch) >= BATCH_MATCHES or self.batch_bytes >= BATCH_BYTES:
            self.flush()
        return True

    def tick(self) -> None:
        if self.batch and time.monotonic() - self.since >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        codec.send(self.sock, Kind.RESULT, SearchBatch(tuple(self.batch)))
        self.batch.clear()
        self.batch_bytes = 0

    def finish(self) -> None:
        summary = SearchSummary(files_searched=self.files, matches=self.matches,
                                truncated=self.truncated)
        codec.send(self.sock, Kind.RESULT, SearchBatch(tuple(self.batch), summary))


def _text(raw: bytes) -> tuple[str, bool]:
    """A line as lossy UTF-8, cut at MAX_LINE_BYTES on a character boundary."""
    if len(raw) <= MAX_LINE_BYTES:
        return raw.decode("utf-8", "replace"), False
    cut = MAX_LINE_BYTES
    while cut > MAX_LINE_BYTES - 3 and (raw[cut] & 0xC0) == 0x80:
        cut -= 1  # do not split a UTF-8 sequence
    return raw[:cut].decode("utf-8", "replace"), True


def scan_file(out: _Out, regex: Regex, path: str, fd: int, size: int) -> None:
    """Search one open file (``size`` as its stat said) and queue its matches in ``out``."""
    limit = out.max_file_bytes
    asked = max(min(size + 1, WINDOW, limit), 1)  # + 1: a file that grew is read on
    try:
        data = os.read(fd, asked)
    except OSError:
        return
    if data.find(b"\0", 0, BINARY_PROBE) >= 0:
        return  # binary: skipped, not searched
    out.files += 1
    if len(data) < asked and regex.find(data, 0, len(data))[0] < 0:
        return  # the common case: the whole file in one read, and no match in it
    _Scan(out, regex, path).run(fd, data, asked)


class _Pending:
    """A match found, waiting for the rest of its after-context (from the next window) or
    for the matches before it: matches leave in the order they were found."""

    __slots__ = ("after", "facts")

    def __init__(self, facts: MatchFacts, after: list[str]) -> None:
        self.facts = facts
        self.after = after


class _Scan:
    """One file: its windows, their matches, and the context lines around them."""

    def __init__(self, out: _Out, regex: Regex, path: str) -> None:
        self.out = out
        self.regex = regex
        self.path = path
        self.context = out.context
        self.pending: list[_Pending] = []
        self.done = False  # this file needs no more searching

    def run(self, fd: int, data: bytes, asked: int) -> None:
        """Search the file ``fd`` from its first window ``data`` (``asked`` bytes read)."""
        out = self.out
        limit = out.max_file_bytes
        buf, start, line, total = data, 0, 1, len(data)
        while True:
            eof = len(data) < asked or total >= limit  # a short read of a regular file: EOF
            end = len(buf)
            in_line = False  # the window ends inside a line longer than LONG_LINE
            if not eof:
                nl = buf.rfind(b"\n", start)
                if nl >= 0:
                    end = nl + 1
                elif len(buf) - start < LONG_LINE:
                    end = start  # no whole line yet: read on
                else:
                    in_line = True
            if end > start:
                self._fill_pending(buf, start, end)
                line = self._search(buf, start, end, line, eof)
            self._emit(everything=eof or self.done)
            if eof or self.done:
                break
            if out.budget.out_of_time():  # a big file: the budget holds inside it too
                out.truncated = True
                self._emit(everything=True)
                return
            if in_line:  # searched in pieces: no context carried over
                buf, start = b"", 0
            else:
                keep = self._context_start(buf, end)
                buf, start = buf[keep:], end - keep
            asked = min(WINDOW, limit - total)
            try:
                data = os.read(fd, asked)
            except OSError:
                data, asked = b"", 1
            total += len(data)
            buf += data
        if total >= limit and not self.done and _has_more(fd):
            out.truncated = True  # the rest of this file was not searched

    def _context_start(self, buf: bytes, end: int) -> int:
        """Where the ``context`` lines before ``end`` start: what the next window keeps."""
        pos = end
        for _ in range(self.context):
            if pos <= 0:
                return 0
            pos = buf.rfind(b"\n", 0, pos - 1) + 1
        return pos

    def _fill_pending(self, buf: bytes, pos: int, end: int) -> None:
        """Give the waiting matches their after-context from the lines at ``pos``."""
        short = [p for p in self.pending if len(p.after) < self.context]
        while short and pos < end:
            nl = buf.find(b"\n", pos, end)
            stop = end if nl < 0 else nl
            text = _text(buf[pos:stop])[0]
            for p in short:
                p.after.append(text)
            short = [p for p in short if len(p.after) < self.context]
            pos = stop + 1

    def _emit(self, everything: bool) -> None:
        """Send the waiting matches whose context is complete, in order (all at the end)."""
        sent = 0
        for p in self.pending:
            if not everything and len(p.after) < self.context:
                break
            sent += 1
            f = p.facts
            facts = MatchFacts(f.path, f.line_number, f.line, f.line_truncated, f.before,
                               tuple(p.after))
            size = len(f.line) + sum(map(len, f.before)) + sum(map(len, p.after))
            if not self.out.add(facts, size):
                self.done = True
                break
        del self.pending[:sent]
        if self.done:
            self.pending.clear()

    def _search(self, buf: bytes, pos: int, end: int, line: int, last: bool) -> int:
        """Queue the matching lines of ``buf[pos:end]`` (``pos`` starts line number
        ``line``); the line number at ``end`` (not counted in the ``last`` window)."""
        counted = pos
        context = self.context
        while pos < end:
            s, e = self.regex.find(buf, pos, end)
            if s < 0:
                break
            start = buf.rfind(b"\n", pos, s) + 1 or pos
            line += buf.count(b"\n", counted, start)
            counted = start
            if self.out.files_only:
                self.pending.append(_Pending(MatchFacts(self.path, 0), []))
                self.done = True
                break
            stop = buf.find(b"\n", max(e, s), end)
            stop = end if stop < 0 else stop
            before: list[str] = []
            after: list[str] = []
            if context:
                at = start
                while len(before) < context and at > 0:
                    prev = buf.rfind(b"\n", 0, at - 1) + 1
                    before.append(_text(buf[prev:at - 1])[0])
                    at = prev
                before.reverse()
                at = stop + 1
                while len(after) < context and at < end:
                    nl = buf.find(b"\n", at, end)
                    nxt = end if nl < 0 else nl
                    after.append(_text(buf[at:nxt])[0])
                    at = nxt + 1
            text, cut = _text(buf[start:stop])
            self.pending.append(_Pending(
                MatchFacts(self.path, line, text, cut, tuple(before)), after))
            if len(self.pending) > self.out.max_matches:
                break  # more than could be sent: the rest can wait for _emit to say so
            if len(self.pending) >= _CLOCK_EVERY:  # a file full of matches: stream them
                if self.out.budget.out_of_time():
                    self.out.truncated = self.done = True
                    break
                self._emit(everything=False)
                if self.done:
                    break
            pos = stop + 1
        return line if last or self.done else line + buf.count(b"\n", counted, end)


def _has_more(fd: int) -> bool:
    try:
        return bool(os.read(fd, 1))
    except OSError:
        return False
