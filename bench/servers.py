"""Start the servers under test as real processes, drive them through a client process,
sample the memory of a server's whole process tree, and account its CPU time."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
SRC_PATH = os.pathsep.join([str(REPO / "client"), str(REPO / "service")])
READY_TIMEOUT = 60.0  # seconds for a server to accept connections


def env() -> dict[str, str]:
    out = dict(os.environ)
    extra = [SRC_PATH, str(REPO)]
    if out.get("PYTHONPATH"):
        extra.append(out["PYTHONPATH"])
    out["PYTHONPATH"] = os.pathsep.join(extra)
    return out


# --- CPU time of a process tree ---------------------------------------------------------

def _cgroup2_base() -> Path | None:
    """Our own cgroup in the cgroup v2 hierarchy, if it is mounted and we may write there."""
    mount = None
    try:
        with open("/proc/self/mounts", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    mount = Path(fields[1])
                    break
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            own = next((ln.split(":", 2)[2].strip() for ln in f if ln.startswith("0::")), None)
    except OSError:
        return None
    if mount is None or own is None:
        return None
    base = mount / own.lstrip("/")
    return base if os.access(base, os.W_OK) else None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system time of one process (all its threads), not its children."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time of everything a process started under it ever ran (helpers that exited and
    were reaped by nobody included), from a cgroup v2 of its own: ``usage_usec`` of
    cpu.stat. ``seconds()`` is None where no writable cgroup v2 exists (then the benchmark
    reports no CPU figures rather than ones that miss the helpers)."""

    def __init__(self, name: str) -> None:
        base = _cgroup2_base()
        self.path: Path | None = None
        if base is not None:
            path = base / f"fsgate-bench-{os.getpid()}-{name}"
            try:
                path.mkdir(exist_ok=True)
                self.path = path
            except OSError:
                self.path = None

    def enter(self) -> None:
        """Move the calling process into the cgroup (a Popen preexec_fn: in the child)."""
        if self.path is not None:
            with open(self.path / "cgroup.procs", "w", encoding="ascii") as f:
                f.write("0")

    def seconds(self) -> float | None:
        if self.path is None:
            return None
        try:
            with open(self.path / "cpu.stat", encoding="ascii") as f:
                for line in f:
                    if line.startswith("usage_usec "):
                        return int(line.split()[1]) / 1e6
        except OSError:
            return None
        return None

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):  # a process left in it: then it stays
                self.path.rmdir()


class Server:
    """One server process on a unix socket: ``floor``, ``baseline`` or a sandbox backend."""

    def __init__(self, backend: str, run_dir: Path, roots: list[str], extra: list[str],
                 *, log_level: str = "info") -> None:
        self.backend = backend
        sock = run_dir / f"{backend}.sock"
        sock.unlink(missing_ok=True)
        self.target = f"unix:{sock}"
        self.log_path = run_dir / f"{backend}.log"
        if backend == "floor":
            args = [sys.executable, "-m", "bench.floor_server"]
        elif backend == "baseline":
            args = [sys.executable, "-m", "bench.baseline_server"]
        else:
            args = [sys.executable, "-m", "fsgate_server", "serve", "--sandbox", backend]
        # At the product's default level: the request log line is part of what a request
        # costs (it goes to a file here, as to a collector in production).
        args += ["--listen", self.target, "--log-format", "json", "--log-level", log_level]
        for r in roots:
            args += ["--root", r]
        self.args = args + extra
        self.cpu = CpuMeter(backend)
        with open(self.log_path, "wb") as log:
            # preexec_fn: the bench is single-threaded while it starts servers
            self.proc = subprocess.Popen(self.args, env=env(), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, cwd=REPO,
                                         preexec_fn=self.cpu.enter)
        self._wait_ready()

    def _wait_ready(self) -> None:
        import grpc

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.backend} server exited {self.proc.returncode}:\n"
                                   f"{self.log_path.read_text(errors='replace')[-4000:]}")
            channel = grpc.insecure_channel(self.target)
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
                return
            except grpc.FutureTimeoutError:
                continue
            finally:
                channel.close()
        self.stop()
        raise RuntimeError(f"{self.backend} server not ready after {READY_TIMEOUT:g} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.cpu.close()


class Client:
    """The load generator (bench/client.py) in its own process, one JSON line per task."""

    def __init__(self, target: str, paths: dict[str, str], log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115  # closed in stop()
        self.cpu = CpuMeter(f"client-{log_path.stem}")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.client", target],
                                     env=env(), cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     preexec_fn=self.cpu.enter)
        self._send({"paths": paths})
        if not self._answer().get("ready"):
            raise RuntimeError("benchmark client did not start")

    def _send(self, obj: dict[str, Any]) -> None:
        stdin: IO[str] | None = self.proc.stdin
        assert stdin is not None
        stdin.write(json.dumps(obj) + "\n")
        stdin.flush()

    def _answer(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.proc.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark client exited {self.proc.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, task: str, **args: Any) -> dict[str, Any]:
        self._send({"task": task, **args})
        answer = self._answer()
        if "error" in answer:
            raise RuntimeError(f"{task} {args}: {answer['error']}")
        return answer

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.cpu.close()


# --- memory of a process tree -------------------------------------------------------------

def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree(pid: int) -> list[int]:
    """pid and all its descendants (fork server, helpers, bwrap and what it runs)."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0  # it exited between listing and reading


def tree_rss(pid: int) -> int:
    """Resident set size summed over the tree (shared pages count once per process)."""
    return sum(rss_bytes(p) for p in tree(pid))


class RssSampler:
    """Samples tree_rss(pid) in a thread every ``interval`` seconds; ``peak`` is the max."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))
