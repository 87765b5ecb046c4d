"""WatchDir figures, in the same run as the others (``python -m bench`` calls
:func:`measure`): event latency, a file created -> its event received by the client, c=1
(p50/p99), and events/s sustained for one watcher fed as fast as one process creates files.

Measured from the bench process itself, on the generated stubs (the contract, like
bench/client.py): the files are created on the served tree directly, as another agent in
the pod would, so creation and reception share one clock.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from .figures import percentile

__all__ = ["measure"]

WATCH_TIMEOUT = 600.0  # seconds: one watch, for one measurement
LATENCY_WARMUP = 10


class _Subject(Protocol):  # bench/__main__.py's Subject
    name: str
    server: Any

    def add(self, key: str, value: float) -> None: ...


def _watch(target: str, path: Path) -> tuple[grpc.Channel, Any, Iterator[pb.WatchDirResponse]]:
    channel = grpc.insecure_channel(target)
    call = fsgate_pb2_grpc.FileSystemServiceStub(channel).WatchDir(
        pb.WatchDirRequest(path=str(path)), timeout=WATCH_TIMEOUT)
    replies: Iterator[pb.WatchDirResponse] = iter(call)
    first = next(replies)
    if first.WhichOneof("payload") != "started":
        raise RuntimeError(f"WatchDir did not start: {first}")
    return channel, call, replies


def _create(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def latency_ms(target: str, where: Path, n: int) -> list[float]:
    """One file created at a time; the time until its CREATED arrives."""
    channel, call, replies = _watch(target, where)
    out = []
    try:
        for i in range(LATENCY_WARMUP + n):
            name = where / f"lat-{i}"
            started = time.perf_counter()
            _create(name)
            for reply in replies:
                if reply.WhichOneof("payload") == "event" and reply.event.path == str(name):
                    break
            if i >= LATENCY_WARMUP:
                out.append((time.perf_counter() - started) * 1000)
    finally:
        call.cancel()
        channel.close()
    return out


def _until(done: threading.Event, producer: subprocess.Popen[bytes], where: Path) -> None:
    producer.wait(timeout=WATCH_TIMEOUT)
    n = 0
    while not done.wait(0.5):
        n += 1
        _create(where / f"last-{n}")


def events_per_second(target: str, where: Path, files: int) -> tuple[float, int, int]:
    """Files created as fast as one process can, then a last one: (events received per
    second from the first event to the last one's, events received, overflow messages)."""
    channel, call, replies = _watch(target, where)
    last = where / "last"
    # Another process, as another agent would be (and no GIL shared with the receiver).
    script = ("import os, sys\n"
              "for i in range(int(sys.argv[2])):\n"
              "    os.close(os.open(f'{sys.argv[1]}/burst-{i}', os.O_CREAT | os.O_WRONLY))\n"
              "os.close(os.open(f'{sys.argv[1]}/last', os.O_CREAT | os.O_WRONLY))\n")
    try:
        started = 0.0
        producer = subprocess.Popen([sys.executable, "-c", script, str(where), str(files)])
        received = overflows = 0
        done = threading.Event()
        # A burst the watcher cannot keep up with ends in an overflow, which may swallow
        # `last`: once the producer is done, new last-N files until one arrives.
        resend = threading.Thread(target=_until, args=(done, producer, where), daemon=True)
        resend.start()
        for reply in replies:
            kind = reply.WhichOneof("payload")
            if kind == "overflow":
                overflows += 1
            elif kind == "event":
                received += 1
                if received == 1:  # from the first event on: not the producer's start-up
                    started = time.perf_counter()
                if reply.event.path.startswith(str(last)):
                    break
        seconds = max(time.perf_counter() - started, 1e-9)
        done.set()
        producer.wait(timeout=WATCH_TIMEOUT)
    finally:
        call.cancel()
        channel.close()
    return (received - 1) / seconds, received, overflows


def measure(subjects: Sequence[_Subject], runs: int, latency_n: int, burst_files: int,
            base: Path) -> None:
    """Every figure for every subject, ``runs`` times, in directories under ``base``."""
    for run in range(runs):
        for s in subjects:
            where = base / f"watch-{s.name}-{run}"
            where.mkdir()
            try:
                ms = latency_ms(s.server.target, where, latency_n)
                s.add("watch.p50_ms", percentile(ms, 50))
                s.add("watch.p99_ms", percentile(ms, 99))
                burst = where / "burst"
                burst.mkdir()
                rate, received, overflows = events_per_second(s.server.target, burst,
                                                               burst_files)
                s.add("watch.events_per_s", rate)
                s.add("watch.events", received)
                s.add("watch.overflows", overflows)
            finally:
                shutil.rmtree(where, ignore_errors=True)
