"""``grpc.health.v1`` for fsgate: the server side, and the ``fsgate health`` probe command.

The server reports NOT_SERVING until one real request has gone through a confined helper
(so SERVING means the helper path works, not merely that a port is open) and the helper
pool holds a ready helper again (so the first request after SERVING does not wait for one
to be forked), SERVING from then on, and NOT_SERVING for good once it starts draining.
The port opens at once: only the health status waits.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fsgate_server.transport.lifecycle import Lifecycle

if TYPE_CHECKING:
    from fsgate_server.backends.channel import Executor
    from fsgate_server.policy import Root

__all__ = ["FILE_SYSTEM_SERVICE", "SERVICES", "Health", "add_health_command",
           "check_helper_path", "probe"]

log = structlog.get_logger("fsgate.health")

FILE_SYSTEM_SERVICE = "fsgate.v1.FileSystemService"
SERVICES = ("", FILE_SYSTEM_SERVICE)  # "" is the whole server, as probes ask by default
DEFAULT_TARGET = "127.0.0.1:50051"
READY_CHECK_TIMEOUT = 30.0  # seconds one start-up helper request may take
READY_RETRY = 1.0  # seconds between start-up checks that failed


class _StreamEnd:
    """A Watch stream's send callback that ends the stream once, then drops anything sent
    after (the library sends its own end when the call closes)."""

    def __init__(self, send: Callable[[Any], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._ended = False

    def __call__(self, response: Any) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = response is None
            self._send(response)


class HealthServicer(health.HealthServicer):
    """The library's servicer, plus ending every Watch stream at drain: an open Watch
    would otherwise hold the server's graceful stop for the whole grace period."""

    def __init__(self) -> None:
        super().__init__()  # non-blocking Watch: a watcher holds no server thread
        self._streams_lock = threading.Lock()
        self._streams: set[_StreamEnd] = set()

    def Watch(self, request: Any, context: grpc.ServicerContext,
              send_response_callback: Callable[[Any], None] | None = None) -> Any:
        if send_response_callback is None:  # a server without non-blocking streams
            return super().Watch(request, context)
        stream = _StreamEnd(send_response_callback)
        with self._streams_lock:
            self._streams.add(stream)
        context.add_callback(lambda: self._forget(stream))
        return super().Watch(request, context, stream)

    def _forget(self, stream: _StreamEnd) -> None:
        with self._streams_lock:
            self._streams.discard(stream)

    def end_watches(self) -> None:
        with self._streams_lock:
            streams = list(self._streams)
        for stream in streams:
            stream(None)


class Health:
    """The health service of one server and the start-up readiness check behind it.

    Draining is the server's ``lifecycle`` (shared with the file servicer): once it drains,
    NOT_SERVING for good and the readiness check gives up."""

    def __init__(self, lifecycle: Lifecycle | None = None) -> None:
        self.servicer = HealthServicer()
        self.lifecycle = lifecycle if lifecycle is not None else Lifecycle()
        self._ready = threading.Event()
        for name in SERVICES:  # the library starts "" as SERVING; not until a helper answers
            self.servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def add_to_server(self, server: grpc.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def become_ready(self, check: Callable[[], None]) -> threading.Thread:
        """Run ``check`` in the background until it passes, then report SERVING."""
        thread = threading.Thread(target=self._ready_loop, args=(check,),
                                  name="fsgate-ready", daemon=True)
        thread.start()
        return thread

    def _ready_loop(self, check: Callable[[], None]) -> None:
        started = time.monotonic()
        while not self.lifecycle.is_draining:
            try:
                check()
            except Exception as exc:  # whatever broke, the probe stays NOT_SERVING
                log.warning("not_ready", error=str(exc))
                self.lifecycle.wait_drain(READY_RETRY)
                continue
            self.serving()
            log.info("ready", seconds=round(time.monotonic() - started, 3))
            return

    def serving(self) -> None:
        if self.lifecycle.is_draining:
            return
        for name in SERVICES:
            self.servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._ready.set()

    def drain(self) -> None:
        """NOT_SERVING for every service, for good: later ``set`` calls are ignored. Also
        drains the lifecycle (new file calls are refused SHUTTING_DOWN from now on)."""
        self.lifecycle.begin_drain()
        self.servicer.enter_graceful_shutdown()  # watchers are told NOT_SERVING...
        self.servicer.end_watches()  # ...and their streams end, so they hold up nothing


def check_helper_path(executor: Executor, roots: Sequence[Root],
                      timeout: float = READY_CHECK_TIMEOUT) -> None:
    """Stat the first root through a confined helper, then wait until the helper pool
    holds a ready one again; raise if no helper could answer or none became ready.

    An answer such as NOT_FOUND or SANDBOX_DENIED still came from a working helper. The
    wait is for the helper the stat used up: its replacement may still be forked (behind
    the fork server's warm-up), and SERVING means the next request need not wait for it.
    """
    from fsgate.reasons import Reason

    from fsgate_server.backends.channel import Pooled
    from fsgate_server.backends.helper_client import HelperClient
    from fsgate_server.errors import Failure
    from fsgate_server.helper.messages import StatArgs
    from fsgate_server.policy import effective_policy

    root = roots[0].path
    deadline = time.monotonic() + timeout
    client = HelperClient.over(executor, deadline)
    try:
        client.stat(StatArgs(root, effective_policy(roots, None)))
    except Failure as exc:  # what starting a helper can fail with, or its failure
        if exc.reason in (Reason.HELPER_FAILED, Reason.SANDBOX_UNAVAILABLE, Reason.BUSY,
                          Reason.DEADLINE_EXCEEDED, Reason.SHUTTING_DOWN):
            raise
    if isinstance(executor, Pooled) and not executor.wait_helper_ready(deadline):
        raise RuntimeError("no helper became ready in the pool")


# --- the probe command ---------------------------------------------------------------


def probe(target: str, service: str = "", timeout: float = 5.0) -> tuple[bool, str]:
    """(True, "SERVING") when ``target`` reports ``service`` SERVING; else (False, why)."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, status


def _run_probe(args: argparse.Namespace) -> int:
    target = args.target or os.environ.get("FSGATE_TARGET") or DEFAULT_TARGET
    ok, status = probe(target, args.service, args.timeout)
    if ok:
        print(status)
        return 0
    name = f" service {args.service!r}" if args.service else ""
    print(f"fsgate health: {target}{name}: {status}", file=sys.stderr)
    return 1


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def add_health_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
                       ) -> None:
    """Register ``fsgate health``: exit 0 when SERVING, 1 otherwise (why on stderr)."""
    p = subparsers.add_parser(
        "health", help="probe a server's grpc.health.v1 status (exit 0 when SERVING)",
        description="Ask a server's standard gRPC health service; exit 0 when it reports "
                    "SERVING, 1 otherwise with the reason on stderr. For container probes.")
    p.add_argument("--target", metavar="ADDR",
                   help=f"HOST:PORT or unix:PATH (default: $FSGATE_TARGET or {DEFAULT_TARGET})")
    p.add_argument("--service", default="", metavar="NAME",
                   help=f"service to ask about: '' (the server, default) or "
                        f"{FILE_SYSTEM_SERVICE}")
    p.add_argument("--timeout", type=_positive_seconds, default=5.0, metavar="SECONDS",
                   help="deadline for the check (default 5)")
    p.set_defaults(func=_run_probe)
