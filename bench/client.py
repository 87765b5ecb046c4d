"""``python -m bench.client TARGET`` — the benchmark's load generator, a separate process.

Reads one JSON task per line on stdin, runs it against TARGET with the generated gRPC
stubs (the contract itself, so every server is driven by exactly the same client code),
and answers one JSON line per task on stdout. Tasks:

    {"task": "latency", "op": OP, "n": N, "warmup": W, "max_seconds": S}
        -> {"ms": [one latency per call, in milliseconds]}
    {"task": "throughput", "op": OP, "concurrency": C, "seconds": S, "warmup_seconds": W}
        -> {"calls": N, "seconds": S, "per_second": N / S, "all_calls": N + warm-up calls}
    {"task": "read_big" | "write_big", "path": P, "size": BYTES}
        -> {"bytes": N, "seconds": S, "mb_per_s": N / S / 1e6}
    {"task": "list_all", "path": P, "page_size": N}
        -> {"entries": N, "pages": N, "seconds": S}

OP is one of read4k, write4k, list100, stat; their paths come from the first line,
``{"paths": {"read4k": ..., "write4k": ..., "list100": ..., "stat": ...}}``.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

CALL_TIMEOUT = 60.0  # seconds, for one small call
BIG_TIMEOUT = 900.0  # seconds, for one transfer or a whole listing
MiB = 1 << 20
WRITE_CHUNK = 1 * MiB  # what the client library sends by default
OPTIONS = [("grpc.max_receive_message_length", 8 * MiB),
           ("grpc.max_send_message_length", 8 * MiB)]


class Worker:
    def __init__(self, target: str, paths: dict[str, str]) -> None:
        self.channel = grpc.insecure_channel(target, options=OPTIONS)
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.stub: Any = fsgate_pb2_grpc.FileSystemServiceStub(self.channel)
        self.paths = paths
        self.payload = bytes(range(256)) * 16  # 4 KiB

    # --- the four small operations -------------------------------------------------------

    def op(self, name: str, slot: int = 0) -> Callable[[], None]:
        stub, p = self.stub, self.paths
        if name == "read4k":
            req = pb.ReadFileRequest(path=p["read4k"])

            def read() -> None:
                got = 0
                for msg in stub.ReadFile(req, timeout=CALL_TIMEOUT):
                    got += len(msg.data)
                if got != 4096:
                    raise RuntimeError(f"read4k returned {got} bytes")
            return read
        if name == "write4k":
            target = p["write4k"] if slot == 0 else f"{p['write4k']}.{slot}"
            msgs = [pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=target)),
                    pb.WriteFileRequest(data=self.payload)]

            def write() -> None:
                resp = stub.WriteFile(iter(msgs), timeout=CALL_TIMEOUT)
                if resp.bytes_written != 4096:
                    raise RuntimeError(f"write4k wrote {resp.bytes_written} bytes")
            return write
        if name == "list100":
            lreq = pb.ListDirRequest(path=p["list100"])

            def listdir() -> None:
                resp = stub.ListDir(lreq, timeout=CALL_TIMEOUT)
                if len(resp.entries) != 100:
                    raise RuntimeError(f"list100 returned {len(resp.entries)} entries")
            return listdir
        if name == "stat":
            sreq = pb.StatRequest(path=p["stat"])

            def stat() -> None:
                stub.Stat(sreq, timeout=CALL_TIMEOUT)
            return stat
        raise ValueError(f"unknown op {name!r}")

    def latency(self, op: str, n: int, warmup: int, max_seconds: float) -> dict[str, Any]:
        call = self.op(op)
        for _ in range(warmup):
            call()
        ms: list[float] = []
        stop = time.perf_counter() + max_seconds
        while len(ms) < n and (len(ms) < 20 or time.perf_counter() < stop):
            t = time.perf_counter()
            call()
            ms.append((time.perf_counter() - t) * 1e3)
        return {"ms": ms}

    def throughput(self, op: str, concurrency: int, seconds: float, warmup_seconds: float
                   ) -> dict[str, Any]:
        counts = [0] * concurrency
        warm = [0] * concurrency
        finished = [0.0] * concurrency
        errors: list[str] = []
        start = threading.Barrier(concurrency + 1)
        window = [0.0, 0.0]  # begin, end

        def loop(slot: int) -> None:
            call = self.op(op, slot)
            start.wait()
            begin, end = window
            try:
                while time.perf_counter() < begin:
                    call()  # warm-up: not in the rate (all_calls has it, for CPU per call)
                    warm[slot] += 1
                # Every call started inside the window counts, also the one that ends after
                # it; the rate divides by the time until the last of them ended. (A slow
                # backend still gets a rate from a short window.)
                while time.perf_counter() < end:
                    call()
                    counts[slot] += 1
                finished[slot] = time.perf_counter()
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(concurrency)]
        for t in threads:
            t.start()
        window[0] = time.perf_counter() + warmup_seconds
        window[1] = window[0] + seconds
        start.wait()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(f"throughput {op}: {errors[0]}")
        calls = sum(counts)
        elapsed = max(finished) - window[0]
        return {"calls": calls, "seconds": elapsed, "per_second": calls / elapsed,
                "all_calls": calls + sum(warm)}

    # --- large transfers and long listings ------------------------------------------------

    def read_big(self, path: str, size: int) -> dict[str, Any]:
        t = time.perf_counter()
        got = 0
        for msg in self.stub.ReadFile(pb.ReadFileRequest(path=path), timeout=BIG_TIMEOUT):
            got += len(msg.data)
        seconds = time.perf_counter() - t
        if got != size:
            raise RuntimeError(f"read {got} bytes of {path}, expected {size}")
        return {"bytes": got, "seconds": seconds, "mb_per_s": got / seconds / 1e6}

    def write_big(self, path: str, size: int) -> dict[str, Any]:
        chunk = (self.payload * (WRITE_CHUNK // len(self.payload)))

        def messages() -> Iterator[pb.WriteFileRequest]:
            yield pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=path))
            left = size
            while left > 0:
                piece = chunk if left >= len(chunk) else chunk[:left]
                yield pb.WriteFileRequest(data=piece)
                left -= len(piece)

        t = time.perf_counter()
        resp = self.stub.WriteFile(messages(), timeout=BIG_TIMEOUT)
        seconds = time.perf_counter() - t
        if resp.bytes_written != size:
            raise RuntimeError(f"wrote {resp.bytes_written} bytes of {size}")
        return {"bytes": size, "seconds": seconds, "mb_per_s": size / seconds / 1e6}

    def list_all(self, path: str, page_size: int) -> dict[str, Any]:
        t = time.perf_counter()
        entries = pages = 0
        token = ""
        last = ""
        while True:
            resp = self.stub.ListDir(pb.ListDirRequest(path=path, page_size=page_size,
                                                       page_token=token), timeout=BIG_TIMEOUT)
            pages += 1
            for e in resp.entries:
                if e.name <= last:
                    raise RuntimeError(f"listing out of order at {e.name!r}")
                last = e.name
            entries += len(resp.entries)
            token = resp.next_page_token
            if not token:
                break
        return {"entries": entries, "pages": pages, "seconds": time.perf_counter() - t}

    def run(self, task: dict[str, Any]) -> dict[str, Any]:
        kind = task.pop("task")
        method: Callable[..., dict[str, Any]] = getattr(self, kind)
        return method(**task)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m bench.client TARGET  (tasks as JSON lines on stdin)",
              file=sys.stderr)
        return 2
    first = json.loads(sys.stdin.readline())
    worker = Worker(args[0], first["paths"])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = worker.run(json.loads(line))
        except Exception as exc:  # reported to the driver, which says which figure failed
            answer = {"error": repr(exc)}
        print(json.dumps(answer), flush=True)
    worker.channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
