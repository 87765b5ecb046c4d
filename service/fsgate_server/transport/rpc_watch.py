"""WatchDir: one confined helper per watch, for the whole stream (helper/watching.py), its
events relayed through a bounded buffer (watch_stream.py).

The helper may read only the watched tree: the request's effective policy narrowed to
``path`` is what Landlock and its own checks allow (so a path that reaches the tree
through a symlink from elsewhere is SANDBOX_DENIED: watch the directory by its own path).
It gets no write rights. Under bwrap its mount namespace is the one the request's other
reads get (WatchArgs.namespace).

Its life and the stream's are one:

- admission: a watch slot (--max-watches, BUSY at once past it) for the stream's life, and
  a regular helper slot only while the helper sets the watch up (bounded by the helper
  timeout); then that slot is free for other requests (admission.py says why);
- it ends when the client cancels (the helper is killed), at the client's deadline or the
  server's --max-watch-seconds, whichever is first (DEADLINE_EXCEEDED; the helper is
  killed), when the server drains (UNAVAILABLE/SHUTTING_DOWN, at once, for every watch),
  or when the helper ends it (NOT_FOUND: the watched directory went away; TOO_LARGE: more
  directories than --max-watched-dirs; HELPER_FAILED);
- a keepalive goes out after KEEPALIVE_SECONDS without any other message.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server import policy
from fsgate_server.backends.channel import HelperCall
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import Request, WatchArgs
from fsgate_server.helper.watch_filter import compile_globs
from fsgate_server.transport.call_end import end_deadline_exceeded
from fsgate_server.transport.convert import file_event
from fsgate_server.transport.deadlines import Handle
from fsgate_server.transport.rpc_base import RpcBase
from fsgate_server.transport.watch_stream import Overflow, WatchStream

__all__ = ["KEEPALIVE_ENV", "KEEPALIVE_SECONDS", "WatchRpcs", "keepalive_seconds"]

KEEPALIVE_SECONDS = 30.0
# Internal, for tests only (undocumented as an option): a shorter keepalive interval.
KEEPALIVE_ENV = "FSGATE_WATCH_KEEPALIVE_SECONDS"
# A handler that does not end within this after its watch was stopped is blocked on a
# client that reads nothing: the call is then ended from outside.
STOP_GRACE = 1.0


def keepalive_seconds() -> float:
    try:
        value = float(os.environ.get(KEEPALIVE_ENV, KEEPALIVE_SECONDS))
    except ValueError:
        return KEEPALIVE_SECONDS
    return value if value > 0 else KEEPALIVE_SECONDS


class WatchRpcs(RpcBase):
    """WatchDir."""

    def WatchDir(self, request: pb.WatchDirRequest, context: grpc.ServicerContext
                 ) -> Iterator[pb.WatchDirResponse]:
        with self._rpc("WatchDir", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            include, exclude = tuple(request.include_globs), tuple(request.exclude_globs)
            compile_globs(include, "include_globs")  # INVALID_PATTERN before any helper
            compile_globs(exclude, "exclude_globs")
            args = WatchArgs(path, self._watched_tree(path, eff), namespace=eff,
                             max_dirs=self.config.max_watched_dirs,
                             recursive=request.recursive, include_globs=include,
                             exclude_globs=exclude)
            sent = 0
            try:
                with self._watch(context, facts, args) as stream:
                    yield pb.WatchDirResponse(started=pb.WatchStarted(
                        watched_directories=stream.started.watched_dirs))
                    interval = keepalive_seconds()
                    while True:
                        item = stream.next(interval)
                        if item is None:
                            yield pb.WatchDirResponse(keepalive=pb.WatchKeepalive())
                        elif isinstance(item, Overflow):
                            self.metrics.watch_overflows.inc()
                            yield pb.WatchDirResponse(overflow=pb.WatchOverflow(
                                dropped=item.dropped))
                        else:
                            sent += 1
                            self.metrics.watch_events.inc()
                            yield pb.WatchDirResponse(event=file_event(item))
            finally:
                facts["events"] = sent

    def _watched_tree(self, path: str, eff: policy.EffectivePolicy) -> policy.EffectivePolicy:
        """The effective policy narrowed to the watched tree (under each name of its root),
        its denied paths kept, nothing writable."""
        narrowed = policy.effective_policy(
            self.roots, policy.RequestPolicy(readable_roots=(path,), denied_paths=eff.denied))
        return dataclasses.replace(narrowed, protected=eff.protected,
                                   protection_roots=eff.protection_roots)

    @contextmanager
    def _watch(self, context: grpc.ServicerContext, facts: dict[str, Any], args: WatchArgs
               ) -> Iterator[WatchStream]:
        path = args.path
        self.lifecycle.refuse_if_draining(path)
        with self.admission.watch(path):
            now = time.monotonic()
            remaining = context.time_remaining()
            by_client = remaining is not None and remaining < self.config.max_watch_seconds
            deadline = now + (remaining if by_client and remaining is not None
                              else self.config.max_watch_seconds)
            setup_deadline = min(deadline, now + self.config.helper_timeout)
            expired = ("deadline exceeded; the watch was ended" if by_client else
                       f"the watch reached the server's limit of "
                       f"{self.config.max_watch_seconds:g} s (--max-watch-seconds)")
            ending = _Ending()

            @contextmanager
            def session(req: Request) -> Iterator[HelperCall]:
                started = time.monotonic()
                # The watchdog below ends the watch at its deadline, with the reason; the
                # channel's own timeout is only a backstop behind it.
                call = self.executor.start(req, deadline + 2 * STOP_GRACE)
                self.metrics.observe_helper_start(time.monotonic() - started)
                facts["helper_pid"] = call.pid
                ending.call = call
                # Whatever ends the RPC (a cancel, the client's deadline) ends the watch.
                context.add_callback(partial(self._ended, context, ending, path))
                ending.timers.append(self.deadlines.call_at(
                    deadline, partial(self._expired, context, ending, expired, path)))
                try:
                    with self.admission.track(call.helper):
                        yield call
                finally:
                    for timer in ending.timers:
                        timer.cancel()
                    call.close()

            with ExitStack() as setup:
                setup.enter_context(self.admission.slot(setup_deadline, path))
                with HelperClient(session).watch(args, setup_deadline=setup_deadline) as (
                        started, batches):
                    setup.close()  # the watch is in place: the helper slot is free again
                    assert ending.call is not None  # the session above has run
                    stream = WatchStream(started, batches, ending.call)
                    ending.stream = stream
                    stop = partial(stream.stop, Failure(Reason.SHUTTING_DOWN,
                                                        "the server is shutting down", path))
                    unsubscribe = self.lifecycle.on_drain(stop)
                    stream.start()
                    try:
                        yield stream
                    finally:
                        unsubscribe()
                        stream.close()

    def _ended(self, context: grpc.ServicerContext, ending: _Ending, path: str) -> None:
        """The RPC terminated (cancelled, deadline, or done): the helper must go."""
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            why = Failure(Reason.DEADLINE_EXCEEDED, "deadline exceeded", path)
        else:
            why = Failure(Reason.HELPER_FAILED, "the call was cancelled", path)
        ending.stop(why)

    def _expired(self, context: grpc.ServicerContext, ending: _Ending, message: str,
                 path: str) -> None:
        """On the deadline thread: end the watch; the handler ends the call with the reason,
        or, blocked on a client that reads nothing, the call is ended shortly after."""
        ending.stop(Failure(Reason.DEADLINE_EXCEEDED, message, path))
        ending.timers.append(self.deadlines.call_at(
            time.monotonic() + STOP_GRACE, partial(end_deadline_exceeded, context, message)))


@dataclass
class _Ending:
    """What ends one watch reaches: its helper's call, its stream once started, the timers
    to cancel when it is over (appended to by the deadline thread too)."""

    call: HelperCall | None = None
    stream: WatchStream | None = None
    timers: list[Handle] = field(default_factory=list)

    def stop(self, why: Failure) -> None:
        if self.stream is not None:
            self.stream.stop(why)
        elif self.call is not None:
            self.call.end()  # still setting up: the setup fails, quietly
