"""Prometheus metrics, on a registry of the server's own, served on ``--metrics-listen``.

The servicer reports each finished request here, from the one place that also writes the
request's log line; helper start latency is reported where a helper is started.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import prometheus_client
from fsgate.reasons import Reason
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fsgate_server.config import parse_host_port

__all__ = ["Endpoint", "Metrics"]

# Seconds: a Stat takes a few milliseconds; a multi-GiB transfer can take minutes.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 300.0)
# Seconds: a pooled helper is ready in microseconds, a fresh bwrap one in tens of milliseconds.
HELPER_START_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                        0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """Every fsgate metric, registered on ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter("fsgate_requests", "Finished requests, by RPC, status code and "
                                "fsgate reason (empty when OK).",
                                ("method", "code", "reason"), registry=r)
        self.request_duration = Histogram("fsgate_request_duration_seconds",
                                          "Time from a request's arrival to its status.",
                                          ("method",), buckets=REQUEST_BUCKETS, registry=r)
        self.helper_start = Histogram("fsgate_helper_start_seconds",
                                      "Time to get a confined helper ready for a request.",
                                      buckets=HELPER_START_BUCKETS, registry=r)
        self.helpers_running = Gauge("fsgate_helpers_running",
                                     "Helpers serving a request right now.", registry=r)
        self.bytes_read = Counter("fsgate_bytes_read", "File content bytes sent by ReadFile.",
                                  registry=r)
        self.bytes_written = Counter("fsgate_bytes_written",
                                     "File content bytes committed by WriteFile.", registry=r)
        self.watches = Gauge("fsgate_watches", "WatchDir streams open right now.", registry=r)
        self.watch_events = Counter("fsgate_watch_events_sent",
                                    "WatchDir events sent to clients.", registry=r)
        self.watch_overflows = Counter("fsgate_watch_overflows",
                                       "WatchDir overflow messages sent (events were dropped "
                                       "by the kernel or the server's bounded buffer).",
                                       registry=r)
        self.sandbox_denials = Counter("fsgate_sandbox_denials",
                                       "Operations the kernel sandbox refused (SANDBOX_DENIED).",
                                       registry=r)

    def observe_request(self, method: str, code: str, reason: str, seconds: float,
                        facts: Mapping[str, Any]) -> None:
        self.requests.labels(method, code, reason).inc()
        self.request_duration.labels(method).observe(seconds)
        moved = facts.get("bytes") or 0
        if method == "ReadFile":
            self.bytes_read.inc(moved)
        elif method == "WriteFile" and code == "OK":
            self.bytes_written.inc(moved)
        if reason == Reason.SANDBOX_DENIED.value:
            self.sandbox_denials.inc()

    def observe_helper_start(self, seconds: float) -> None:
        self.helper_start.observe(seconds)

    def count_watches_with(self, watching: Callable[[], int]) -> None:
        """Read the open-watches gauge from ``watching`` at every scrape."""
        self.watches.set_function(lambda: float(watching()))

    def count_helpers_with(self, running: Callable[[], int]) -> None:
        """Read the running-helpers gauge from ``running`` at every scrape."""
        self.helpers_running.set_function(lambda: float(running()))

    def serve(self, listen: str) -> Endpoint:
        """Serve ``/metrics`` over HTTP on ``HOST:PORT`` (port 0 picks a free one)."""
        host, port = parse_host_port(listen)
        httpd, thread = prometheus_client.start_http_server(port, host, registry=self.registry)
        return Endpoint(httpd, thread)


@dataclass
class Endpoint:
    """A running metrics HTTP server."""

    httpd: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.httpd.server_port)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

