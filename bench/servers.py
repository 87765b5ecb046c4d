"""Start the servers under test as real processes, drive them through a client process,
and sample the memory of a server's whole process tree."""
from __future__ import annotations

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


class Server:
    """One server process on a unix socket: ``baseline`` or a sandbox backend."""

    def __init__(self, backend: str, run_dir: Path, roots: list[str], extra: list[str]
                 ) -> None:
        self.backend = backend
        sock = run_dir / f"{backend}.sock"
        sock.unlink(missing_ok=True)
        self.target = f"unix:{sock}"
        self.log_path = run_dir / f"{backend}.log"
        if backend == "baseline":
            args = [sys.executable, "-m", "bench.baseline_server"]
        else:
            args = [sys.executable, "-m", "fsgate_server", "serve", "--sandbox", backend]
        args += ["--listen", self.target, "--log-format", "json", "--log-level", "warning"]
        for r in roots:
            args += ["--root", r]
        self.args = args + extra
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args, env=env(), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, cwd=REPO)
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


class Client:
    """The load generator (bench/client.py) in its own process, one JSON line per task."""

    def __init__(self, target: str, paths: dict[str, str], log_path: Path) -> None:
        self._log = open(log_path, "ab")  # noqa: SIM115  # closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.client", target],
                                     env=env(), cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
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
