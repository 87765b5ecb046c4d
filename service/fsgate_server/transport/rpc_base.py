"""What every RPC handler shares: the servicer's state, the policy step (``_resolve``),
one log line and metrics update per request (``_rpc``), and a helper per request under the
call's slot, deadline and cancellation (``_helper``, ``_client``).

The RPCs themselves are mixins of :class:`RpcBase`, one module per family: handlers.py (the
v1 file RPCs, and the composed :class:`FileSystemServicer`), rpc_*.py for the others.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import grpc
import structlog
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2_grpc

from fsgate_server import policy
from fsgate_server.backends.channel import Executor, HelperCall
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.config import Config
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import Request
from fsgate_server.operability.metrics import Metrics
from fsgate_server.transport import requestlog
from fsgate_server.transport.admission import Admission
from fsgate_server.transport.call_end import end_deadline_exceeded
from fsgate_server.transport.convert import request_policy
from fsgate_server.transport.deadlines import Deadlines
from fsgate_server.transport.lifecycle import Lifecycle

log = structlog.get_logger("fsgate.request")

MAX_PAGE_SIZE = 1000  # the largest ListDir page (GetServerInfo reports it)

class RpcBase(fsgate_pb2_grpc.FileSystemServiceServicer):
    """The state and plumbing every RPC shares. Given: ``lifecycle`` (draining / aborted,
    driven by whoever stops the server), ``admission`` (slots and running helpers), ``deadlines``
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
            config.max_concurrent_helpers, config.queue_timeout, config.max_watches)
        self.deadlines = deadlines if deadlines is not None else Deadlines()
        self.metrics.count_helpers_with(self.admission.running)
        self.metrics.count_watches_with(self.admission.watching)

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
