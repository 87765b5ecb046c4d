"""``python -m bench`` — measure fsgate's sandboxes against a bare gRPC server (the floor),
an unsandboxed baseline and Codex's exec-server, in one run, on this machine.

Starts every server at once (so a burst of noise from a neighbour hits all of them, not
one), then runs each measurement for each server in turn, several times, and reports
medians. Prints a markdown table and writes it, with the raw JSON, to bench/results/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import edit, figures, mcp, namespace, transfer, watch
from . import search as search_bench
from .servers import REPO, Client, RssSampler, Server, process_cpu_seconds, tree_rss

MiB = 1 << 20
PEER_SCRIPT = Path(os.environ.get(
    "FSGATE_PEER_SCRIPT", REPO.parent / "shared" / "peers" / "codex_exec_server.py"))
ALL_BACKENDS = ("floor", "baseline", "landlock", "bwrap")
ALWAYS = ("floor", "baseline")  # every figure is a ratio to them


@dataclass(frozen=True)
class Plan:
    runs: int  # repetitions of every measurement; figures are medians over them
    latency_n: int  # calls per latency run (c=1)
    latency_seconds: float  # ...or fewer, once a run has taken this long (slow backends)
    warmup: int  # calls before each latency run
    concurrency: int
    high_concurrency: int  # the second load, for figures.HIGH_LOAD_OPS
    throughput_seconds: float  # length of one c=8 window
    throughput_warmup: float
    big_bytes: int  # the "256 MiB" transfers
    huge_bytes: int  # the "1 GiB" transfers whose peak RSS is sampled
    list_entries: int  # the "100,000 entries" directory
    list_runs: int
    peer_n: int


FULL = Plan(runs=3, latency_n=400, latency_seconds=3.0, warmup=20, concurrency=8,
            high_concurrency=32, throughput_seconds=2.0, throughput_warmup=0.5, big_bytes=256 * MiB,
            huge_bytes=1024 * MiB, list_entries=100_000, list_runs=1, peer_n=150)
QUICK = Plan(runs=1, latency_n=20, latency_seconds=1.0, warmup=3, concurrency=8,
             high_concurrency=32, throughput_seconds=0.3, throughput_warmup=0.1, big_bytes=4 * MiB,
             huge_bytes=16 * MiB, list_entries=2_500, list_runs=1, peer_n=10)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the workspace ------------------------------------------------------------------------

def default_workdir() -> Path:
    # Not /dev/shm: the bwrap backend mounts a fresh /dev, which hides roots below it.
    return Path(tempfile.mkdtemp(prefix="fsgate-bench-"))


def _fill(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def make_workspace(work: Path, plan: Plan) -> dict[str, Path]:
    data, rw, run, peer = (work / n for n in ("data", "rw", "run", "peer"))
    for d in (data, rw, run, peer):
        d.mkdir(parents=True, exist_ok=True)
    (data / "f4k.bin").write_bytes(os.urandom(4096))
    (data / "dir100").mkdir(exist_ok=True)
    for i in range(100):
        (data / "dir100" / f"f{i:03}").write_bytes(b"x")
    _fill(data / "big.bin", plan.big_bytes)
    _fill(data / "huge.bin", plan.huge_bytes)
    many = data / "many"
    many.mkdir(exist_ok=True)
    for i in range(plan.list_entries):
        os.close(os.open(many / f"e{i:06}", os.O_CREAT | os.O_WRONLY, 0o644))
    return {"data": data, "rw": rw, "run": run, "peer": peer}


# --- measuring ----------------------------------------------------------------------------

@dataclass
class Subject:
    name: str
    server: Server
    client: Client
    raw: dict[str, list[float]]

    def add(self, key: str, value: float) -> None:
        self.raw.setdefault(key, []).append(value)


def _throughput(s: Subject, op: str, concurrency: int, plan: Plan) -> None:
    """calls/s at this concurrency, and the CPU time per call of the server's whole tree
    (server, fork server, helpers, bwrap) and of the client, over the same calls."""
    pid = s.server.proc.pid
    server0, client0 = s.server.cpu.seconds(), s.client.cpu.seconds()
    process0 = process_cpu_seconds(pid)
    got = s.client.run("throughput", op=op, concurrency=concurrency,
                       seconds=plan.throughput_seconds, warmup_seconds=plan.throughput_warmup)
    server1, client1 = s.server.cpu.seconds(), s.client.cpu.seconds()
    process1 = process_cpu_seconds(pid)
    key = f"{op}.c{concurrency}"
    s.add(f"{key}_per_s", got["per_second"])
    if server0 is not None and server1 is not None:
        s.add(f"{key}_cpu_ms", (server1 - server0) * 1e3 / got["all_calls"])
    if process0 is not None and process1 is not None:  # the gRPC server process alone
        s.add(f"{key}_server_process_cpu_ms", (process1 - process0) * 1e3 / got["all_calls"])
    if client0 is not None and client1 is not None:
        s.add(f"{key}_client_cpu_ms", (client1 - client0) * 1e3 / got["all_calls"])


def measure_small(subjects: list[Subject], plan: Plan, loads: list[tuple[float, ...]]
                  ) -> None:
    for run in range(plan.runs):
        for op in figures.SMALL_OPS:
            for s in subjects:
                ms = s.client.run("latency", op=op, n=plan.latency_n, warmup=plan.warmup,
                                  max_seconds=plan.latency_seconds)["ms"]
                s.add(f"{op}.p50_ms", figures.percentile(ms, 50))
                s.add(f"{op}.p99_ms", figures.percentile(ms, 99))
                s.add(f"{op}.samples", len(ms))
        loads.append(os.getloadavg())
        log(f"latency run {run + 1}/{plan.runs} done (load average {loads[-1][0]:.2f})")
    for run in range(plan.runs):
        for op in figures.SMALL_OPS:
            for s in subjects:
                _throughput(s, op, plan.concurrency, plan)
                if op in figures.HIGH_LOAD_OPS:
                    _throughput(s, op, plan.high_concurrency, plan)
        loads.append(os.getloadavg())
        log(f"throughput run {run + 1}/{plan.runs} done (load average {loads[-1][0]:.2f})")


def measure_big(subjects: list[Subject], plan: Plan, ws: dict[str, Path]) -> None:
    for run in range(plan.runs):
        for s in subjects:
            got = s.client.run("read_big", path=str(ws["data"] / "big.bin"), size=plan.big_bytes)
            s.add("read_big.mb_per_s", got["mb_per_s"])
            got = s.client.run("write_big", path=str(ws["rw"] / f"big-{s.name}.out"),
                               size=plan.big_bytes)
            s.add("write_big.mb_per_s", got["mb_per_s"])
        log(f"big-file run {run + 1}/{plan.runs} done")


def _settled_rss(pid: int) -> int:
    time.sleep(0.3)  # let the pool refill after the previous request
    return min(tree_rss(pid) for _ in range(5))


def measure_rss(subjects: list[Subject], plan: Plan, ws: dict[str, Path]) -> None:
    for s in subjects:
        for what in ("read", "write"):
            idle = _settled_rss(s.server.proc.pid)
            with RssSampler(s.server.proc.pid) as sampler:
                if what == "read":
                    got = s.client.run("read_big", path=str(ws["data"] / "huge.bin"),
                                       size=plan.huge_bytes)
                else:
                    got = s.client.run("write_big", path=str(ws["rw"] / f"huge-{s.name}.out"),
                                       size=plan.huge_bytes)
            s.add(f"rss_{what}.idle_mib", idle / MiB)
            s.add(f"rss_{what}.peak_mib", sampler.peak / MiB)
            s.add(f"rss_{what}.growth_mib", max(sampler.peak - idle, 0) / MiB)
            s.add(f"rss_{what}.mb_per_s", got["mb_per_s"])
            s.add(f"rss_{what}.samples", sampler.samples)
        (ws["rw"] / f"huge-{s.name}.out").unlink(missing_ok=True)
    log("huge-file memory done")


def measure_listing(subjects: list[Subject], plan: Plan, ws: dict[str, Path]) -> None:
    for run in range(plan.list_runs):
        for s in subjects:
            got = s.client.run("list_all", path=str(ws["data"] / "many"), page_size=1000)
            if got["entries"] != plan.list_entries:
                raise RuntimeError(f"{s.name}: listed {got['entries']} of "
                                   f"{plan.list_entries} entries")
            s.add("list_all.seconds", got["seconds"])
            s.add("list_all.pages", got["pages"])
        log(f"listing run {run + 1}/{plan.list_runs} done")


def run_peer(plan: Plan, ws: dict[str, Path]) -> tuple[dict[str, Any] | None, str | None]:
    """Codex's exec-server via the shared peer script: (figures, None) or (None, why not)."""
    if not PEER_SCRIPT.exists():
        return None, f"peer script not found at {PEER_SCRIPT} (set FSGATE_PEER_SCRIPT)"
    missing = [t for t in ("npm", "bwrap") if shutil.which(t) is None]
    try:
        import websockets  # noqa: F401
    except ImportError:
        missing.append("the websockets Python package (pip install websockets)")
    if missing:
        return None, "Codex's exec-server needs " + ", ".join(missing)
    log("running Codex's exec-server (first run installs @openai/codex from npm, ~320 MB)")
    try:
        done = subprocess.run([sys.executable, str(PEER_SCRIPT), "--root", str(ws["peer"]),
                               "--n", str(plan.peer_n)], capture_output=True, text=True,
                              timeout=900, check=False)
    except subprocess.TimeoutExpired:
        return None, "Codex's exec-server did not finish within 900 s"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return None, f"Codex's exec-server failed (exit {done.returncode}): {' / '.join(tail)}"
    peer: dict[str, Any] = json.loads(lines[-1])
    return peer, None


def probe(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None."""
    if name in ALWAYS:
        return None
    from fsgate_server.backends import selection as backends

    check = backends.PROBES.get(name)
    if check is None:
        return f"backend {name} is not implemented in this build"
    result = check()
    return None if result.ok else result.detail


def environment() -> dict[str, Any]:
    import grpc

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"python": platform.python_version(), "kernel": platform.release(),
            "cpus": os.cpu_count(), "grpc": grpc.__version__, "commit": commit,
            "loadavg": os.getloadavg()}


def summarize(raw: dict[str, list[float]]) -> dict[str, float]:
    return {key: figures.median(values) for key, values in sorted(raw.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a tiny workload (seconds): checks the harness, not the numbers")
    ap.add_argument("--no-peer", action="store_true", help="skip Codex's exec-server")
    ap.add_argument("--backends", default=",".join(ALL_BACKENDS),
                    help="comma-separated subset of floor,baseline,landlock,bwrap (default: "
                         "all; floor and baseline always run)")
    ap.add_argument("--runs", type=int, help="repetitions per measurement (default 3; quick 1)")
    ap.add_argument("--workdir", type=Path,
                    help="where the served files go (default: a fresh temporary dir)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results",
                    help="directory for the .md and .json results (default bench/results)")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra option for every server, e.g. --server-arg=--helper-pool-size=8")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.runs:
        plan = Plan(**{**asdict(plan), "runs": args.runs})
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(wanted) - set(ALL_BACKENDS)
    if unknown:
        ap.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    wanted = [*ALWAYS, *(b for b in wanted if b not in ALWAYS)]

    started = time.monotonic()
    own_workdir = args.workdir is None
    work = default_workdir() if own_workdir else args.workdir
    report: dict[str, Any] = {"plan": asdict(plan), "environment": environment(),
                              "skipped": {}, "workdir": str(work), "out": str(args.out)}
    loads: list[tuple[float, ...]] = [os.getloadavg()]
    log(f"workspace {work}")
    ws = make_workspace(work, plan)
    roots = [f"{ws['data']}:ro", str(ws["rw"])]
    subjects: list[Subject] = []
    try:
        for name in wanted:
            why = probe(name)
            if why:
                report["skipped"][name] = why
                log(f"skipping {name}: {why}")
                continue
            server = Server(name, ws["run"], roots, list(args.server_arg))
            paths = {"read4k": str(ws["data"] / "f4k.bin"), "list100": str(ws["data"] / "dir100"),
                     "stat": str(ws["data"] / "f4k.bin"),
                     "write4k": str(ws["rw"] / f"out4k-{name}.bin")}
            try:
                client = Client(server.target, paths, ws["run"] / f"client-{name}.log")
            except BaseException:
                server.stop()
                raise
            subjects.append(Subject(name, server, client, {}))
            log(f"started {name} server (pid {server.proc.pid})")
        if subjects and subjects[0].server.cpu.seconds() is None:
            report["skipped"]["cpu per call"] = "no writable cgroup v2 to account helpers in"
        measure_small(subjects, plan, loads)
        measure_big(subjects, plan, ws)
        measure_rss(subjects, plan, ws)
        measure_listing(subjects, plan, ws)
        # The floor serves only the four v1 RPCs: the v1.1 operations are measured on the
        # others, and their targets compare with the floor's Stat (its cheapest call).
        fsgate_only = [s for s in subjects if s.name != "floor"]
        namespace.measure(fsgate_only, plan, ws["rw"], log)
        edit.measure(fsgate_only, plan, ws["rw"])
        transfer.measure(fsgate_only, plan, ws, log)
        watch.measure(fsgate_only, plan.runs, plan.latency_n, plan.list_entries // 5, ws["rw"])
    finally:
        for s in subjects:
            s.client.stop()
            s.server.stop()
    report["mcp"] = mcp.measure(max(10, plan.latency_n // 4), work,
                                tuple(s.name for s in subjects if s.name in mcp.BACKENDS), log)
    peer = None
    if args.no_peer:
        report["skipped"]["codex"] = "--no-peer"
    else:
        peer, why = run_peer(plan, ws)
        if why:
            report["skipped"]["codex"] = why
            log(f"peer skipped: {why}")
    report["search"] = search_bench.measure([s.name for s in subjects if s.name != "floor"],
                                            args.quick,
                                            ws["run"] / "search", extra=list(args.server_arg))
    if own_workdir:
        shutil.rmtree(work, ignore_errors=True)

    results = {s.name: summarize(s.raw) for s in subjects}
    report["results"] = results
    report["peer"] = peer
    loads.append(os.getloadavg())
    report["loadavg"] = loads
    report["ratios"] = figures.ratios(results)
    report["floor_ratios"] = figures.ratios(results, "floor")
    report["peer_ratios"] = figures.peer_ratios(results, peer)
    report["targets"] = figures.check_targets(results, report["floor_ratios"],
                                              report["peer_ratios"], report["ratios"])
    report["seconds"] = round(time.monotonic() - started, 1)
    text = (f"# fsgate benchmark{' (quick)' if args.quick else ''}\n\n"
            f"`python -m bench{' --quick' if args.quick else ''}` on {report['environment']}, "
            f"{report['seconds']} s\n\n" + figures.markdown(report)
            + "\n" + search_bench.markdown(report["search"]) + mcp.markdown(report["mcp"]))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    md_path = args.out / f"bench-{stamp}.md"
    json_path = args.out / f"bench-{stamp}.json"
    md_path.write_text(text)
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    print(f"markdown: {md_path}\njson:     {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
