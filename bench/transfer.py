"""Move and Copy in ``python -m bench``: the latency of a 4 KiB Move and Copy (c=1), and a
big-file Copy (the plan's "256 MiB") timed against ``cp`` of the same file on the same
disk, right before it, in the same run. Every server (the baseline too) is driven by the
same generated stubs from the benchmark process.

Figures (bench/figures.py shows them as ratios to the baseline server):

    move4k.p50_ms / .p99_ms     Move of a 4 KiB file back and forth between two names
    copy4k.p50_ms / .p99_ms     Copy of a 4 KiB file to a fresh name (removed after each)
    copy_big.mb_per_s           Copy of the big file (its copy removed before each run)
    copy_big.vs_cp              seconds of that Copy / seconds of ``cp`` (<= 1: as fast)

This module must not import bench.figures at import time (figures.py imports its rows).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

CALL_TIMEOUT = 60.0  # seconds, one small call
BIG_TIMEOUT = 900.0  # seconds, the big copy

#: (key, title, unit, better): the rows figures.py adds to its table.
FIGURE_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("move4k.p50_ms", "Move 4 KiB p50, c=1", "ms", "lower"),
    ("move4k.p99_ms", "Move 4 KiB p99, c=1", "ms", "lower"),
    ("copy4k.p50_ms", "Copy 4 KiB p50, c=1", "ms", "lower"),
    ("copy4k.p99_ms", "Copy 4 KiB p99, c=1", "ms", "lower"),
    ("copy_big.mb_per_s", "Copy big file", "MB/s", "higher"),
    ("copy_big.vs_cp", "Copy big file, seconds / cp's seconds (same run)", "x", "lower"),
)
#: (text, backend, key, limit, against, at_most): the issue's targets. ``against``
#: "baseline" divides by the baseline server's figure; "value" takes the figure as it is.
TARGET_ROWS: tuple[tuple[str, str, str, float, str, bool], ...] = (
    ("landlock Move 4 KiB p50 / floor Stat p50 (issue 12)", "landlock", "move4k.p50_ms", 2.5,
     "floor_stat", True),
    ("landlock Copy 4 KiB p50 / floor Stat p50 (issue 12)", "landlock", "copy4k.p50_ms", 2.5,
     "floor_stat", True),
    ("landlock Copy big file seconds / cp seconds", "landlock", "copy_big.vs_cp", 1.0,
     "value", True),
    ("bwrap Copy big file seconds / cp seconds", "bwrap", "copy_big.vs_cp", 1.0, "value",
     True),
)


class _Served(Protocol):
    @property
    def target(self) -> str: ...


class Subject(Protocol):
    """What bench/__main__.py's Subject offers here."""

    @property
    def name(self) -> str: ...

    @property
    def server(self) -> _Served: ...

    def add(self, key: str, value: float) -> None: ...


def _latencies(call: Callable[[], None], n: int, warmup: int, max_seconds: float
               ) -> list[float]:
    for _ in range(warmup):
        call()
    out: list[float] = []
    started = time.monotonic()
    while len(out) < n and (time.monotonic() - started < max_seconds or len(out) < 5):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _mover(stub: Any, here: Path) -> Callable[[], None]:
    names = [str(here / "move-a"), str(here / "move-b")]
    (here / "move-b").unlink(missing_ok=True)  # left by the previous run
    (here / "move-a").write_bytes(bytes(range(256)) * 16)
    state = [0]

    def move() -> None:
        i = state[0]
        stub.Move(pb.MoveRequest(source=names[i], destination=names[1 - i]),
                  timeout=CALL_TIMEOUT)
        state[0] = 1 - i

    return move


def _copier(stub: Any, here: Path) -> Callable[[], None]:
    source, dest = here / "copy-src", here / "copy-dst"
    source.write_bytes(bytes(range(256)) * 16)

    def copy() -> None:
        dest.unlink(missing_ok=True)  # a fresh name each time: no overwrite on the way
        resp = stub.Copy(pb.CopyRequest(source=str(source), destination=str(dest)),
                         timeout=CALL_TIMEOUT)
        if resp.bytes_copied != 4096:
            raise RuntimeError(f"copy4k copied {resp.bytes_copied} bytes")

    return copy


def _timed(action: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def measure(subjects: Sequence[Subject], plan: Any, ws: dict[str, Path],
            log: Callable[[str], None]) -> None:
    """Every figure above for every subject, ``plan.runs`` times (medians are taken
    later); ``ws`` is the benchmark workspace (``data`` read-only, ``rw`` writable)."""
    from . import figures  # not at import: figures.py imports this module's rows

    channels = {s.name: grpc.insecure_channel(s.server.target) for s in subjects}
    try:
        stubs = {name: fsgate_pb2_grpc.FileSystemServiceStub(ch) for name, ch in channels.items()}
        dirs = {}
        for s in subjects:
            dirs[s.name] = ws["rw"] / f"transfer-{s.name}"
            dirs[s.name].mkdir(exist_ok=True)
        for run in range(plan.runs):
            for s in subjects:
                for key, make in (("move4k", _mover), ("copy4k", _copier)):
                    ms = _latencies(make(stubs[s.name], dirs[s.name]), plan.latency_n,
                                    plan.warmup, plan.latency_seconds)
                    s.add(f"{key}.p50_ms", figures.percentile(ms, 50))
                    s.add(f"{key}.p99_ms", figures.percentile(ms, 99))
            log(f"move/copy latency run {run + 1}/{plan.runs} done")
        big = ws["data"] / "big.bin"
        cp = shutil.which("cp") or "cp"
        for run in range(plan.runs):
            for s in subjects:
                by_cp, by_us = dirs[s.name] / "cp-big.out", dirs[s.name] / "copy-big.out"
                by_cp.unlink(missing_ok=True)
                by_us.unlink(missing_ok=True)
                cp_seconds = _timed(partial(subprocess.run, [cp, str(big), str(by_cp)],
                                            check=True))
                seconds = _timed(partial(stubs[s.name].Copy, pb.CopyRequest(
                    source=str(big), destination=str(by_us)), timeout=BIG_TIMEOUT))
                if by_us.stat().st_size != big.stat().st_size:
                    raise RuntimeError(f"{s.name}: the big copy is incomplete")
                s.add("copy_big.mb_per_s", big.stat().st_size / seconds / 1e6)
                s.add("copy_big.vs_cp", seconds / cp_seconds)
                by_cp.unlink()
                by_us.unlink()
            log(f"big copy run {run + 1}/{plan.runs} done")
    finally:
        for ch in channels.values():
            ch.close()
