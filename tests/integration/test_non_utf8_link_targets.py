"""A symlink whose target is not UTF-8 is reported, not an INTERNAL error: Stat and every
ListDir covering it answer, with the exact bytes in raw_symlink_target (as raw_name is for
names) and a lossy UTF-8 form in symlink_target."""
from __future__ import annotations

import os
from pathlib import Path

import fsgate
from fsgate import Client

TARGET = b"\xff\xfe"


def test_stat_of_a_symlink_with_a_non_utf8_target_gives_its_raw_bytes(client: Client,
                                                                       ws: Path) -> None:
    os.symlink(TARGET, os.fsencode(ws / "odd"))
    info = client.stat(str(ws / "odd"))
    assert info.type is fsgate.FileType.SYMLINK
    assert info.raw_symlink_target == TARGET
    assert info.symlink_target == "\ufffd\ufffd"
    assert info.size == len(TARGET)


def test_listing_a_tree_with_a_non_utf8_link_target_lists_it_at_every_depth(
        client: Client, ws: Path) -> None:
    (ws / "sub").mkdir()
    os.symlink(TARGET, os.fsencode(ws / "sub" / "odd"))
    os.symlink(b"ok-\xe9", os.fsencode(ws / "sub") + b"/name-\xff")  # both not UTF-8
    (ws / "sub" / "plain").symlink_to("fine")
    for path, depth, prefix in ((ws / "sub", 1, ""), (ws, 2, "sub/")):
        entries = {e.name: e for e in client.list_dir(str(path), depth=depth)}
        odd = entries[prefix + "odd"]
        assert odd.info.raw_symlink_target == TARGET and odd.raw_name is None
        both = entries[prefix + "name-\ufffd"]
        assert both.raw_name == os.fsencode(prefix) + b"name-\xff"
        assert both.info.raw_symlink_target == b"ok-\xe9"
        assert both.info.symlink_target == "ok-\ufffd"
        plain = entries[prefix + "plain"]
        assert plain.info.symlink_target == "fine" and plain.info.raw_symlink_target is None
