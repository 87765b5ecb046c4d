"""Search and Glob end at the server's bounds with ``truncated``, never by exhausting the
server: the entry bound (--max-list-entries, lowered here to keep the trees small, and
once on a real 100,000-file tree: its creation takes ~5 s, up to 100 s when the disk is
busy; FSGATE_HUGE_TREE=0 skips it), the match cap (--max-matches), and the call's
deadline (the helper stops a little before it and sends what it found)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fsgate
import pytest
from fsgate import Client

from ..conftest import ServerProcess, start_server

ENTRY_BOUND = 1000
MATCH_CAP = 20
HUGE = 100_000
HUGE_TREE = os.environ.get("FSGATE_HUGE_TREE", "1") != "0"


def make_files(root: Path, count: int, per_dir: int = 1000) -> None:
    """``count`` files of one line, ``per_dir`` per directory, created by descriptor."""
    root.mkdir(parents=True, exist_ok=True)
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for d in range((count + per_dir - 1) // per_dir):
            os.mkdir(f"d{d:03d}", dir_fd=top)
            sub = os.open(f"d{d:03d}", os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
            try:
                for i in range(min(per_dir, count - d * per_dir)):
                    fd = os.open(f"f{i:04d}", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=sub)
                    os.write(fd, b"x\n")
                    os.close(fd)
            finally:
                os.close(sub)
    finally:
        os.close(top)


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("bounded")
    make_files(base / "small", 3 * ENTRY_BOUND, per_dir=100)
    if HUGE_TREE:
        make_files(base / "huge", HUGE)
    return base


@pytest.fixture(scope="module")
def bounded(backend: str, trees: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp(f"bounded-run-{backend}"), [str(trees)],
                          backend, "--max-list-entries", str(ENTRY_BOUND),
                          "--max-matches", str(MATCH_CAP))
    yield server
    server.stop()


@pytest.fixture
def bclient(bounded: ServerProcess) -> Iterator[Client]:
    with Client(bounded.target) as c:
        yield c


def test_a_tree_over_the_entry_bound_stops_there_with_truncated(bclient: Client,
                                                                trees: Path) -> None:
    result = bclient.search(str(trees / "small"), "nothing matches this")
    assert list(result) == []
    assert result.summary is not None and result.summary.truncated
    assert 0 < result.summary.files_searched < ENTRY_BOUND
    glob = bclient.glob(str(trees / "small"), "nothing-matches-this")
    assert glob.entries == () and glob.truncated


@pytest.mark.skipif(not HUGE_TREE, reason="FSGATE_HUGE_TREE=0: the 100,000-file tree skipped")
def test_a_100k_file_tree_stops_at_the_bound_with_truncated(bclient: Client,
                                                            trees: Path) -> None:
    # The walk reads d000's 1000 names past the bound: it stops before searching any.
    result = bclient.search(str(trees / "huge"), "x")
    assert list(result) == [] and result.summary is not None and result.summary.truncated
    assert result.summary.files_searched < ENTRY_BOUND
    glob = bclient.glob(str(trees / "huge"), "*.none")
    assert glob.truncated and glob.entries == ()


def test_max_matches_above_the_server_cap_is_capped(bclient: Client, trees: Path) -> None:
    result = bclient.search(str(trees / "small"), "x", max_matches=10_000)
    assert len(list(result)) == MATCH_CAP
    assert result.summary is not None and result.summary.truncated
    glob = bclient.glob(str(trees / "small"), "f*", max_results=10_000)
    assert len(glob.entries) == MATCH_CAP and glob.truncated


def test_a_search_that_runs_out_of_time_ends_with_what_it_found(client: Client,
                                                                ws: Path) -> None:
    # 256 MiB of lines RE2 can only take at NFA speed (~150 MB/s here): seconds of work
    # for a call that gives it one.
    line = (b"ab" * 500 + b"\n") * 1024
    with open(ws / "big", "wb") as f:
        for _ in range(256):
            f.write(line)
    try:
        result = client.search(str(ws), "(a|b)*a(a|b){30}c", timeout=1.0)
        assert list(result) == []
    except fsgate.DeadlineExceeded:
        pytest.fail("the helper should have stopped before the deadline and answered")
    finally:
        (ws / "big").unlink()
    assert result.summary is not None and result.summary.truncated


def test_a_tree_deeper_than_the_helpers_descriptors_allow_ends_truncated(client: Client,
                                                                         ws: Path) -> None:
    # One descriptor per level: a helper (64 descriptors) walks ~40 levels, then says so.
    (ws / "top.txt").write_text("x\n")
    deep = ws.joinpath(*["d"] * 80)
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("x\n")
    result = client.search(str(ws), "x")
    assert [m.path for m in result] == [str(ws / "top.txt")]
    assert result.summary is not None and result.summary.truncated
    glob = client.glob(str(ws), "*.txt")
    assert [e.name for e in glob.entries] == ["top.txt"] and glob.truncated
