"""The per-request log line and request id, against the real servicer in-process (the
helper is faked: these tests are about what is logged and returned, not about files)."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import structlog
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from fsgate_server.config import Config
from fsgate_server.helper import codec
from fsgate_server.helper.messages import FileFacts, FileType, Request, WriteArgs, WriteDone
from fsgate_server.helper.protocol import Kind
from fsgate_server.operability.logs import redact_secrets
from fsgate_server.policy import Root
from fsgate_server.transport.handlers import FileSystemServicer
from fsgate_server.transport.lifecycle import Lifecycle

from .helpers import rpc_reason

TOKEN = "tok-4b1d-very-secret-value"
CONTENT = b"FILE-CONTENT-MUST-NOT-BE-LOGGED"
HEX32 = re.compile(r"[0-9a-f]{32}")


class FakeHelper:
    pid = 4242

    def kill(self) -> None:
        pass


class FakeCall:
    """Answers like a helper would (the frames HelperClient expects), for stat, read and
    write."""

    def __init__(self, req: Request) -> None:
        self.helper = FakeHelper()
        self.pid = FakeHelper.pid
        self.req = req
        self.received = b""
        self.chunks = [(Kind.DATA, CONTENT), (Kind.END, b"")]

    def info(self) -> FileFacts:
        return FileFacts(path=self.req.path, type=FileType.REGULAR, size=len(CONTENT),
                         mode=0o644, mtime_ns=0, version="v1")

    def expect(self, kind: Kind) -> bytes:
        if kind is Kind.READY:
            return b""
        if isinstance(self.req, WriteArgs):
            return codec.encode(WriteDone(info=self.info(), bytes_written=len(self.received)))
        return codec.encode(self.info())

    def recv(self) -> tuple[Kind, bytes]:
        return self.chunks.pop(0)

    def send(self, kind: Kind, payload: bytes = b"") -> None:
        self.received += payload

    def close(self) -> None:
        pass


class FakeExecutor:
    name = "fake"

    def start(self, req: Any, deadline: float | None) -> FakeCall:
        return FakeCall(req)

    def stop(self) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FileSystemServicer, Any, Path]]:
    root = tmp_path / "ws"
    root.mkdir()
    servicer = FileSystemServicer(Config(roots=(Root(str(root), True),)),
                                  FakeExecutor(),  # type: ignore[arg-type]  # FakeCall: duck-typed
                                  lifecycle=Lifecycle())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(servicer, server)
    server.add_insecure_port(f"unix:{tmp_path / 's.sock'}")
    server.start()
    channel = grpc.insecure_channel(f"unix:{tmp_path / 's.sock'}")
    yield servicer, fsgate_pb2_grpc.FileSystemServiceStub(channel), root
    channel.close()
    server.stop(None)


def trailing_id(call: Any) -> str:
    ids = [v for k, v in call.trailing_metadata() if k == "x-request-id"]
    assert len(ids) == 1, call.trailing_metadata()
    return str(ids[0])


def request_lines(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "request"]


def test_success_logs_one_line_with_the_generated_request_id_it_returns(served: Any) -> None:
    _servicer, stub, root = served
    with structlog.testing.capture_logs() as logs:
        _reply, call = stub.Stat.with_call(pb.StatRequest(path=str(root / "f")))
    (line,) = request_lines(logs)
    rid = trailing_id(call)
    assert HEX32.fullmatch(rid)
    assert line["request_id"] == rid
    assert line["method"] == "Stat" and line["code"] == "OK" and line["reason"] == ""
    assert line["path"] == str(root / "f") and line["helper_pid"] == FakeHelper.pid
    assert line["backend"] == "fake" and line["peer"] and line["duration_ms"] >= 0


def test_callers_request_id_is_logged_and_returned_also_on_error(served: Any) -> None:
    _servicer, stub, _root = served
    metadata = (("x-request-id", "caller-id-7"), ("authorization", f"Bearer {TOKEN}"))
    with structlog.testing.capture_logs() as logs, pytest.raises(grpc.RpcError) as err:
        stub.Stat(pb.StatRequest(path="/etc/passwd"), metadata=metadata)
    assert rpc_reason(err.value) == (grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY")
    assert trailing_id(err.value) == "caller-id-7"
    (line,) = request_lines(logs)
    assert line["request_id"] == "caller-id-7"
    assert (line["code"], line["reason"]) == ("PERMISSION_DENIED", "OUTSIDE_POLICY")


def test_bearer_token_and_file_contents_never_reach_the_log(served: Any) -> None:
    _servicer, stub, root = served
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    with structlog.testing.capture_logs() as logs:
        stub.WriteFile(iter([
            pb.WriteFileRequest(header=pb.WriteFileRequest.Header(path=str(root / "w"))),
            pb.WriteFileRequest(data=CONTENT)]), metadata=metadata)
        list(stub.ReadFile(pb.ReadFileRequest(path=str(root / "w")), metadata=metadata))
    lines = request_lines(logs)
    assert [(x["method"], x["code"], x["bytes"]) for x in lines] == [
        ("WriteFile", "OK", len(CONTENT)), ("ReadFile", "OK", len(CONTENT))]
    text = repr(logs)
    assert TOKEN not in text and CONTENT.decode() not in text


def test_request_during_drain_is_refused_shutting_down_and_logged(served: Any) -> None:
    servicer, stub, root = served
    servicer.lifecycle.begin_drain()
    with structlog.testing.capture_logs() as logs, pytest.raises(grpc.RpcError) as err:
        stub.Stat(pb.StatRequest(path=str(root)))
    assert rpc_reason(err.value) == (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN")
    assert HEX32.fullmatch(trailing_id(err.value))
    (line,) = request_lines(logs)
    assert (line["code"], line["reason"]) == ("UNAVAILABLE", "SHUTTING_DOWN")


def test_requests_are_counted_in_the_servicers_metrics(served: Any) -> None:
    servicer, stub, root = served
    stub.Stat(pb.StatRequest(path=str(root)))
    value = servicer.metrics.registry.get_sample_value(
        "fsgate_requests_total", {"method": "Stat", "code": "OK", "reason": ""})
    assert value == 1
    assert servicer.metrics.registry.get_sample_value("fsgate_helper_start_seconds_count") == 1


def test_redaction_processor_blanks_credentials_and_contents_passed_by_mistake() -> None:
    event = {"event": "x", "authorization": f"Bearer {TOKEN}", "token": TOKEN,
             "data": CONTENT, "path": "/ws/f"}
    out = redact_secrets(None, "info", event)
    assert TOKEN not in repr(out) and CONTENT not in repr(out).encode()
    assert out["path"] == "/ws/f"
