"""Hostile shapes stay bounded in time and memory: huge directories, deep trees, sparse
files, files that grow or shrink during a read."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import fsgate
import grpc
import pytest

from ..conftest import start_server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    d = tmp_path / "root"
    d.mkdir()
    return d


def test_huge_directory_over_the_scan_budget_is_too_large(tmp_path: Path, root: Path,
                                                          backend: str) -> None:
    for i in range(300):
        (root / f"f{i}").touch()
    server = start_server(tmp_path, [str(root)], backend, "--max-list-entries", "200")
    try:
        with fsgate.Client(server.target) as c:
            with pytest.raises(fsgate.TooLarge) as err:
                list(c.list_dir(str(root)))
            assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop()


def test_deep_tree_is_listed_only_to_the_depth_cap(tmp_path: Path, root: Path,
                                                   backend: str) -> None:
    deep = root
    for i in range(40):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    server = start_server(tmp_path, [str(root)], backend, "--max-list-depth", "8")
    try:
        with fsgate.Client(server.target) as c:
            names = [e.name for e in c.list_dir(str(root), depth=8)]
            assert len(names) == 8
            with pytest.raises(fsgate.InvalidRequest):
                list(c.list_dir(str(root), depth=9))
    finally:
        server.stop()


def test_sparse_terabyte_file_reads_a_range_quickly(client: fsgate.Client, ws: Path) -> None:
    with open(ws / "sparse", "wb") as fh:
        fh.truncate(1 << 40)
    assert client.stat(str(ws / "sparse")).size == 1 << 40
    data = client.read_file(str(ws / "sparse"), offset=(1 << 40) - 10, length=100)
    assert data == b"\0" * 10
    first = next(iter(client.iter_file(str(ws / "sparse"), length=1 << 20, chunk_size=4096)))
    assert first == b"\0" * 4096
    with pytest.raises(fsgate.TooLarge):  # the whole terabyte is over --max-read-bytes
        client.read_file(str(ws / "sparse"))


def test_file_growing_during_read_is_read_to_its_size_at_open(client: fsgate.Client,
                                                              ws: Path) -> None:
    (ws / "growing").write_bytes(b"a" * (3 << 20))
    stop = threading.Event()

    def grow() -> None:
        with open(ws / "growing", "ab") as fh:
            while not stop.is_set():
                fh.write(b"b" * 65536)
                fh.flush()
                if fh.tell() > (64 << 20):
                    break

    t = threading.Thread(target=grow)
    t.start()
    try:
        data = client.read_file(str(ws / "growing"))
    finally:
        stop.set()
        t.join()
    assert len(data) >= 3 << 20
    assert len(data) < 64 << 20 + 65536


def test_file_shrinking_during_read_returns_what_exists(client: fsgate.Client,
                                                        ws: Path) -> None:
    (ws / "shrinking").write_bytes(os.urandom(4 << 20))
    chunks = client.iter_file(str(ws / "shrinking"), chunk_size=1 << 20)
    first = next(iter(chunks))
    os.truncate(ws / "shrinking", 1 << 20)
    rest = b"".join(chunks)
    assert len(first) == 1 << 20
    # What was already in flight may still arrive; the read never blocks and never exceeds
    # the size seen at open.
    assert len(first) + len(rest) <= 4 << 20
