"""Health at start-up, on a real server: the port opens at once, health says NOT_SERVING
until a confined helper has answered and the pool holds a ready helper for the next
request, then SERVING, and a request succeeds.

The fork servers' helpers are held back by hold_helpers.py (a test-only launcher) until the
test lets them go, so "no helper is ready yet" is a state the test sets up, not a race with
the fork server's warm-up."""
from __future__ import annotations

import os
import select
from pathlib import Path

import grpc
import pytest
from fsgate import Client
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ..conftest import ServerProcess, start_server
from .test_operations import wait_serving

LAUNCHER = Path(__file__).with_name("hold_helpers.py")
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health(server: ServerProcess) -> int:
    with grpc.insecure_channel(server.target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10)
    return int(reply.status)  # the stub is untyped (grpc_health is not type-checked)


def open_gate(gate: Path) -> None:
    """Let the held helpers be forked: the launcher has been waiting on ``gate`` since it
    started (non-blocking: a launcher that is gone fails here rather than hanging)."""
    os.close(os.open(gate, os.O_WRONLY | os.O_NONBLOCK))


def checked_once(checked: Path, timeout: float = 60.0) -> bool:
    """Whether the launcher says, within ``timeout``, that the health check's stat returned.
    (A FIFO no writer has opened yet is not readable: select waits for the launcher.)"""
    fd = os.open(checked, os.O_RDONLY | os.O_NONBLOCK)
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) and os.read(fd, 1) == b"x"
    finally:
        os.close(fd)


@pytest.fixture
def held(tmp_path: Path) -> tuple[Path, Path]:
    """The launcher's FIFOs: the gate the test opens, and where the check says it ran."""
    gate, checked = tmp_path / "gate", tmp_path / "checked"
    os.mkfifo(gate)
    os.mkfifo(checked)
    return gate, checked


def start_held(tmp_path: Path, backend: str, mode: str, gate: Path, checked: Path,
               *extra: str) -> ServerProcess:
    # A read-only root: no start-up sweep, so the health check is the only request.
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "hello.txt").write_text("hello\n")
    return start_server(tmp_path, [f"{tmp_path / 'ws'}:ro"], backend, *extra,
                        entry=(str(LAUNCHER), mode, str(gate), str(checked)))


def test_health_is_not_serving_while_no_helper_exists_then_serving(
        tmp_path: Path, backend: str, held: tuple[Path, Path]) -> None:
    gate, checked = held
    server = start_held(tmp_path, backend, "first", gate, checked)  # returns once it listens
    try:
        assert health(server) == NOT_SERVING  # the port is open, no helper forked yet
        open_gate(gate)  # the fork servers fork
        assert checked_once(checked)  # the health check's stat has returned
        wait_serving(server.target)
        with Client(server.target) as fs:
            assert fs.read_file(tmp_path / "ws" / "hello.txt") == b"hello\n"
    finally:
        assert server.stop() == 0, server.log()


def test_health_waits_for_the_replacement_of_the_helper_its_check_used(
        tmp_path: Path, backend: str, held: tuple[Path, Path]) -> None:
    gate, checked = held
    # One helper per pool: the check uses it up, and its replacement is held back.
    server = start_held(tmp_path, backend, "replacements", gate, checked,
                        "--helper-pool-size", "1")
    try:
        assert checked_once(checked)  # a helper has answered the check...
        assert health(server) == NOT_SERVING  # ...but none is ready for the next request
        open_gate(gate)  # the replacement is forked
        wait_serving(server.target)
        with Client(server.target) as fs:
            assert fs.read_file(tmp_path / "ws" / "hello.txt") == b"hello\n"
    finally:
        assert server.stop() == 0, server.log()
