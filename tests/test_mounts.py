"""mounts.py: parsing mountinfo, the mounts a bind of a path gets, and the cheap watcher."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

try:
    import fsgate_server  # noqa: F401
except ImportError:  # not installed: run from the source tree
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_ROOT / "service"), str(_ROOT / "client")]

from fsgate_server.backends.bwrap.mounts import MountTable, below, parse_mountinfo, unescape

SAMPLE = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 0:39 / /srv/w/sub rw,relatime - tmpfs tmp rw
41 40 0:40 / /srv/w/sub/deeper rw master:3 - tmpfs tmp2 rw
42 27 0:41 / /srv/w\\040space rw - tmpfs odd rw
43 27 0:42 / /srv/wx rw - tmpfs sibling rw
44 27 0:43 / /srv/w/sub rw - tmpfs stacked rw
not a mountinfo line
"""


def test_mountinfo_lines_are_parsed_with_optional_fields_and_escapes() -> None:
    mounts = parse_mountinfo(SAMPLE)
    assert [m.mount_id for m in mounts] == [22, 27, 40, 41, 42, 43, 44]
    deeper = mounts[3]
    assert (deeper.parent_id, deeper.device, deeper.root, deeper.mount_point, deeper.fstype,
            deeper.source) == (40, "0:40", "/", "/srv/w/sub/deeper", "tmpfs", "tmp2")
    assert mounts[4].mount_point == "/srv/w space"
    assert unescape("a\\011b\\012c\\134d") == "a\tb\nc\\d"


def test_below_a_path_is_its_covering_mount_and_every_mount_inside_it_not_siblings() -> None:
    mounts = parse_mountinfo(SAMPLE)
    assert [m[0] for m in below(mounts, "/srv/w")] == [27, 40, 41, 44]
    # A path on a mount point: the mount on top is the one it lies on.
    assert [m[0] for m in below(mounts, "/srv/w/sub")] == [44, 41]
    assert [m[0] for m in below(mounts, "/srv/w/sub/deeper/x")] == [41]
    assert [m[0] for m in below(mounts, "/srv/other")] == [27]


def test_below_changes_when_a_mount_appears_or_goes_below_the_path() -> None:
    mounts = parse_mountinfo(SAMPLE)
    without = tuple(m for m in mounts if m.mount_id != 41)
    assert below(without, "/srv/w") != below(mounts, "/srv/w")
    assert below(without, "/srv/wx") == below(mounts, "/srv/wx")  # not below it


def test_the_table_is_read_again_only_after_the_kernel_flags_a_change(tmp_path: Path) -> None:
    where = tmp_path / "w" / "sub"
    where.mkdir(parents=True)
    table = MountTable()
    try:
        generation = table.refresh()
        before = table.below(str(tmp_path / "w"))
        assert table.refresh() == generation  # nothing changed: nothing read
        done = subprocess.run(["mount", "-t", "tmpfs", "fsgate-test", str(where)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        try:
            assert table.refresh() > generation
            mounted = table.below(str(tmp_path / "w"))
            assert mounted != before
            assert mounted[-1][1:3] == (str(where), "tmpfs")
        finally:
            subprocess.run(["umount", str(where)], check=True)
        assert table.refresh() > generation + 1
        assert table.below(str(tmp_path / "w")) == before
    finally:
        table.close()
