"""``python -m bench.soak --minutes 10`` — the long form of tests/integration/test_soak.py,
as a report: the same workload (bench/soak_workload.py: mixed calls at c=8 through the
Python client, a co-tenant swapping a directory and a file for links to outside) against a
fresh real server per backend, then a markdown table of throughput, outcomes by code and
reason, the server's fds/threads/RSS at start, after the warm-up and at the end, and the
helpers left. Exits 1 if any run saw an INTERNAL, a leak, an outside change, growth past
the test's bounds, or a helper left over.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .servers import Server
from .soak_tree import plant_outside
from .soak_workload import Run, build_tree, run_soak

FD_BOUND, THREAD_BOUND, RSS_BOUND_KIB = 10, 5, 32 * 1024  # as in tests/integration/test_soak.py


def log(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def one(backend: str, workdir: Path, seconds: float, warmup: float, concurrency: int) -> Run:
    base = Path(tempfile.mkdtemp(prefix=f"soak-{backend}-", dir=workdir))
    ws = base / "ws"
    ws.mkdir()
    tree = build_tree(ws, plant_outside(base / "outside"))
    run_dir = base / "run"
    run_dir.mkdir()
    server = Server(backend, run_dir, [str(ws)], [])
    try:
        return run_soak(server.target, server.proc.pid, tree, seconds=seconds, warmup=warmup,
                        concurrency=concurrency, every=max(1.0, seconds / 200))
    finally:
        server.stop()


def problems(run: Run) -> list[str]:
    t, out = run.tally, []
    if t.internal:
        out.append(f"{len(t.internal)}+ INTERNAL/other failures")
    if t.leak_count:
        out.append(f"{t.leak_count} traces of the outside")
    if run.outside_changed:
        out.append(f"outside changed: {run.outside_changed[:5]}")
    if abs(run.end.fds - run.warm.fds) > FD_BOUND:
        out.append(f"fds {run.warm.fds} -> {run.end.fds}")
    if abs(run.end.threads - run.warm.threads) > THREAD_BOUND:
        out.append(f"threads {run.warm.threads} -> {run.end.threads}")
    if run.end.rss_kib - run.warm.rss_kib > RSS_BOUND_KIB:
        out.append(f"RSS {run.warm.rss_kib} -> {run.end.rss_kib} KiB")
    if run.helpers_left:
        out.append(f"helpers left: {run.helpers_left}")
    if not run.final_stat_ok:
        out.append("the final Stat failed")
    return out


def report(runs: dict[str, Run]) -> str:
    names = list(runs)
    rows = [f"| | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]

    def row(label: str, cells: list[str]) -> None:
        rows.append(f"| {label} | {' | '.join(cells)} |")

    row("duration (s)", [f"{r.seconds:.0f}" for r in runs.values()])
    row("calls", [str(r.tally.total) for r in runs.values()])
    row("calls/s", [f"{r.tally.total / r.seconds:.1f}" for r in runs.values()])
    row("co-tenant rounds", [str(r.tally.cotenant_rounds) for r in runs.values()])
    for what, attr in (("open fds", "fds"), ("threads", "threads"), ("RSS (MiB)", "rss_kib")):
        def fmt(r: Run, attr: str = attr) -> str:
            vals = [getattr(s, attr) for s in (r.start, r.warm, r.end)]
            peak = max([getattr(s, attr) for s in r.under_load] or [0])
            if attr == "rss_kib":
                return " / ".join(f"{v / 1024:.1f}" for v in vals) + f" (peak {peak / 1024:.1f})"
            return " / ".join(map(str, vals)) + f" (peak {peak})"
        row(f"{what}: start / warm / end", [fmt(r) for r in runs.values()])
    row("helpers left", [str(len(r.helpers_left)) for r in runs.values()])
    row("final Stat", ["ok" if r.final_stat_ok else "FAILED" for r in runs.values()])
    row("traces of the outside", [str(r.tally.leak_count) for r in runs.values()])
    row("outside changed", [str(len(r.outside_changed)) for r in runs.values()])
    by_code: dict[str, Counter[str]] = {n: Counter() for n in names}
    for n, r in runs.items():
        for (_, outcome), k in r.tally.outcomes.items():
            by_code[n][outcome] += k
    for outcome in sorted({o for c in by_code.values() for o in c}):
        row(f"answers {outcome}", [str(by_code[n][outcome]) for n in names])
    row("answers the tree does not allow",
        [str(sum(r.tally.wrong_by_op.values())) for r in runs.values()])
    lines = ["\n".join(rows), ""]
    for n, r in runs.items():
        for title, items in (("INTERNAL", r.tally.internal), ("leaks", r.tally.leaks),
                             ("answers the tree does not allow", r.tally.wrong)):
            if items:
                lines.append(f"{n}, {title} (first {min(len(items), 5)}):")
                lines += [f"- {i}" for i in items[:5]]
        if r.tally.wrong_by_op:
            lines.append(f"{n}, disallowed answers by operation: {dict(r.tally.wrong_by_op)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0, help="per backend (default 10)")
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="seconds before the 'warm' sample (default 60, at most a fifth)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--backends", default="landlock,bwrap")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where the trees live (default: a temporary directory)")
    args = ap.parse_args(argv)
    seconds = args.minutes * 60
    warmup = min(args.warmup, seconds / 5)
    runs: dict[str, Run] = {}
    with tempfile.TemporaryDirectory(prefix="fsgate-soak-", dir=args.workdir) as tmp:
        for backend in args.backends.split(","):
            log(f"{backend}: {seconds:.0f} s at c={args.concurrency}, warm-up {warmup:.0f} s")
            runs[backend] = one(backend, Path(tmp), seconds, warmup, args.concurrency)
            log(f"{backend}: {runs[backend].tally.total} calls")
    print(report(runs))
    bad = {n: p for n, r in runs.items() if (p := problems(r))}
    for n, p in bad.items():
        print(f"\n{n}: FAIL: " + "; ".join(p))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
