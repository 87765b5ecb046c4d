"""WatchDir against real servers (both backends): every event type, recursive and not,
directories that appear with content, globs, coalescing, and the guarantee of ``started``:
a change made after it is always reported."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import fsgate
import pytest
from fsgate import FileEvent, FileEventType, WatchOverflow

from ..conftest import ServerProcess
from ..watch_helpers import events, names, sentinel, step, until

TIMEOUT = 60.0  # seconds: a watch that should have ended a test fails it instead of hanging


def test_every_event_type_is_reported_for_a_plain_watch(client: fsgate.Client,
                                                        ws: Path) -> None:
    (ws / "old.txt").write_text("old")
    (ws / "sub").mkdir()
    (ws / "away").mkdir()  # a sibling of the watched directory: outside the watch
    watched = ws / "w"
    watched.mkdir()
    (watched / "keep.txt").write_text("keep")
    with client.watch(watched, timeout=TIMEOUT) as watch:
        assert watch.watched_directories == 1
        (watched / "new.txt").write_text("")
        with open(watched / "keep.txt", "a") as f:
            f.write("more")
        os.chmod(watched / "keep.txt", 0o600)
        os.rename(watched / "keep.txt", watched / "kept.txt")
        os.mkdir(watched / "dir")
        (watched / "dir" / "inside.txt").write_text("not watched: not recursive")
        os.rename(ws / "old.txt", watched / "moved-in.txt")
        os.rename(watched / "new.txt", ws / "away" / "moved-out.txt")
        os.unlink(watched / "kept.txt")
        got = events(step(watch, watched), watched)
    assert got == [
        ("CREATED", "new.txt", None, False),
        ("MODIFIED", "keep.txt", None, False),
        ("ATTRIBUTES_CHANGED", "keep.txt", None, False),
        ("MOVED", "kept.txt", "keep.txt", False),
        ("CREATED", "dir", None, True),
        ("CREATED", "moved-in.txt", None, False),
        ("DELETED", "new.txt", None, False),
        ("DELETED", "kept.txt", None, False),
    ]


def test_a_recursive_watch_reports_below_and_watches_new_directories(
        client: fsgate.Client, ws: Path) -> None:
    (ws / "a" / "b").mkdir(parents=True)
    with client.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
        assert watch.watched_directories == 3
        (ws / "a" / "b" / "f.txt").write_text("")
        (ws / "n1" / "n2" / "n3").mkdir(parents=True)
        (ws / "n1" / "n2" / "n3" / "deep.txt").write_text("")
        first = events(step(watch, ws), ws)
        os.rename(ws / "n1", ws / "a" / "renamed")
        (ws / "a" / "renamed" / "n2" / "later.txt").write_text("")
        os.rename(ws / "a" / "b", ws / "b-top")
        os.unlink(ws / "b-top" / "f.txt")
        second = events(step(watch, ws), ws)
    created = [e for e in first if e[0] == "CREATED"]
    assert created == [("CREATED", "a/b/f.txt", None, False), ("CREATED", "n1", None, True),
                       ("CREATED", "n1/n2", None, True), ("CREATED", "n1/n2/n3", None, True),
                       ("CREATED", "n1/n2/n3/deep.txt", None, False)]
    assert [e for e in second if e[0] != "MODIFIED"] == [
        ("MOVED", "a/renamed", "n1", True),
        ("CREATED", "a/renamed/n2/later.txt", None, False),
        ("MOVED", "b-top", "a/b", True),
        ("DELETED", "b-top/f.txt", None, False),
    ]


def test_a_directory_moved_in_with_content_reports_all_of_it(client: fsgate.Client,
                                                             ws: Path) -> None:
    staging = ws / "staging"  # outside the watched directory
    (staging / "tree" / "x" / "y").mkdir(parents=True)
    for rel in ("top.txt", "x/a.txt", "x/y/b.txt"):
        (staging / "tree" / rel).write_text(rel)
    watched = ws / "w"
    watched.mkdir()
    with client.watch(watched, recursive=True, timeout=TIMEOUT) as watch:
        os.rename(staging / "tree", watched / "tree")
        (watched / "tree" / "x" / "y" / "after.txt").write_text("")  # watched by now
        got = sorted(e[1] for e in events(step(watch, watched), watched) if e[0] == "CREATED")
    assert got == ["tree", "tree/top.txt", "tree/x", "tree/x/a.txt", "tree/x/y",
                   "tree/x/y/after.txt", "tree/x/y/b.txt"]


def test_a_plain_watch_reports_no_change_below_its_subdirectories(client: fsgate.Client,
                                                                   ws: Path) -> None:
    (ws / "sub").mkdir()
    with client.watch(ws, timeout=TIMEOUT) as watch:
        (ws / "sub" / "f.txt").write_text("")
        os.mkdir(ws / "sub" / "deeper")
        got = names(step(watch, ws))
    assert not [p for p in got if p.startswith(str(ws / "sub") + "/")]


def test_include_and_exclude_globs_select_the_events(client: fsgate.Client,
                                                     ws: Path) -> None:
    (ws / "src" / "build").mkdir(parents=True)
    (ws / "build").mkdir()
    with client.watch(ws, recursive=True, include=["*.py", "sentinel-*"],
                      exclude=["build/", "src/skip*"], timeout=TIMEOUT) as watch:
        for rel in ("a.py", "a.txt", "src/b.py", "src/b.c", "build/c.py",
                    "src/build/d.py", "src/skip.py", "src/keep.py"):
            (ws / rel).write_text("")
        got = sorted(e[1] for e in events(step(watch, ws), ws) if e[0] == "CREATED")
    assert got == ["a.py", "src/b.py", "src/keep.py"]


def test_a_burst_of_writes_to_one_file_is_coalesced_and_the_last_is_reported(
        client: fsgate.Client, ws: Path) -> None:
    target = ws / "busy.log"
    target.write_text("")
    with client.watch(ws, timeout=TIMEOUT) as watch:
        with open(target, "a") as f:
            for i in range(2000):
                f.write(f"line {i}\n")
                f.flush()
        items = step(watch, ws)
        modified = [e for e in events(items, ws) if e[0] == "MODIFIED"]
        # The trailing MODIFIED of the last window may come after the sentinel: wait for
        # a second sentinel well after it, to see every MODIFIED of the burst.
        more = until(watch, sentinel_after_window(ws))[:-1]
    modified += [e for e in events(more, ws) if e[0] == "MODIFIED"]
    assert 1 <= len(modified) < 2000
    assert modified[-1][1] == "busy.log"


def sentinel_after_window(d: Path) -> Path:
    import time

    time.sleep(0.2)  # > the 50 ms window: the burst's trailing event is due before this
    return sentinel(d)


def test_a_change_right_after_started_is_always_reported(client: fsgate.Client,
                                                         ws: Path) -> None:
    for i in range(100):
        with client.watch(ws, timeout=TIMEOUT) as watch:
            target = ws / f"round-{i}"
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))  # at once
            item = next(iter(watch))
        assert item == FileEvent(FileEventType.CREATED, str(target)), f"round {i}"


def test_ten_thousand_creations_are_all_reported_or_end_in_overflow(
        client: fsgate.Client, ws: Path) -> None:
    burst = ws / "burst"
    burst.mkdir()
    with client.watch(burst, timeout=TIMEOUT) as watch:
        for i in range(10_000):
            os.close(os.open(burst / f"f{i:05}", os.O_CREAT | os.O_WRONLY, 0o644))
        items = until(watch, sentinel(burst))
    overflowed = any(isinstance(item, WatchOverflow) for item in items)
    created = {Path(p).name for p in names(items)}
    missing = {f"f{i:05}" for i in range(10_000)} - created
    assert overflowed or not missing, f"{len(missing)} creations lost without an overflow"


@pytest.mark.parametrize("name", ["caf\u00e9", "with space", "new\nline"])
def test_names_are_reported_as_they_are(client: fsgate.Client, ws: Path, name: str) -> None:
    with client.watch(ws, timeout=TIMEOUT) as watch:
        (ws / name).write_text("")
        got = events(step(watch, ws), ws)
    assert ("CREATED", name, None, False) in got


def test_a_write_file_is_one_created_of_its_target(client: fsgate.Client, ws: Path) -> None:
    """Its temporary (an O_TMPFILE, then a .fsgate-tmp-* name) is never reported."""
    with client.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
        client.write_file(ws / "a.txt", b"first")
        client.write_file(ws / "a.txt", b"replaced")
        client.write_file(ws / "sub" / "b.txt", b"new", create_parents=True)
        got = events(step(watch, ws), ws)
    assert got == [("CREATED", "a.txt", None, False), ("CREATED", "a.txt", None, False),
                   ("CREATED", "sub", None, True), ("CREATED", "sub/b.txt", None, False)]


def test_the_async_client_watches_the_same_way(served: ServerProcess, ws: Path) -> None:
    async def body() -> tuple[list[tuple[str, str, str | None, bool]], str]:
        async with fsgate.AsyncClient(served.target) as fs:
            async with await fs.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
                assert watch.watched_directories == 1
                (ws / "d").mkdir()
                (ws / "d" / "f.txt").touch()
                got = []
                async for item in watch:
                    got.append(item)
                    if isinstance(item, FileEvent) and item.path.endswith("f.txt"):
                        break
            async for _ in watch:  # closed: iteration just ends
                raise AssertionError("an event after close")
            try:
                await fs.watch(ws / "missing")
            except fsgate.NotFound as exc:
                return events(got, ws), exc.code.name
        raise AssertionError("no NotFound")

    got, code = asyncio.run(body())
    assert got == [("CREATED", "d", None, True), ("CREATED", "d/f.txt", None, False)]
    assert code == "NOT_FOUND"
