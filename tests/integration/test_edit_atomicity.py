"""EditFile replaces a file atomically, as WriteFile does, and never loses a concurrent
change: a reader sees only whole versions, of two edits at the same if_version exactly one
wins, and edits racing without if_version all land."""
from __future__ import annotations

import os
import threading
from concurrent import futures
from functools import partial
from pathlib import Path

import fsgate
import pytest
from fsgate import Client

from ..conftest import ServerProcess

PADDING = "".join(f"padding line {i:05}\n" for i in range(20_000))  # ~400 KiB


def version_text(i: int) -> str:
    return f"counter {i:04}\n{PADDING}counter {i:04} end\n"


def test_reader_polling_during_200_edits_sees_only_complete_versions(client: Client,
                                                                      ws: Path) -> None:
    target = ws / "polled.txt"
    target.write_text(version_text(0))
    complete = {version_text(i).encode() for i in range(201)}
    stop = threading.Event()
    seen: list[int] = []
    torn: list[bytes] = []

    def poll() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            if data in complete:
                seen.append(int(data[8:12]))
            else:
                torn.append(data[:40])

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for i in range(200):
            result = client.edit_file(str(target), f"counter {i:04}", f"counter {i + 1:04}",
                                      replace_all=True)
            assert result.replacements == 2
    finally:
        stop.set()
        reader.join()
    assert not torn, torn[:3]  # never a mix, never a partial file, never empty
    assert seen == sorted(seen) and len(set(seen)) > 1  # the reader did watch it change
    assert target.read_text() == version_text(200)
    assert not [p for p in os.listdir(ws) if p.startswith(".fsgate-tmp-")]


def _edit_at(target: str, version: str, barrier: threading.Barrier, server: str,
             name: str) -> str:
    with Client(server) as own:  # one channel each: really concurrent
        barrier.wait()
        try:
            own.edit_file(target, "start", name, if_version=version)
        except fsgate.VersionMismatch:
            return "lost"
        return "won"


def test_two_concurrent_edits_at_the_same_version_exactly_one_wins(
        served: ServerProcess, ws: Path) -> None:
    target = ws / "race.txt"
    for round_ in range(10):
        target.write_text("state: start\n")
        with Client(served.target) as probe:
            version = probe.stat(str(target)).version
        edit = partial(_edit_at, str(target), version, threading.Barrier(2), served.target)
        with futures.ThreadPoolExecutor(2) as pool:
            outcomes = dict(zip(("left", "right"), pool.map(edit, ("left", "right")),
                                strict=True))
        assert sorted(outcomes.values()) == ["lost", "won"], (round_, outcomes)
        winner = next(name for name, outcome in outcomes.items() if outcome == "won")
        assert target.read_text() == f"state: {winner}\n"


def test_concurrent_edits_without_if_version_all_land(served: ServerProcess,
                                                      ws: Path) -> None:
    """Each edit reads, changes and commits; one whose file changed in between does it
    again on the new content instead of overwriting the other writer's change."""
    target = ws / "shared.txt"
    names = [f"slot{i}" for i in range(8)]
    target.write_text("".join(f"{name}=old\n" for name in names))
    barrier = threading.Barrier(len(names))

    def edit(name: str) -> int:
        with Client(served.target) as own:
            barrier.wait()
            return own.edit_file(str(target), f"{name}=old", f"{name}=new").replacements

    with futures.ThreadPoolExecutor(len(names)) as pool:
        assert list(pool.map(edit, names)) == [1] * len(names)
    assert target.read_text() == "".join(f"{name}=new\n" for name in names)


def _write(target: str, barrier: threading.Barrier, server: str) -> None:
    with Client(server) as own:
        barrier.wait()
        own.write_file(target, b"a=2\nb=1\n")


def _edit(target: str, barrier: threading.Barrier, server: str) -> None:
    with Client(server) as own:
        barrier.wait()
        try:
            own.edit_file(target, "b=1", "b=3")
        except fsgate.NoMatch:
            raise AssertionError("the write never removes b=1") from None


@pytest.mark.parametrize("write_first", [True, False], ids=["write-then-edit",
                                                           "edit-then-write"])
def test_an_edit_and_a_write_racing_never_mix(served: ServerProcess, ws: Path,
                                              write_first: bool) -> None:
    """Whichever commits last wins whole: the file is the write's content, or the edit
    applied to the write's content -- never the edit applied to the original content,
    which would drop the write."""
    target = ws / "mixed.txt"
    for _ in range(5):
        target.write_text("a=1\nb=1\n")
        barrier = threading.Barrier(2)
        jobs = (_write, _edit) if write_first else (_edit, _write)
        with futures.ThreadPoolExecutor(2) as pool:
            for job in [pool.submit(f, str(target), barrier, served.target) for f in jobs]:
                job.result()
        assert target.read_text() in {"a=2\nb=1\n", "a=2\nb=3\n"}
