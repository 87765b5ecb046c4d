"""The unified diff EditFile answers with: ``--- a/NAME`` / ``+++ b/NAME``, hunks with 3
lines of context, ``\\ No newline at end of file`` where a side ends without one (as git
and patch expect), at most ``limit`` bytes (whole hunks only).

Only the part of the file an edit can have touched is compared: the caller says how many
bytes at the start and at the end are known to be unchanged (editing.py knows where it
replaced), so diffing one edit in a 60 MiB file costs what its lines cost. Pure: bytes in,
text out.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["MAX_DIFF_BYTES", "unified_diff"]

MAX_DIFF_BYTES = 1 << 20  # what fits any client's default 4 MiB message with room to spare
CONTEXT = 3
NL = b"\n"
NO_NEWLINE = b"\\ No newline at end of file\n"


def unified_diff(old: bytes, new: bytes, name: str, same_head: int, same_tail: int,
                 limit: int = MAX_DIFF_BYTES) -> tuple[str, bool]:
    """The diff from old to new (valid UTF-8 both) and whether it was cut at ``limit``.
    ``same_head``/``same_tail``: bytes known to be equal at the start / the end of both
    (a lower bound is fine). Empty when nothing changed."""
    if old == new:
        return "", False
    shortest = min(len(old), len(new))
    same_head = min(same_head, shortest)
    same_tail = min(same_tail, shortest - same_head)
    # Whole lines only: back to the start of the first line that may differ (the head is
    # the same in both), on to the end of the last (the tail is the same in both).
    start = old.rfind(NL, 0, same_head) + 1
    old_end, new_end = len(old) - same_tail, len(new) - same_tail
    if not (_line_start(old, old_end) and _line_start(new, new_end)):
        stop = old.find(NL, old_end)
        grow = (len(old) if stop < 0 else stop + 1) - old_end
        old_end, new_end = old_end + grow, new_end + grow
    # CONTEXT more lines on either side, always equal, so every hunk has its full context
    # (patch takes a hunk with less as one at the start or the end of the file).
    first = start
    for _ in range(CONTEXT):
        if first == 0:
            break
        first = old.rfind(NL, 0, first - 1) + 1
    last = _after_lines(old, old_end, CONTEXT)
    before, after = _lines(old[first:start]), _lines(old[old_end:last])
    a_mid, b_mid = _lines(old[start:old_end]), _lines(new[start:new_end])
    a, b = before + a_mid + after, before + b_mid + after
    k = len(before)
    codes = [("equal", 0, k, 0, k)]
    codes += [(tag, a1 + k, a2 + k, b1 + k, b2 + k) for tag, a1, a2, b1, b2
              in difflib.SequenceMatcher(None, a_mid, b_mid).get_opcodes()]
    codes.append(("equal", len(a) - len(after), len(a), len(b) - len(after), len(b)))
    line0 = old.count(NL, 0, first)  # lines before the compared part, in both
    out = [b"--- a/" + _quoted(name) + b"\n", b"+++ b/" + _quoted(name) + b"\n"]
    size = len(out[0]) + len(out[1])
    truncated = False
    for group in _groups(codes, CONTEXT):
        hunk = _hunk(a, b, group, line0)
        if size + len(hunk) > limit:
            truncated = True
            break
        out.append(hunk)
        size += len(hunk)
    return b"".join(out).decode("utf-8"), truncated


Opcode = tuple[str, int, int, int, int]


def _groups(codes: Sequence[Opcode], n: int) -> list[list[Opcode]]:
    """The opcodes as hunks with n lines of context (difflib's get_grouped_opcodes, over
    opcodes given rather than computed; adjacent equal runs are merged first)."""
    merged: list[Opcode] = []
    for code in codes:
        if code[1] == code[2] and code[3] == code[4]:
            continue  # empty
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


def _line_start(data: bytes, pos: int) -> bool:
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


def _range(start: int, stop: int) -> bytes:
    """A hunk header's range, as difflib and diff(1) write it (1-based; ``N`` for one
    line, ``N,0`` after line N for none)."""
    length = stop - start
    if length == 1:
        return b"%d" % (start + 1)
    return b"%d,%d" % (start + 1 if length else start, length)


def _hunk(a: Sequence[bytes], b: Sequence[bytes], group: Sequence[Opcode], line0: int
          ) -> bytes:
    i1, i2 = group[0][1], group[-1][2]
    j1, j2 = group[0][3], group[-1][4]
    out = [b"@@ -" + _range(line0 + i1, line0 + i2) + b" +" + _range(line0 + j1, line0 + j2)
           + b" @@\n"]

    def emit(mark: bytes, lines: Sequence[bytes]) -> None:
        for line in lines:
            out.append(mark + line)
            if not line.endswith(NL):  # the file's last line (the parts end on lines)
                out.append(b"\n" + NO_NEWLINE)

    for tag, a1, a2, b1, b2 in group:
        if tag == "equal":
            emit(b" ", a[a1:a2])
        else:
            emit(b"-", a[a1:a2])
            emit(b"+", b[b1:b2])
    return b"".join(out)


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
