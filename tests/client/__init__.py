"""Client tests, and the in-process fake fsgate server they share.

The package marker also keeps these test modules' names (``client.test_errors``) apart
from same-named modules elsewhere under tests/. The fake stands in for the real server
(written separately): it keeps files in a dict, captures every request and its metadata,
and can be told to fail the next call with a given (code, reason).
"""

from __future__ import annotations

import contextlib
import datetime
import tempfile
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from fsgate.v1 import fsgate_pb2, fsgate_pb2_grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

MTIME = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)


def status_with_reason(
    code: grpc.StatusCode,
    message: str,
    reason: str | None = None,
    *,
    domain: str = "fsgate",
    metadata: dict[str, str] | None = None,
) -> status_pb2.Status:
    """A google.rpc.Status as the server encodes it: code, message, one ErrorInfo."""
    details = []
    if reason is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=domain,
                                                metadata=metadata or {}))
        details.append(detail)
    return status_pb2.Status(code=code.value[0], message=message, details=details)


def file_info(path: str, size: int = 0, *,
              type: fsgate_pb2.FileType = fsgate_pb2.FILE_TYPE_REGULAR,
              symlink_target: str = "") -> fsgate_pb2.FileInfo:
    info = fsgate_pb2.FileInfo(path=path, type=type, size=size, mode=0o644,
                               version=f"v{size}", symlink_target=symlink_target)
    info.modified_time.FromDatetime(MTIME)
    return info


@dataclass
class Captured:
    method: str
    request: Any  # the request message; for WriteFile, the list of stream messages
    metadata: dict[str, str | bytes]


@dataclass
class FakeFileSystem(fsgate_pb2_grpc.FileSystemServiceServicer):
    """A FileSystemService over a dict. Not a sandbox: it checks nothing but the cwd rule."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: ListDir answers from this, ``page_size`` (default 1000) entries per page.
    entries: list[fsgate_pb2.DirEntry] = field(default_factory=list)
    captured: list[Captured] = field(default_factory=list)
    #: When set, the next ``fail_count`` calls abort with this status (then it is cleared).
    #: The client retries UNAVAILABLE on ReadFile, ListDir and Stat: to see that error
    #: from those, fail at least ``RETRY_POLICY["maxAttempts"]`` calls.
    fail_next: status_pb2.Status | None = None
    fail_count: int = 1
    #: ReadFile: data chunk size when the request leaves it 0.
    read_chunk: int = 4
    #: ReadFile: after the first data chunk, wait for this event before the rest.
    read_gate: threading.Event | None = None
    read_gate_timed_out: bool = False
    #: ReadFile: set when a ReadFile call has ended on the server, completed or cancelled.
    read_ended: threading.Event = field(default_factory=threading.Event)
    #: WriteFile: seconds to wait for a cancellation before committing (tests of
    #: cancelled writes; gRPC may report a cancel just after the stream "ended").
    commit_grace: float = 0.0
    #: Stat: wait for this event before answering (deadline tests).
    stat_gate: threading.Event | None = None

    def reset(self, files: dict[str, bytes] | None = None) -> None:
        """Back to a fresh fake (for a server shared between tests); releases any gate."""
        for gate in (self.read_gate, self.stat_gate):
            if gate is not None:
                gate.set()
        fresh = FakeFileSystem(files=dict(files or {}))
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def _begin(self, method: str, request: Any, context: grpc.ServicerContext) -> Captured:
        captured = Captured(method, request, dict(context.invocation_metadata()))
        self.captured.append(captured)
        if self.fail_next is not None:
            status = self.fail_next
            self.fail_count -= 1
            if self.fail_count <= 0:
                self.fail_next, self.fail_count = None, 1
            context.abort_with_status(rpc_status.to_status(status))
        sandbox = getattr(request, "sandbox", None)
        path = request.path
        relative = not path.startswith("/") or (
            sandbox is not None
            and any(not p.startswith("/") for p in (*sandbox.readable_roots,
                                                    *sandbox.writable_roots,
                                                    *sandbox.denied_paths))
        )
        if relative and (sandbox is None or not sandbox.cwd):
            context.abort_with_status(rpc_status.to_status(status_with_reason(
                grpc.StatusCode.INVALID_ARGUMENT, "relative path needs sandbox.cwd",
                "CWD_REQUIRED")))
        return captured

    def _resolve(self, request: Any) -> str:
        if request.path.startswith("/"):
            return str(request.path)
        return f"{request.sandbox.cwd.rstrip('/')}/{request.path}"

    def _not_found(self, context: grpc.ServicerContext, path: str) -> None:
        context.abort_with_status(rpc_status.to_status(status_with_reason(
            grpc.StatusCode.NOT_FOUND, f"no such file: {path}", "NOT_FOUND",
            metadata={"path": path})))

    def ReadFile(self, request: fsgate_pb2.ReadFileRequest,
                 context: grpc.ServicerContext) -> Iterator[fsgate_pb2.ReadFileResponse]:
        self._begin("ReadFile", request, context)
        context.add_callback(self.read_ended.set)
        path = self._resolve(request)
        if path not in self.files:
            self._not_found(context, path)
        content = self.files[path]
        yield fsgate_pb2.ReadFileResponse(info=file_info(path, len(content)))
        end = request.offset + request.length if request.length else len(content)
        content = content[request.offset:end]
        size = request.chunk_size or self.read_chunk
        for i, start in enumerate(range(0, len(content), size)):
            if i == 1 and self.read_gate is not None:
                self.read_gate_timed_out = not self.read_gate.wait(timeout=10)
            yield fsgate_pb2.ReadFileResponse(data=content[start:start + size])

    def WriteFile(self, request_iterator: Iterator[fsgate_pb2.WriteFileRequest],
                  context: grpc.ServicerContext) -> fsgate_pb2.WriteFileResponse:
        ended = threading.Event()
        context.add_callback(ended.set)  # before we return, only a cancel sets it
        # This call's own state: a handler that outlives its test (a cancelled call ends
        # here after the client has returned) must not write into the next test's fake.
        files, grace = self.files, self.commit_grace
        messages = []
        captured: Captured | None = None
        for msg in request_iterator:
            messages.append(msg)
            if len(messages) == 1:
                captured = self._begin("WriteFile", msg.header, context)
        # A client's cancel can end the request iterator like its half-close, a moment
        # before gRPC reports the call cancelled; with a grace, wait for that report.
        # A cancel can also arrive before the header did (the client cancels as soon as
        # its data source fails, and gRPC drops messages not yet on the wire): then the
        # stream ends with no message at all.
        if captured is None:
            if ended.wait(grace) or not context.is_active():
                return fsgate_pb2.WriteFileResponse()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "WriteFile stream without a header")
        assert captured is not None
        captured.request = messages
        if ended.wait(grace) or not context.is_active():
            return fsgate_pb2.WriteFileResponse()  # cancelled: leave the file as it was
        content = b"".join(m.data for m in messages[1:])
        path = self._resolve(messages[0].header)
        files[path] = content
        return fsgate_pb2.WriteFileResponse(info=file_info(path, len(content)),
                                            bytes_written=len(content))

    def ListDir(self, request: fsgate_pb2.ListDirRequest,
                context: grpc.ServicerContext) -> fsgate_pb2.ListDirResponse:
        self._begin("ListDir", request, context)
        start = int(request.page_token or "0")
        size = request.page_size or 1000
        page = self.entries[start:start + size]
        more = start + size < len(self.entries)
        return fsgate_pb2.ListDirResponse(entries=page,
                                          next_page_token=str(start + size) if more else "")

    def Stat(self, request: fsgate_pb2.StatRequest,
             context: grpc.ServicerContext) -> fsgate_pb2.StatResponse:
        self._begin("Stat", request, context)
        if self.stat_gate is not None:
            self.stat_gate.wait(timeout=10)
        path = self._resolve(request)
        if path in self.files:
            return fsgate_pb2.StatResponse(info=file_info(path, len(self.files[path])))
        if any(path == e.info.path for e in self.entries) or path == "/ws":
            return fsgate_pb2.StatResponse(
                info=file_info(path, 4096, type=fsgate_pb2.FILE_TYPE_DIRECTORY))
        self._not_found(context, path)
        raise AssertionError("unreachable")  # abort_with_status raises

    def calls(self, method: str) -> list[Captured]:
        return [c for c in self.captured if c.method == method]


@contextlib.contextmanager
def serve(servicer: FakeFileSystem, target: str | None = None) -> Iterator[str]:
    """Run ``servicer`` on a unix socket; yields the target ("unix:/tmp/.../fsgate.sock").

    The socket lives in a short /tmp directory (pytest's tmp_path can exceed the 107-byte
    limit of a unix socket path), or at ``target`` when given.
    """
    with tempfile.TemporaryDirectory(prefix="fsgate-test-") as tmp:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(servicer, server)
        target = target or f"unix:{tmp}/fsgate.sock"
        server.add_insecure_port(target)
        server.start()
        try:
            yield target
        finally:
            for gate in (servicer.read_gate, servicer.stat_gate):
                if gate is not None:
                    gate.set()
            server.stop(grace=None).wait()
