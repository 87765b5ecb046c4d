"""One log line and one metrics update per request, and a Failure turned into the call's
status; the request id goes back in the trailing metadata, also on errors."""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import structlog
from fsgate.reasons import Reason

from fsgate_server.errors import Failure, shorten
from fsgate_server.operability.metrics import Metrics
from fsgate_server.transport import request_id
from fsgate_server.transport.status import abort, code_of

__all__ = ["logged"]

log = structlog.get_logger("fsgate.request")


@contextmanager
def logged(method: str, context: grpc.ServicerContext, *, backend: str, metrics: Metrics
           ) -> Iterator[dict[str, Any]]:
    """Serve one call inside the block; what the handler notes in the yielded dict
    (path, helper_pid, bytes) goes into the log line and the metrics."""
    facts: dict[str, Any] = {}
    start = time.monotonic()
    code, reason = "OK", ""
    rid = request_id.from_metadata(context.invocation_metadata())
    trailing = ((request_id.HEADER, rid),)
    context.set_trailing_metadata(trailing)
    try:
        yield facts
    except Failure as exc:
        code, reason = code_of(exc.reason).name, exc.reason.value
        if exc.path and "path" not in facts:  # refused before the handler noted it
            facts["path"] = exc.path
        if not context.is_active() and exc.reason is not Reason.DEADLINE_EXCEEDED:
            # the client went away first; that is the story, not the error it caused
            code, reason = "CANCELLED", ""
        abort(context, exc, trailing)
    except GeneratorExit:
        code = "CANCELLED"
        raise
    except grpc.RpcError:
        # gRPC's own: a request stream that ended because the call was cancelled (by
        # the client, or by shutdown). gRPC knows; re-raised, it logs nothing.
        code = "CANCELLED" if not context.is_active() else "INTERNAL"
        if code == "INTERNAL":
            log.exception("internal_error", method=method, request_id=rid)
        raise
    except Exception as exc:  # a bug of ours: the caller gets INTERNAL, the log the trace
        if not context.is_active():  # nobody is waiting for an answer any more
            code = "CANCELLED"
            abort(context, Failure(Reason.HELPER_FAILED, "the call was cancelled"),
                  trailing)
        code, reason = "INTERNAL", Reason.HELPER_FAILED.value
        log.exception("internal_error", method=method, request_id=rid)
        abort(context, Failure(Reason.HELPER_FAILED, f"internal error: {exc!r}"),
              trailing)
    finally:
        if "path" in facts:
            facts["path"] = shorten(facts["path"])
        seconds = time.monotonic() - start
        log.info("request", request_id=rid, method=method, code=code, reason=reason,
                 duration_ms=round(seconds * 1000, 3),
                 backend=backend, peer=context.peer(), **facts)
        metrics.observe_request(method, code, reason, seconds, facts)
