"""``python -m bench.profile`` — py-spy the server of one backend under a steady load.

Starts the server as ``python -m bench`` does (bench/servers.py), warms it up, then samples
it with py-spy while bench/client.py drives one operation at concurrency C, and prints the
frames that hold the most samples. What the samples mean depends on the mode:

    --mode gil    only the thread holding the GIL: where the server's Python CPU goes
    --mode wall   every thread, idle or not: where a request's wall time is spent waiting

    python -m bench.profile --backend landlock --op read4k --concurrency 1 --mode wall
    python -m bench.profile --backend landlock --op read4k --concurrency 8 --mode gil

The raw samples (py-spy's collapsed stacks) go to --out for flame graphs. py-spy is in the
dev extra; it must be allowed to read the server's memory (ptrace_scope, root in a pod).
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .__main__ import QUICK, make_workspace
from .servers import Client, Server

_PATH = re.compile(r" \((?:.*/)?(?:site-packages|lib/python3\.\d+|fsgate_server)/")


def _frame(raw: str) -> str:
    return _PATH.sub(" (", raw)


def summarize(collapsed: Path, top: int) -> str:
    """The frames with most samples: leaf (self) and inclusive, as shares of all samples."""
    leaf: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        frames = [_frame(f) for f in stack.split(";")[1:]]  # the first is the thread
        n = int(count)
        total += n
        if frames:
            leaf[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in leaf.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="landlock",
                    help="floor, baseline, landlock or bwrap (default landlock)")
    ap.add_argument("--op", default="read4k", choices=("read4k", "write4k", "list100", "stat"))
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--mode", choices=("gil", "wall"), default="gil")
    ap.add_argument("--rate", type=int, default=500, help="samples per second")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    args = ap.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        ap.error("py-spy not found (pip install -e '.[dev]')")
    work = Path(tempfile.mkdtemp(prefix="fsgate-profile-"))
    try:
        ws = make_workspace(work, QUICK)
        server = Server(args.backend, ws["run"], [f"{ws['data']}:ro", str(ws["rw"])], [])
        paths = {"read4k": str(ws["data"] / "f4k.bin"), "list100": str(ws["data"] / "dir100"),
                 "stat": str(ws["data"] / "f4k.bin"), "write4k": str(ws["rw"] / "out4k.bin")}
        client = Client(server.target, paths, ws["run"] / "client.log")
        try:
            client.run("latency", op=args.op, n=200, warmup=20, max_seconds=2.0)
            out = args.out or work / "profile.txt"
            cmd = [spy, "record", "--pid", str(server.proc.pid), "--rate", str(args.rate),
                   "--duration", str(int(args.seconds)), "--format", "raw", "--output",
                   str(out), "--nonblocking", "--threads",
                   "--gil" if args.mode == "gil" else "--idle"]
            sampling = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)  # py-spy attaches
            load = os.getloadavg()
            got = client.run("throughput", op=args.op, concurrency=args.concurrency,
                             seconds=max(args.seconds - 2.0, 1.0), warmup_seconds=0.1)
            _, err = sampling.communicate()
            if sampling.returncode != 0:
                print(err, file=sys.stderr)
                return 1
        finally:
            client.stop()
            server.stop()
        print(f"{args.backend} {args.op} c={args.concurrency} mode={args.mode}: "
              f"{got['per_second']:.0f} calls/s, load average {load[0]:.2f}\n")
        print(summarize(out, args.top))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
