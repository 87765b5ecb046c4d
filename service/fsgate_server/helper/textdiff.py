"""The unified diff EditFile answers with: ``--- a/NAME`` / ``+++ b/NAME``, hunks with 3
lines of context, ``\\ No newline at end of file`` where a side ends without one (as git
and patch expect), at most ``limit`` bytes (whole hunks only).

The diff is built from what the edits changed, not by comparing two whole files: editing.py
records every replacement in :class:`Changes`, which keeps the byte ranges where the new
text differs from the old. Only those ranges (as whole lines) are compared, line by line,
so renaming a name at 40,000 places of a 60 MiB file diffs in time proportional to the
output, and a file's unchanged lines are never looked at twice. Pure: bytes in, text out.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

__all__ = ["MAX_DIFF_BYTES", "Changes", "unified_diff"]

MAX_DIFF_BYTES = 1 << 20  # what fits any client's default 4 MiB message with room to spare
CONTEXT = 3
MAX_COMPARED_LINES = 5000  # a larger changed block is shown as removed, then added
NL = b"\n"
NO_NEWLINE = b"\\ No newline at end of file\n"

Region = tuple[int, int, int, int]  # old bytes [a0, a1) are new bytes [b0, b1)
Opcode = tuple[str, int, int, int, int]


class Changes:
    """Where the current text differs from the original: regions ``(a0, a1, b0, b1)``,
    sorted and disjoint, the bytes between two of them the same in both texts."""

    def __init__(self) -> None:
        self.regions: list[Region] = []

    def replaced(self, spans: Sequence[tuple[int, int]], grow: int) -> None:
        """Each span ``[p, q)`` of the current text (sorted, disjoint) was replaced by
        ``q - p + grow`` bytes; the regions are now in the new text's coordinates.

        One sweep over the regions and the spans, clustering what overlaps or touches."""
        regions, out = self.regions, []
        i = j = 0
        shift = 0  # new - current position, before the cluster at hand
        delta = 0  # current - original position, in the gap at hand
        while i < len(regions) or j < len(spans):
            region_first = j == len(spans) or (i < len(regions) and
                                                regions[i][2] <= spans[j][0])
            start = regions[i][2] if region_first else spans[j][0]
            orig_start, end, count = start - delta, start, 0
            while True:
                if i < len(regions) and regions[i][2] <= end:
                    end = max(end, regions[i][3])
                    delta = regions[i][3] - regions[i][1]
                    i += 1
                elif j < len(spans) and spans[j][0] <= end:
                    end = max(end, spans[j][1])
                    count += 1
                    j += 1
                else:
                    break
            new_start = start + shift
            shift += grow * count
            out.append((orig_start, end - delta, new_start, end + shift))
        self.regions = out


def unified_diff(old: bytes, new: bytes, name: str, changes: Changes,
                 limit: int = MAX_DIFF_BYTES) -> tuple[str, bool]:
    """The diff from old to new (valid UTF-8 both; ``changes`` says where they differ) and
    whether it was cut at ``limit`` bytes. Empty when nothing changed."""
    if old == new:
        return "", False
    out = [b"--- a/" + _quoted(name) + b"\n", b"+++ b/" + _quoted(name) + b"\n"]
    size = len(out[0]) + len(out[1])
    for hunk in _hunks(old, new, changes.regions):
        if size + len(hunk) > limit:
            return b"".join(out).decode("utf-8"), True
        out.append(hunk)
        size += len(hunk)
    return b"".join(out).decode("utf-8"), False


# --- from changed bytes to hunks ----------------------------------------------------------

def _blocks(old: bytes, new: bytes, regions: Sequence[Region]) -> Iterator[Region]:
    """The regions widened to whole lines (the same widening on both sides: the bytes
    around a region are the same in both), merged where they share a line."""
    block: Region | None = None
    for a0, a1, b0, b1 in regions:
        line = old.rfind(NL, 0, a0) + 1
        if block is not None and line < block[1]:
            a_start, b_start = block[0], block[2]  # shares a line with the block before
        else:
            if block is not None:
                yield block
            a_start, b_start = line, b0 - (a0 - line)
        if not (_at_line_start(old, a1) and _at_line_start(new, b1)):
            stop = old.find(NL, a1)
            grow = (len(old) if stop < 0 else stop + 1) - a1
            a1, b1 = a1 + grow, b1 + grow
        block = (a_start, a1, b_start, b1)
    if block is not None:
        yield block


def _hunks(old: bytes, new: bytes, regions: Sequence[Region]) -> Iterator[bytes]:
    """The diff's hunks, in order, computed as they are asked for."""
    at_a = line_a = at_b = line_b = 0  # a line start in old / new and its 0-based number
    group: list[tuple[Region, int, int]] = []  # blocks with their first lines, old and new
    for block in _blocks(old, new, regions):
        line_a += old.count(NL, at_a, block[0])
        line_b += new.count(NL, at_b, block[2])
        at_a, at_b = block[0], block[2]
        if group and line_a - _end_line(old, group[-1][0][0], group[-1][0][1],
                                        group[-1][1]) > 2 * CONTEXT:
            yield from _group_hunks(old, new, group)
            group = []
        group.append((block, line_a, line_b))
    if group:
        yield from _group_hunks(old, new, group)


def _end_line(data: bytes, start: int, stop: int, first: int) -> int:
    """The number of the line after the lines data[start:stop] (which start at ``first``)."""
    return first + data.count(NL, start, stop) + (stop > start and data[stop - 1] != NL[0])


def _group_hunks(old: bytes, new: bytes, group: Sequence[tuple[Region, int, int]]
                 ) -> Iterator[bytes]:
    """The hunks of blocks close enough to share context: one sequence of lines per side
    with the lines between them, and their opcodes."""
    first_block, line_a, line_b = group[0]
    first = first_block[0]
    for _ in range(CONTEXT):  # context before: the same lines on both sides
        if first == 0:
            break
        first = old.rfind(NL, 0, first - 1) + 1
    before = _lines(old[first:first_block[0]])
    a, b = list(before), list(before)
    codes: list[Opcode] = [("equal", 0, len(a), 0, len(b))]
    previous_end = first_block[0]
    for (a0, a1, b0, b1), _, _ in group:
        between = _lines(old[previous_end:a0])
        codes.append(("equal", len(a), len(a) + len(between), len(b), len(b) + len(between)))
        a += between
        b += between
        old_lines, new_lines = _lines(old[a0:a1]), _lines(new[b0:b1])
        codes += [(tag, i1 + len(a), i2 + len(a), j1 + len(b), j2 + len(b))
                  for tag, i1, i2, j1, j2 in _compare(old_lines, new_lines)]
        a += old_lines
        b += new_lines
        previous_end = a1
    after = _lines(old[previous_end:_after_lines(old, previous_end, CONTEXT)])
    codes.append(("equal", len(a), len(a) + len(after), len(b), len(b) + len(after)))
    a += after
    b += after
    lines_before = len(before)
    for hunk in _groups(codes, CONTEXT):
        yield _hunk(a, b, hunk, line_a - lines_before, line_b - lines_before)


def _compare(a: Sequence[bytes], b: Sequence[bytes]) -> Sequence[Opcode]:
    if len(a) + len(b) > MAX_COMPARED_LINES:
        return [("replace", 0, len(a), 0, len(b))]
    return difflib.SequenceMatcher(None, a, b).get_opcodes()


def _groups(codes: Sequence[Opcode], n: int) -> list[list[Opcode]]:
    """The opcodes as hunks with n lines of context (difflib's get_grouped_opcodes, over
    opcodes given rather than computed; empty ones dropped, adjacent equal runs merged)."""
    merged: list[Opcode] = []
    for code in codes:
        if code[1] == code[2] and code[3] == code[4]:
            continue
        if merged and code[0] == "equal" and merged[-1][0] == "equal":
            tag, a1, _, b1, _ = merged[-1]
            merged[-1] = (tag, a1, code[2], b1, code[4])
        else:
            merged.append(code)
    if merged and merged[0][0] == "equal":
        tag, a1, a2, b1, b2 = merged[0]
        merged[0] = (tag, max(a1, a2 - n), a2, max(b1, b2 - n), b2)
    if merged and merged[-1][0] == "equal":
        tag, a1, a2, b1, b2 = merged[-1]
        merged[-1] = (tag, a1, min(a2, a1 + n), b1, min(b2, b1 + n))
    groups: list[list[Opcode]] = []
    group: list[Opcode] = []
    for tag, a1, a2, b1, b2 in merged:
        if tag == "equal" and a2 - a1 > 2 * n and group:
            group.append((tag, a1, a1 + n, b1, b1 + n))
            groups.append(group)
            group = []
            a1, b1 = max(a1, a2 - n), max(b1, b2 - n)
        group.append((tag, a1, a2, b1, b2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        groups.append(group)
    return groups


def _hunk(a: Sequence[bytes], b: Sequence[bytes], group: Sequence[Opcode], line_a: int,
          line_b: int) -> bytes:
    """One hunk; ``line_a``/``line_b``: the 0-based numbers of a[0] and b[0] in the files."""
    i1, i2 = group[0][1], group[-1][2]
    j1, j2 = group[0][3], group[-1][4]
    out = [b"@@ -" + _range(line_a + i1, line_a + i2) + b" +"
           + _range(line_b + j1, line_b + j2) + b" @@\n"]

    def emit(mark: bytes, lines: Sequence[bytes]) -> None:
        for line in lines:
            out.append(mark + line)
            if not line.endswith(NL):  # the file's last line (blocks end on lines)
                out.append(b"\n" + NO_NEWLINE)

    for tag, a1, a2, b1, b2 in group:
        if tag == "equal":
            emit(b" ", a[a1:a2])
        else:
            emit(b"-", a[a1:a2])
            emit(b"+", b[b1:b2])
    return b"".join(out)


def _range(start: int, stop: int) -> bytes:
    """A hunk header's range, as difflib and diff(1) write it (1-based; ``N`` for one
    line, ``N,0`` after line N for none)."""
    length = stop - start
    if length == 1:
        return b"%d" % (start + 1)
    return b"%d,%d" % (start + 1 if length else start, length)


# --- bytes and lines ----------------------------------------------------------------------

def _at_line_start(data: bytes, pos: int) -> bool:
    return pos == 0 or pos == len(data) or data[pos - 1] == NL[0]


def _after_lines(data: bytes, pos: int, n: int) -> int:
    for _ in range(n):
        if pos >= len(data):
            return len(data)
        stop = data.find(NL, pos)
        pos = len(data) if stop < 0 else stop + 1
    return pos


def _lines(data: bytes) -> list[bytes]:
    parts = data.split(NL)
    last = parts.pop()
    out = [p + NL for p in parts]
    if last:
        out.append(last)
    return out


def _quoted(name: str) -> bytes:
    """The name for a diff header: git's C-style quoting when it holds a quote, a
    backslash or a control character (a newline would end the header); bytes that are not
    UTF-8 (surrogate-escaped) as U+FFFD."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if not any(c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return text.encode()
    escaped = "".join(_ESCAPES.get(c, f"\\{ord(c):03o}" if ord(c) < 0x20 or ord(c) == 0x7F
                                   else c) for c in text)
    return f'"{escaped}"'.encode()


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
