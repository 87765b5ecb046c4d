"""What a killed Copy leaves (a marked temporary directory, ``.fsgate-tmp-<hex>``, with
whatever it had copied) is removed by the next start-up sweep, whole and never through a
link; a directory that only looks like one stays."""
from __future__ import annotations

import os
from pathlib import Path

from ..conftest import start_server
from ..helpers import snapshot
from .test_faults import wait_for

MARK = "user.fsgate.temp"


def _marked_dir(path: Path, hex_digits: str) -> None:
    path.mkdir()
    os.setxattr(path, MARK, hex_digits.encode())


def test_stale_temporary_trees_are_removed_at_startup(tmp_path: Path, backend: str) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keep").write_text("outside")
    stale = root / "deep" / ".fsgate-tmp-0123456789abcdef"
    (root / "deep").mkdir()
    _marked_dir(stale, "0123456789abcdef")  # what a killed copy leaves, half copied
    (stale / "sub" / "subsub").mkdir(parents=True)
    (stale / "sub" / "f").write_bytes(b"half")
    (stale / "out").symlink_to(outside)
    os.chmod(stale / "sub", 0o555)  # a copied read-only directory
    kept = {
        ".fsgate-tmp-fedcba9876543210": "",  # no mark: someone's directory
        ".fsgate-tmp-aaaaaaaaaaaaaaaa": "bbbbbbbbbbbbbbbb",  # marked for another name
        "copy-in-progress": "cccccccccccccccc",  # marked, but not a temporary's name
    }
    for name, mark in kept.items():
        if mark:
            _marked_dir(root / name, mark)
        else:
            (root / name).mkdir()
        (root / name / "data").write_text("keep")
    before = snapshot(root)

    server = start_server(tmp_path, [str(root)], backend)
    try:
        wait_for(lambda: "sweep_done" in server.log())
    finally:
        server.stop()

    assert not stale.exists()
    assert snapshot(root) == {k: v for k, v in before.items() if not k.startswith(
        "deep/.fsgate-tmp-")}
    assert (outside / "keep").read_text() == "outside"

