"""The pure parts of EditFile and the line windows, without a server: the edits and the
regions they record (helper/editing.py, helper/textdiff.py), the diff -- which patch(1)
applies exactly, for any text and edits -- and the line window scans (helper/lines.py),
which read only what they must."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fsgate_server.errors import Failure
from fsgate_server.helper import lines
from fsgate_server.helper.editing import apply_edits
from fsgate_server.helper.messages import TextEdit
from fsgate_server.helper.textdiff import Changes, unified_diff
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Text from few distinct lines and pieces, so that edits match, overlap and repeat.
LINE = st.sampled_from(["x", "y", "z", "", "xy", "q r", "é"])
TEXT = st.lists(st.tuples(LINE, st.booleans()), max_size=40).map(
    lambda parts: "".join(text + ("\n" if nl else "") for text, nl in parts).encode())
EDIT = st.builds(TextEdit, st.sampled_from(["x", "y", "z\n", "\nx", "y\ny", "q", "é"]),
                 st.sampled_from(["", "W", "x", "\n", "a\nb", "zz\n", "ü"]), st.booleans())


def reference(text: bytes, edits: list[TextEdit]) -> bytes:
    for e in edits:
        text = text.replace(e.old_text.encode(), e.new_text.encode(),
                            -1 if e.replace_all else 1)
    return text


@given(TEXT, st.lists(EDIT, min_size=1, max_size=4))
def test_regions_say_exactly_where_the_result_differs(text: bytes, edits: list[TextEdit]
                                                      ) -> None:
    try:
        new, _, changes = apply_edits(text, edits, 1 << 30, "/f")
    except Failure:
        return
    assert new == reference(text, edits)
    rebuilt, pos = [], 0
    for a0, a1, b0, b1 in changes.regions:
        assert pos <= a0 <= a1 and b0 <= b1
        rebuilt += [text[pos:a0], new[b0:b1]]
        pos = a1
    assert b"".join([*rebuilt, text[pos:]]) == new


PATCH = shutil.which("patch")


@pytest.mark.skipif(PATCH is None, reason="patch(1) is not installed")
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(TEXT, st.lists(EDIT, min_size=1, max_size=4))
def test_patch_applies_the_diff_exactly(tmp_path: Path, text: bytes, edits: list[TextEdit]
                                        ) -> None:
    try:
        new, _, changes = apply_edits(text, edits, 1 << 30, "/f")
    except Failure:
        return
    diff, truncated = unified_diff(text, new, "f.txt", changes)
    assert not truncated
    if text == new:
        assert diff == ""
        return
    (tmp_path / "f.txt").write_bytes(text)
    (tmp_path / "p.diff").write_text(diff)
    assert PATCH is not None
    done = subprocess.run([PATCH, "-F0", "-s", "-p1", "-i", "p.diff"], cwd=tmp_path,
                          capture_output=True, timeout=30, check=False)  # -F0: exact context
    assert done.returncode == 0, (done.stdout, diff)
    assert (tmp_path / "f.txt").read_bytes() == new


def test_a_diff_matches_diff_u_for_one_change() -> None:
    old = b"".join(b"%d\n" % i for i in range(20))
    new, _, changes = apply_edits(old, [TextEdit("10\n", "ten\n")], 1 << 20, "/f")
    diff, _ = unified_diff(old, new, "n.txt", changes)
    assert diff == ("--- a/n.txt\n+++ b/n.txt\n@@ -8,7 +8,7 @@\n 7\n 8\n 9\n-10\n+ten\n"
                    " 11\n 12\n 13\n")


def test_far_apart_changes_are_separate_hunks_with_the_new_line_numbers() -> None:
    old = b"".join(b"L%d\n" % i for i in range(40))
    new, count, changes = apply_edits(old, [TextEdit("L5\n", "L5\nfive\n"),
                                            TextEdit("L30\n", "")], 1 << 20, "/f")
    diff, _ = unified_diff(old, new, "n.txt", changes)
    assert count == 2
    # as diff -u numbers them
    assert diff == ("--- a/n.txt\n+++ b/n.txt\n"
                    "@@ -4,6 +4,7 @@\n L3\n L4\n L5\n+five\n L6\n L7\n L8\n"
                    "@@ -28,7 +29,6 @@\n L27\n L28\n L29\n-L30\n L31\n L32\n L33\n")


def test_a_diff_names_odd_file_names_as_git_quotes_them() -> None:
    changes = Changes()
    changes.replaced([(0, 1)], 0)
    diff, _ = unified_diff(b"a\n", b"b\n", 'we"ird\nname', changes)
    assert diff.startswith('--- a/"we\\"ird\\nname"\n+++ b/"we\\"ird\\nname"\n')


def test_more_occurrences_than_tracked_still_diff_correctly(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr("fsgate_server.helper.editing.MAX_TRACKED", 3)
    old = b"".join(b"k%d v\n" % i for i in range(10))
    new, count, changes = apply_edits(old, [TextEdit("v", "w", True)], 1 << 20, "/f")
    assert count == 10 and len(changes.regions) == 1  # one stretch
    diff, _ = unified_diff(old, new, "f", changes)
    assert diff.count("\n-k") == 10 and diff.count("\n+k") == 10


# --- line windows read only what they must ------------------------------------------------

class CountingPread:
    def __init__(self) -> None:
        self.bytes = 0
        self.real = os.pread

    def __call__(self, fd: int, n: int, offset: int) -> bytes:
        data = self.real(fd, n, offset)
        self.bytes += len(data)
        return data


@pytest.fixture
def sparse_log(tmp_path: Path) -> tuple[int, int]:
    """An open 1 GiB sparse file followed by 1000 lines; (fd, size)."""
    path = tmp_path / "huge.log"
    with open(path, "wb") as f:
        f.truncate(1 << 30)
        f.seek(1 << 30)
        f.write(b"".join(b"line %04d\n" % i for i in range(1000)))
    fd = os.open(path, os.O_RDONLY)
    return fd, os.fstat(fd).st_size


def test_a_tail_of_a_1_gib_file_reads_one_block(sparse_log: tuple[int, int],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    fd, size = sparse_log
    counting = CountingPread()
    monkeypatch.setattr(os, "pread", counting)
    start, end = lines.window(fd, size, 0, 0, 10)
    os.close(fd)
    assert (end - start, end) == (10 * 10, size)
    assert counting.bytes <= lines.TAIL_BLOCK


def test_a_window_reads_up_to_its_last_line_only(monkeypatch: pytest.MonkeyPatch) -> None:
    fd, size = fd_of_lines(b"".join(b"%d\n" % i for i in range(1_000_000)))  # ~6.9 MB
    counting = CountingPread()
    monkeypatch.setattr(os, "pread", counting)
    start, end = lines.window(fd, size, 10, 5, 0)
    os.close(fd)
    assert (start, end) == (20, 35)
    assert counting.bytes <= 2 * lines.FORWARD_BLOCK  # the block holding them, not the file


def fd_of_lines(data: bytes) -> tuple[int, int]:
    fd = os.memfd_create("lines")
    os.write(fd, data)
    return fd, len(data)


@pytest.mark.parametrize(("data", "offset", "limit", "tail", "expected"), [
    (b"", 0, 0, 3, b""), (b"", 2, 1, 0, b""), (b"a", 0, 0, 1, b"a"), (b"a\n", 0, 0, 1, b"a\n"),
    (b"a\nb", 1, 0, 0, b"b"), (b"a\nb\n", 2, 0, 0, b""), (b"a\n\n", 0, 0, 1, b"\n"),
    (b"a\r\nb\r\n", 0, 1, 0, b"a\r\n"), (b"a\nb\nc\n", 0, 0, 5, b"a\nb\nc\n"),
    (b"x" * 100_000 + b"\ny", 0, 0, 2, b"x" * 100_000 + b"\ny"),  # longer than a block
])
def test_window_edges(data: bytes, offset: int, limit: int, tail: int, expected: bytes
                      ) -> None:
    fd, size = fd_of_lines(data)
    start, end = lines.window(fd, size, offset, limit, tail)
    os.close(fd)
    assert data[start:end] == expected
