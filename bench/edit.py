"""EditFile and ReadFile line windows, per server, in the same run as everything else:

- ``edit4k.p50_ms``: EditFile of a 4 KiB text file (one exact replacement, flipping a
  marker back and forth), and ``edit4k.write4k_p50_ms``: WriteFile of 4 KiB measured in
  the same loop, call for call interleaved with the edits, so that both see the same
  noise; ``edit4k.over_write4k`` is their ratio (issue 13's target: at most 1.3).
- ``tail1g.p50_ms``: ReadFile with ``tail_lines=10`` of a 1 GiB file -- a sparse one: a
  1 GiB hole followed by 1,000 lines, so the benchmark writes nothing big to disk; the
  tail reads backwards from the end either way (issue 13's target: at most 5 ms).

Driven from this process with the generated stubs (the contract itself), one channel per
server, c=1.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from . import figures

CALL_TIMEOUT = 60.0  # seconds, for one call
GiB = 1 << 30
MARKERS = ("state=left ", "state=right")  # the same length: the file stays 4096 bytes


class Plan(Protocol):
    """What this module reads of bench/__main__.py's Plan."""

    @property
    def latency_n(self) -> int: ...
    @property
    def latency_seconds(self) -> float: ...
    @property
    def warmup(self) -> int: ...
    @property
    def runs(self) -> int: ...


def prepare(rw: Path) -> dict[str, Path]:
    """The files, in the read-write root every server serves."""
    d = rw / "edit-bench"
    d.mkdir(exist_ok=True)
    sparse = d / "sparse-1g.log"
    with open(sparse, "wb") as f:
        f.truncate(GiB)
        f.seek(GiB)
        f.write(b"".join(b"%06d a log line of some length\n" % i for i in range(1000)))
    return {"dir": d, "sparse": sparse}


def _text4k() -> bytes:
    line = b"some text of a source file, to be edited in place\n"
    body = MARKERS[0].encode() + b"\n" + line * 80
    return body + b"#" * (4095 - len(body)) + b"\n"


def _latency(calls: Callable[[], None], plan: Plan) -> list[float]:
    for _ in range(plan.warmup):
        calls()
    out: list[float] = []
    started = time.monotonic()
    while len(out) < plan.latency_n and time.monotonic() - started < plan.latency_seconds:
        t0 = time.perf_counter()
        calls()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _measure_one(s: Any, plan: Plan, files: dict[str, Path]) -> None:
    channel = grpc.insecure_channel(s.server.target)
    try:
        stub: Any = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        edited, written = files["dir"] / f"edit4k-{s.name}.txt", files["dir"] / f"w4k-{s.name}"
        edited.write_bytes(_text4k())
        payload = _text4k()
        state = {"at": 0}
        edit_ms: list[float] = []
        write_ms: list[float] = []

        def edit() -> None:
            old, new = MARKERS[state["at"]], MARKERS[1 - state["at"]]
            r = stub.EditFile(pb.EditFileRequest(path=str(edited), edits=[
                pb.Edit(old_text=old, new_text=new)]), timeout=CALL_TIMEOUT)
            if r.replacements != 1 or r.info.size != 4096:
                raise RuntimeError(f"edit4k: {r.replacements} replacements, {r.info.size} B")
            state["at"] = 1 - state["at"]

        def write() -> None:
            msgs = [pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(written))),
                    pb.WriteFileRequest(data=payload)]
            if stub.WriteFile(iter(msgs), timeout=CALL_TIMEOUT).bytes_written != 4096:
                raise RuntimeError("write4k wrote a short file")

        def both() -> None:  # interleaved: the two see the same moment of the machine
            t0 = time.perf_counter()
            edit()
            t1 = time.perf_counter()
            write()
            edit_ms.append((t1 - t0) * 1000)
            write_ms.append((time.perf_counter() - t1) * 1000)

        _latency(both, plan)
        edit_ms, write_ms = edit_ms[plan.warmup:], write_ms[plan.warmup:]
        tail_req = pb.ReadFileRequest(path=str(files["sparse"]), tail_lines=10)

        def tail() -> None:
            got = b"".join(m.data for m in stub.ReadFile(tail_req, timeout=CALL_TIMEOUT))
            lines = got.count(b"\n")
            if lines != 10:
                raise RuntimeError(f"tail returned {lines} lines")

        tail_ms = _latency(tail, plan)
    finally:
        channel.close()
    edit_p50, write_p50 = figures.percentile(edit_ms, 50), figures.percentile(write_ms, 50)
    s.add("edit4k.p50_ms", edit_p50)
    s.add("edit4k.write4k_p50_ms", write_p50)
    s.add("edit4k.over_write4k", edit_p50 / write_p50)
    s.add("tail1g.p50_ms", figures.percentile(tail_ms, 50))


def measure(subjects: list[Any], plan: Plan, rw: Path) -> None:
    """Every figure above for every subject, ``plan.runs`` times."""
    files = prepare(rw)
    for run in range(plan.runs):
        for s in subjects:
            _measure_one(s, plan, files)
        print(f"[bench {time.strftime('%H:%M:%S')}] edit/tail run {run + 1}/{plan.runs} done",
              file=sys.stderr, flush=True)
