"""Shared fixtures: a real `fsgate serve` process per backend, started as the README says."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

REPO = Path(__file__).resolve().parent.parent
SRC_PATH = os.pathsep.join([str(REPO / "client"), str(REPO / "service")])
BACKENDS = ("landlock", "bwrap")


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC_PATH + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                    else "")
    env.update(extra or {})
    return env


def backend_skip_reason(backend: str) -> str | None:
    """Why a backend cannot run here, or None. Never a silent skip: the reason is reported."""
    sys.path[:0] = [str(REPO / "client"), str(REPO / "service")]
    from fsgate_server.backends import selection as backends

    probe = backends.PROBES.get(backend)
    if probe is None:
        return f"backend {backend} is not implemented yet"
    result = probe()
    return None if result.ok else f"backend {backend} unavailable here: {result.detail}"


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    target: str
    root: Path
    backend: str
    log_path: Path
    args: list[str] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(tmp: Path, roots: list[str], backend: str, *extra: str,
                 env: dict[str, str] | None = None, python: str = sys.executable,
                 wait: bool = True, new_session: bool = False,
                 entry: Sequence[str] = ("-m", "fsgate_server")) -> ServerProcess:
    """``entry`` is what the interpreter runs, before ``serve``: a test-only launcher may
    stand in for ``-m fsgate_server``."""
    sock = tmp / f"fsgate-{backend}-{time.monotonic_ns()}.sock"
    log_path = tmp / f"server-{backend}-{time.monotonic_ns()}.log"
    args = [python, *entry, "serve", "--sandbox", backend,
            "--listen", f"unix:{sock}", "--log-format", "json"]
    for r in roots:
        args += ["--root", r]
    args += list(extra)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=server_env(env), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=new_session)
    server = ServerProcess(proc, f"unix:{sock}", Path(roots[0].split(":")[0]) if roots else tmp,
                           backend, log_path, args)
    if wait:
        wait_ready(server)
    return server


def wait_ready(server: ServerProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited {server.proc.returncode}:\n{server.log()}")
        channel = grpc.insecure_channel(server.target)
        try:
            grpc.channel_ready_future(channel).result(timeout=0.5)
            return
        except grpc.FutureTimeoutError:
            continue
        finally:
            channel.close()
    server.stop()
    raise RuntimeError(f"server not ready after {timeout}s:\n{server.log()}")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    reason = backend_skip_reason(name)
    if reason:
        pytest.skip(reason)
    return name


@pytest.fixture(scope="session")
def served(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per backend for the session: read-write root `ws`, read-only root `ro`,
    and `outside`, a sibling directory no root covers (with `ws2` for prefix confusion)."""
    base = tmp_path_factory.mktemp(f"served-{backend}")
    for name in ("ws", "ro", "outside", "ws2"):
        (base / name).mkdir()
    (base / "outside" / "secret.txt").write_text("top secret\n")
    (base / "ws2" / "sibling.txt").write_text("sibling\n")
    (base / "ro" / "readme.txt").write_text("read only\n")
    run = tmp_path_factory.mktemp(f"run-{backend}")  # socket and log live outside the roots
    server = start_server(run, [str(base / "ws"), f"{base / 'ro'}:ro"], backend)
    yield server
    server.stop()


@pytest.fixture
def ws(served: ServerProcess, request: pytest.FixtureRequest) -> Path:
    """A fresh directory inside the served read-write root, for one test."""
    d: Path = served.root / request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    d.mkdir()
    return d


@pytest.fixture
def client(served: ServerProcess) -> Iterator[object]:
    import fsgate

    with fsgate.Client(served.target) as c:
        yield c
