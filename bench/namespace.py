"""The namespace figures of ``python -m bench``: MakeDir and Remove (one file) latency at
c=1, and Remove of a 1,000-file tree, for every server of the run (so each is a ratio to
the baseline measured alongside it).

The calls go through the generated stubs, as bench/client.py's do, but from the driver
process itself (idle while these run): every server is driven by the same code. What the
calls need (the directories to make, the files and trees to remove) is made locally,
untimed, in the read-write root.
"""
from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

__all__ = ["FIGURES", "TREE_DIRS", "TREE_FILES", "measure"]

#: (key, title, unit, better): the rows figures.py shows.
FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("mkdir.p50_ms", "MakeDir p50, c=1", "ms", "lower"),
    ("remove.p50_ms", "Remove one file p50, c=1", "ms", "lower"),
    ("remove_tree.ms", "Remove a 1,000-file tree (recursive), one call", "ms", "lower"),
)
TREE_DIRS = 10  # the tree: TREE_DIRS directories of TREE_FILES / TREE_DIRS files
TREE_FILES = 1000
TREES_PER_RUN = 3
CALL_TIMEOUT = 60.0  # seconds


class Plan(Protocol):  # bench.__main__.Plan, as far as this needs it
    @property
    def runs(self) -> int: ...
    @property
    def latency_n(self) -> int: ...
    @property
    def latency_seconds(self) -> float: ...
    @property
    def warmup(self) -> int: ...


class Server(Protocol):
    @property
    def target(self) -> str: ...


class Subject(Protocol):  # bench.__main__.Subject
    @property
    def name(self) -> str: ...
    @property
    def server(self) -> Server: ...

    def add(self, key: str, value: float) -> None: ...


def _latencies(call: Callable[[int], Any], n: int, warmup: int, max_seconds: float
               ) -> list[float]:
    """Milliseconds of ``call(i)`` for i after the warm-up ones: n calls, or fewer (at
    least 20) once max_seconds have passed."""
    for i in range(warmup):
        call(i)
    ms: list[float] = []
    stop = time.perf_counter() + max_seconds
    i = warmup
    while len(ms) < n and (len(ms) < 20 or time.perf_counter() < stop):
        t = time.perf_counter()
        call(i)
        ms.append((time.perf_counter() - t) * 1e3)
        i += 1
    return ms


def _tree(top: Path) -> None:
    for d in range(TREE_DIRS):
        sub = top / f"d{d:02}"
        sub.mkdir(parents=True)
        for f in range(TREE_FILES // TREE_DIRS):
            os.close(os.open(sub / f"f{f:03}", os.O_CREAT | os.O_WRONLY, 0o644))


def _measure_one(stub: Any, s: Subject, plan: Plan, work: Path) -> None:
    n, warmup, seconds = plan.latency_n, plan.warmup, plan.latency_seconds
    made = work / "mkdir"
    made.mkdir()
    ms = _latencies(lambda i: stub.MakeDir(pb.MakeDirRequest(path=f"{made}/d{i}"),
                                           timeout=CALL_TIMEOUT), n, warmup, seconds)
    s.add("mkdir.p50_ms", statistics.median(ms))

    files = work / "files"
    files.mkdir()
    for i in range(n + warmup):
        os.close(os.open(files / f"f{i}", os.O_CREAT | os.O_WRONLY, 0o644))
    ms = _latencies(lambda i: stub.Remove(pb.RemoveRequest(path=f"{files}/f{i}"),
                                          timeout=CALL_TIMEOUT), n, warmup, seconds)
    s.add("remove.p50_ms", statistics.median(ms))

    trees = []
    for t in range(TREES_PER_RUN):
        top = work / f"tree{t}"
        _tree(top)
        start = time.perf_counter()
        got = stub.Remove(pb.RemoveRequest(path=str(top), recursive=True),
                          timeout=CALL_TIMEOUT)
        trees.append((time.perf_counter() - start) * 1e3)
        if got.removed != 1 + TREE_DIRS + TREE_FILES:
            raise RuntimeError(f"{s.name}: removed {got.removed} entries of a tree of "
                               f"{1 + TREE_DIRS + TREE_FILES}")
    s.add("remove_tree.ms", statistics.median(trees))


def measure(subjects: Sequence[Subject], plan: Plan, rw: Path,
            log: Callable[[str], None] = lambda _msg: None) -> None:
    """Add the FIGURES of every subject, ``plan.runs`` times, working below ``rw`` (a
    read-write root of every server)."""
    channels = {s.name: grpc.insecure_channel(s.server.target) for s in subjects}
    try:
        stubs = {name: fsgate_pb2_grpc.FileSystemServiceStub(ch)
                 for name, ch in channels.items()}
        for run in range(plan.runs):
            for s in subjects:
                work = rw / f"namespace-{s.name}-{run}"
                work.mkdir()
                try:
                    _measure_one(stubs[s.name], s, plan, work)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            log(f"namespace run {run + 1}/{plan.runs} done")
    finally:
        for ch in channels.values():
            ch.close()
