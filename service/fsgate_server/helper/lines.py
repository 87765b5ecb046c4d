"""ReadFile line windows: the byte range that holds lines ``[line_offset, line_offset +
line_limit)``, or the last ``tail_lines`` lines, of an open file. reading.py then sends that
range like any other.

A line ends with ``\\n`` (a ``\\r`` before it is content); the last one may not. The
range is found by scanning in blocks, one block in memory at a time: forwards from the
start for a window, backwards from the end for a tail, so a tail costs what the tail costs
whatever the file's size. Both scans stop at the size the file had when it was opened.
"""
from __future__ import annotations

import os

__all__ = ["window"]

FORWARD_BLOCK = 256 << 10  # bytes per pread while counting lines from the start
TAIL_BLOCK = 16 << 10  # the first pread of a tail; it doubles up to MAX_TAIL_BLOCK
MAX_TAIL_BLOCK = 1 << 20
NL = b"\n"


def window(fd: int, size: int, line_offset: int, line_limit: int, tail_lines: int
           ) -> tuple[int, int]:
    """``(start, end)`` in bytes of the lines asked for (``line_limit`` 0: to the end;
    ``tail_lines`` > 0: the last lines instead, ``line_offset``/``line_limit`` unused)."""
    if tail_lines:
        return _tail_start(fd, size, tail_lines), size
    start = _after_newlines(fd, 0, size, line_offset)
    end = size if line_limit == 0 else _after_newlines(fd, start, size, line_limit)
    return start, end


def _after_newlines(fd: int, pos: int, size: int, n: int) -> int:
    """Just after the n-th newline at or after ``pos``; ``size`` if there are fewer."""
    while n > 0 and pos < size:
        block = os.pread(fd, min(FORWARD_BLOCK, size - pos), pos)
        if not block:
            return pos  # it shrank under us: the range ends where the file now does
        count = block.count(NL)
        if count < n:
            n -= count
            pos += len(block)
            continue
        i = -1
        for _ in range(n):
            i = block.index(NL, i + 1)
        return pos + i + 1
    return min(pos, size)


def _tail_start(fd: int, size: int, n: int) -> int:
    """Where the last n lines start: just after the n-th newline counted back from the
    end, the last byte left out (a newline there ends the last line, it starts none)."""
    pos, block = size - 1, TAIL_BLOCK
    while pos > 0:
        low = max(pos - block, 0)
        data = os.pread(fd, pos - low, low)
        count = data.count(NL)
        if count >= n:
            i = len(data)
            for _ in range(n):
                i = data.rindex(NL, 0, i)
            return low + i + 1
        n -= count
        pos = low
        block = min(block * 2, MAX_TAIL_BLOCK)  # long lines: fewer, larger reads
    return 0
