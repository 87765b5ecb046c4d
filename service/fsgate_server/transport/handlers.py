"""gRPC handlers: validate and normalize, apply the policy, hand the request to a helper
(HelperClient: the typed conversation), convert its answer (convert.py).

Handlers never open a user file: everything that touches one happens in the helper.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import grpc
import structlog
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from fsgate_server import policy
from fsgate_server.backends.channel import Executor, HelperCall
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.config import Config
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import ListArgs, ReadArgs, Request, StatArgs, WriteArgs
from fsgate_server.operability.metrics import Metrics
from fsgate_server.transport import requestlog
from fsgate_server.transport.admission import Admission
from fsgate_server.transport.call_end import end_deadline_exceeded
from fsgate_server.transport.convert import dir_entry, file_info, request_policy
from fsgate_server.transport.deadlines import Deadlines
from fsgate_server.transport.lifecycle import Lifecycle
from fsgate_server.transport.tokens import decode_page_token, encode_page_token

log = structlog.get_logger("fsgate.request")

MIN_CHUNK = 4 << 10
MAX_CHUNK = 4 << 20
DEFAULT_CHUNK = 1 << 20
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


class FileSystemServicer(fsgate_pb2_grpc.FileSystemServiceServicer):
    """The RPCs. What they share comes in: ``lifecycle`` (draining / aborted, driven by
    whoever stops the server), ``admission`` (slots and running helpers), ``deadlines``
    (the one thread that kills a helper whose deadline passed); each defaults to a fresh
    one for a servicer used on its own."""

    def __init__(self, config: Config, executor: Executor, metrics: Metrics | None = None,
                 *, lifecycle: Lifecycle | None = None, admission: Admission | None = None,
                 deadlines: Deadlines | None = None) -> None:
        self.config = config
        self.roots = config.roots
        self.executor = executor
        self.metrics = metrics if metrics is not None else Metrics()
        self.lifecycle = lifecycle if lifecycle is not None else Lifecycle()
        self.admission = admission if admission is not None else Admission(
            config.max_concurrent_helpers, config.queue_timeout)
        self.deadlines = deadlines if deadlines is not None else Deadlines()
        self.metrics.count_helpers_with(self.admission.running)

    # --- plumbing --------------------------------------------------------------------

    def _deadline(self, context: grpc.ServicerContext) -> float:
        limit = self.config.helper_timeout
        remaining = context.time_remaining()
        if remaining is not None:
            limit = min(limit, remaining)
        return time.monotonic() + limit

    @contextmanager
    def _helper(self, context: grpc.ServicerContext, req: Request) -> Iterator[HelperCall]:
        self.lifecycle.refuse_if_draining(req.path)
        deadline = self._deadline(context)
        with self.admission.slot(deadline, req.path):
            started = time.monotonic()
            call = self.executor.start(req, deadline)
            self.metrics.observe_helper_start(time.monotonic() - started)
            # A cancelled or expired RPC kills its helper at once, whatever it is doing.
            context.add_callback(call.helper.kill)
            # The helper deadline holds even while we wait on the client (a stalled upload,
            # an unread download): kill the helper and end the call when it passes.
            watchdog = self.deadlines.call_at(deadline, partial(self._expire, context, call))
            try:
                with self.admission.track(call.helper):
                    yield call
            finally:
                watchdog.cancel()
                call.close()

    def _require_alive(self, context: grpc.ServicerContext, path: str) -> None:
        self.lifecycle.refuse_if_aborted(path)
        if not context.is_active():
            raise Failure(Reason.DEADLINE_EXCEEDED,
                               "the call ended before the stream completed", path)

    @staticmethod
    def _expire(context: grpc.ServicerContext, call: HelperCall) -> None:
        """Runs on the deadline thread: kill the helper, then end the call, which unblocks
        a handler waiting on the client; nothing is committed."""
        log.warning("helper_deadline_exceeded", pid=call.pid, path=call.req.path)
        call.helper.kill()
        end_deadline_exceeded(context, "the helper timed out and was killed")

    def _client(self, context: grpc.ServicerContext, facts: dict[str, Any]) -> HelperClient:
        """A HelperClient whose helpers run under this call (_helper) and are logged."""

        @contextmanager
        def session(req: Request) -> Iterator[HelperCall]:
            with self._helper(context, req) as call:
                facts["helper_pid"] = call.pid
                yield call

        return HelperClient(session)

    def _resolve(self, path: str, msg: Any, *, write: bool) -> tuple[str, policy.EffectivePolicy]:
        try:
            return policy.resolve(path, request_policy(msg), self.roots, write=write,
                                  protected=self.config.protected_paths)
        except Failure as exc:
            exc.path = exc.path or path
            raise

    @contextmanager
    def _rpc(self, method: str, context: grpc.ServicerContext) -> Iterator[dict[str, Any]]:
        """One log line and one metrics update per request (requestlog.logged); a Failure
        becomes the call's status. Refused SHUTTING_DOWN once the server drains."""
        with requestlog.logged(method, context, backend=self.executor.name,
                               metrics=self.metrics) as facts:
            self.lifecycle.refuse_if_draining()
            yield facts

    # --- RPCs ------------------------------------------------------------------------

    def Stat(self, request: pb.StatRequest, context: grpc.ServicerContext) -> pb.StatResponse:
        with self._rpc("Stat", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            info = self._client(context, facts).stat(
                StatArgs(path, eff, follow_symlinks=request.follow_symlinks))
            return pb.StatResponse(info=file_info(info))
        raise AssertionError("unreachable")

    def ListDir(self, request: pb.ListDirRequest, context: grpc.ServicerContext
                ) -> pb.ListDirResponse:
        with self._rpc("ListDir", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            depth = request.depth or 1
            if depth > self.config.max_list_depth:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"depth {depth} exceeds the server's maximum of "
                                   f"{self.config.max_list_depth}", path)
            page_size = min(request.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
            after = decode_page_token(request.page_token, path, depth)
            page = self._client(context, facts).list(ListArgs(
                path, eff, depth=depth, page_size=page_size, after=after,
                max_entries=self.config.max_list_entries))
            last = page.last
            return pb.ListDirResponse(
                entries=[dir_entry(e) for e in page.entries],
                next_page_token=encode_page_token(path, depth, last) if last is not None else "")
        raise AssertionError("unreachable")

    def ReadFile(self, request: pb.ReadFileRequest, context: grpc.ServicerContext
                 ) -> Iterator[pb.ReadFileResponse]:
        with self._rpc("ReadFile", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            chunk = request.chunk_size or DEFAULT_CHUNK
            if not MIN_CHUNK <= chunk <= MAX_CHUNK:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"chunk_size must be between {MIN_CHUNK} and {MAX_CHUNK}", path)
            if request.length > self.config.max_read_bytes:
                raise Failure(Reason.TOO_LARGE,
                                   f"length exceeds the server's maximum of "
                                   f"{self.config.max_read_bytes} bytes", path)
            args = ReadArgs(path, eff, offset=request.offset, length=request.length,
                            chunk_size=chunk, max_bytes=self.config.max_read_bytes)
            sent = 0
            try:
                with self._client(context, facts).read(args) as (info, content):
                    yield pb.ReadFileResponse(info=file_info(info))
                    for data in content:
                        sent += len(data)
                        yield pb.ReadFileResponse(data=data)
            finally:
                facts["bytes"] = sent

    def WriteFile(self, request_iterator: Iterator[pb.WriteFileRequest],
                  context: grpc.ServicerContext) -> pb.WriteFileResponse:
        with self._rpc("WriteFile", context) as facts:
            first = next(request_iterator, None)
            if first is None or not first.HasField("header"):
                raise Failure(Reason.INVALID_REQUEST,
                                   "the first WriteFile message must carry a header")
            h = first.header
            path, eff = self._resolve(h.path, h, write=True)
            facts["path"] = path
            if h.file_mode & ~0o777:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"file_mode {h.file_mode:#o} has bits outside 0o777", path)
            if h.mode not in (pb.WRITE_MODE_UNSPECIFIED, pb.WRITE_MODE_REPLACE,
                              pb.WRITE_MODE_CREATE_NEW):
                raise Failure(Reason.INVALID_REQUEST, f"unknown write mode {h.mode}", path)
            limit = self.config.max_write_bytes
            args = WriteArgs(path, eff, create_new=h.mode == pb.WRITE_MODE_CREATE_NEW,
                             create_parents=h.create_parents, if_version=h.if_version,
                             file_mode=h.file_mode, max_bytes=limit)

            def content() -> Iterator[bytes]:
                total = 0
                for msg in request_iterator:
                    if not msg.HasField("data"):
                        raise Failure(Reason.INVALID_REQUEST,
                                      "only the first WriteFile message may carry a header", path)
                    total += len(msg.data)
                    if total > limit:
                        raise Failure(Reason.TOO_LARGE,
                                      f"content exceeds the server's maximum of {limit} bytes",
                                      path)
                    yield msg.data

            def still_alive() -> bool:
                self._require_alive(context, path)  # raises, saying why not
                return True

            done = self._client(context, facts).write(args, content(), still_alive)
            facts["bytes"] = done.bytes_written
            return pb.WriteFileResponse(info=file_info(done.info),
                                        bytes_written=done.bytes_written)
        raise AssertionError("unreachable")
