"""The fork server process on its own: how it ends when the server lets go of it."""
from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

try:
    import fsgate_server  # noqa: F401
except ImportError:  # not installed: run from the source tree
    _ROOT = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(_ROOT / "service"), str(_ROOT / "client")]

from fsgate_server.helper.forkserver import BUSY_NAME
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox.rlimits import Limits

from .conftest import server_env


def start_forkserver() -> tuple[socket.socket, subprocess.Popen[str]]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    settings = HelperSettings(runtime_roots=tuple(runtime_roots()), limits=Limits())
    proc = subprocess.Popen(
        [sys.executable, "-m", "fsgate_server.helper.forkserver", "--control-fd",
         str(theirs.fileno()), "--parent-pid", str(os.getpid()),
         "--settings", json.dumps(settings.to_json())],
        pass_fds=[theirs.fileno()], env=server_env(), stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    theirs.close()
    return ours, proc


def test_channel_closed_while_it_answers_ends_the_fork_server_quietly() -> None:
    # What `fsgate doctor` did: ask for helpers, then stop before they are handed over.
    ours, proc = start_forkserver()
    ours.sendall(b"F" * 8)
    ours.close()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_sigterm_does_not_stop_the_fork_server_only_its_channel_does() -> None:
    ours, proc = start_forkserver()
    try:
        ours.sendall(b"F")  # answered once main() runs, with its signal dispositions set
        msg, fds, _, _ = socket.recv_fds(ours, 4, 2)
        for fd in fds:
            os.close(fd)
        assert len(msg) == 4 and len(fds) == 2
        proc.send_signal(signal.SIGTERM)  # e.g. the process group's, at shutdown
        ours.sendall(b"F")  # still serving
        msg, fds, _, _ = socket.recv_fds(ours, 4, 2)
        for fd in fds:
            os.close(fd)
        assert len(msg) == 4 and len(fds) == 2
    finally:
        ours.close()
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr


def _status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as fh:
        return dict(line.split(":\t", 1) for line in fh.read().splitlines() if ":\t" in line)


def test_the_fork_server_and_its_idle_helpers_already_run_under_seccomp() -> None:
    # The shared part of the denylist is installed once, in the fork server (confine.py),
    # and inherited: a helper waiting for its request is filtered already, and not named
    # busy (tests/integration/test_faults.py tells busy helpers by their name).
    ours, proc = start_forkserver()
    try:
        ours.sendall(b"F")
        msg, fds, _, _ = socket.recv_fds(ours, 4, 2)
        (pid,) = struct.unpack("!I", msg)
        try:
            for who in (proc.pid, pid):
                status = _status(who)
                assert status["Seccomp"].strip() == "2", (who, status["Seccomp"])
                assert status["NoNewPrivs"].strip() == "1", who
            with open(f"/proc/{pid}/comm") as fh:
                assert fh.read().strip() != BUSY_NAME.decode()
        finally:
            for fd in fds:
                os.close(fd)
    finally:
        ours.close()
    proc.communicate(timeout=30)
