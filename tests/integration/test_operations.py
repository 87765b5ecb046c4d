"""Operating a real server: health, reflection, `fsgate health`, metrics over HTTP, and the
JSON request log (request id, no token, no content)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsgate
import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import ServerProcess, server_env, start_server

TOKEN = "op-token-0123456789abcdef"
CONTENT = b"operations test content, never in a log line\n"
SERVING = health_pb2.HealthCheckResponse.SERVING


def log_events(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def wait_serving(target: str, service: str = "", timeout: float = 30.0) -> None:
    """Follow the health Watch stream until it says SERVING (it answers at once, then on
    every change), instead of polling."""
    with grpc.insecure_channel(target) as channel:
        stream = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        for reply in stream:
            if reply.status == SERVING:
                stream.cancel()
                return
    raise AssertionError(f"{target} never reported SERVING")


def fsgate_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fsgate_server", *args], env=server_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def ops_server(backend: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[ServerProcess]:
    """A server with metrics on a free loopback port and a bearer token."""
    base = tmp_path_factory.mktemp(f"ops-{backend}")
    root = base / "ws"
    root.mkdir()
    (root / "hello.txt").write_bytes(CONTENT)
    tokens = base / "tokens"
    tokens.write_text(TOKEN + "\n")
    server = start_server(base, [str(root)], backend, "--metrics-listen", "127.0.0.1:0",
                          "--auth-token-file", str(tokens))
    wait_serving(server.target)
    yield server
    server.stop()


def metrics_port(server: ServerProcess) -> int:
    (serving,) = [e for e in log_events(server) if e["event"] == "serving"]
    return int(serving["metrics_port"])


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://127.0.0.1:{metrics_port(server)}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        text = reply.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_health_is_serving_for_the_server_and_the_file_service(ops_server: ServerProcess
                                                               ) -> None:
    with grpc.insecure_channel(ops_server.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "fsgate.v1.FileSystemService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == SERVING, service


def test_fsgate_health_exits_0_when_serving(ops_server: ServerProcess) -> None:
    result = fsgate_cli("health", "--target", ops_server.target,
                        "--service", "fsgate.v1.FileSystemService")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SERVING"


def test_fsgate_health_exits_1_for_an_unknown_service(ops_server: ServerProcess) -> None:
    result = fsgate_cli("health", "--target", ops_server.target, "--service", "no.Such")
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr and "no.Such" in result.stderr


def test_fsgate_health_exits_1_when_nothing_listens(tmp_path: Path) -> None:
    result = fsgate_cli("health", "--target", f"unix:{tmp_path / 'none.sock'}",
                        "--timeout", "2")
    assert result.returncode == 1
    assert result.stderr.startswith("fsgate health: unix:") and "UNAVAILABLE" in result.stderr


def test_reflection_lists_file_service_health_and_reflection(ops_server: ServerProcess
                                                             ) -> None:
    # Reflection needs the token like every fsgate method; health stays open for probes.
    with grpc.insecure_channel(ops_server.target) as plain, pytest.raises(grpc.RpcError):
        ProtoReflectionDescriptorDatabase(plain).get_services()
    interceptor = _BearerInterceptor(TOKEN)
    with grpc.insecure_channel(ops_server.target) as plain:
        channel = grpc.intercept_channel(plain, interceptor)
        db = ProtoReflectionDescriptorDatabase(channel)
        services = set(db.get_services())
        assert {"fsgate.v1.FileSystemService", "grpc.health.v1.Health",
                "grpc.reflection.v1alpha.ServerReflection"} <= services
        desc = db.FindFileContainingSymbol("fsgate.v1.FileSystemService")
        assert "fsgate" in desc.package


# grpc-stubs makes the interceptor generic; the class at run time is not subscriptable.
class _BearerInterceptor(grpc.StreamStreamClientInterceptor):  # type: ignore[type-arg]
    def __init__(self, token: str) -> None:
        self.token = token

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {self.token}")]
        return continuation(details._replace(metadata=metadata), requests)


def test_metrics_are_scraped_over_http(ops_server: ServerProcess) -> None:
    root = ops_server.root
    with fsgate.Client(ops_server.target, token=TOKEN) as c:
        assert c.read_file(str(root / "hello.txt")) == CONTENT
        c.write_file(str(root / "out.txt"), CONTENT)
        with pytest.raises(fsgate.PermissionDenied):
            c.stat("/etc/passwd")
    expected = {
        ("fsgate_requests_total", (("code", "OK"), ("method", "ReadFile"), ("reason", ""))): 1,
        ("fsgate_requests_total", (("code", "PERMISSION_DENIED"), ("method", "Stat"),
                                   ("reason", "OUTSIDE_POLICY"))): 1,
        ("fsgate_request_duration_seconds_count", (("method", "WriteFile"),)): 1,
        ("fsgate_helper_start_seconds_count", ()): 2,
        ("fsgate_bytes_read_total", ()): len(CONTENT),
        ("fsgate_bytes_written_total", ()): len(CONTENT),
    }
    # A client that has all its bytes may return before the server's handler has unwound
    # and counted the request: scrape until it has (bounded).
    deadline = time.monotonic() + 10
    while True:
        m = scrape(ops_server)
        short = {k: m.get(k) for k, least in expected.items() if m.get(k, -1) < least}
        if not short and m[("fsgate_helpers_running", ())] == 0:
            break
        assert time.monotonic() < deadline, (short, m.get(("fsgate_helpers_running", ())))
        time.sleep(0.05)
    assert ("fsgate_sandbox_denials_total", ()) in m


def test_request_log_line_has_the_request_facts_and_no_token_or_content(
        ops_server: ServerProcess) -> None:
    path = str(ops_server.root / "hello.txt")
    with grpc.insecure_channel(ops_server.target) as channel:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        replies = stub.ReadFile(pb.ReadFileRequest(path=path), timeout=30, metadata=(
            ("x-request-id", "ops-read-1"), ("authorization", f"Bearer {TOKEN}")))
        assert b"".join(r.data for r in replies) == CONTENT
        assert ("x-request-id", "ops-read-1") in replies.trailing_metadata()
    deadline = time.monotonic() + 10  # the line is written as the call completes
    while not (lines := [e for e in log_events(ops_server)
                         if e.get("request_id") == "ops-read-1"]):
        assert time.monotonic() < deadline, ops_server.log()
        time.sleep(0.05)
    (line,) = lines
    assert line["event"] == "request" and line["level"] == "info"
    assert (line["method"], line["code"], line["reason"]) == ("ReadFile", "OK", "")
    assert line["path"] == path and line["bytes"] == len(CONTENT)
    assert line["backend"] == ops_server.backend and isinstance(line["helper_pid"], int)
    assert line["peer"] and line["duration_ms"] > 0 and line["timestamp"]
    log = ops_server.log()
    assert TOKEN not in log and CONTENT.decode().strip() not in log


def test_startup_log_has_config_backend_and_runtime_roots(ops_server: ServerProcess) -> None:
    events = log_events(ops_server)
    (serving,) = [e for e in events if e["event"] == "serving"]
    assert serving["backend"] == ops_server.backend
    assert serving["config"]["root"] == [f"{ops_server.root}:rw"]
    assert serving["config"]["auth_token_file"].endswith("tokens")  # the path, not a token
    assert any(Path(sys.base_prefix).resolve().is_relative_to(r) or
               Path(r).is_relative_to(Path(sys.base_prefix).resolve())
               for r in serving["runtime_roots"])
    assert any(e["event"] == "ready" for e in events)  # health turned SERVING
