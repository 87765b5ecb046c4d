"""Assemble and run the gRPC server: backend first (before any gRPC thread), then gRPC."""
from __future__ import annotations

import errno
import ipaddress
import os
import signal
import socket
import threading
from concurrent import futures
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
import structlog
from fsgate.v1 import fsgate_pb2_grpc

from fsgate_server.backends import selection as backends
from fsgate_server.backends.channel import Executor
from fsgate_server.backends.sweep import start_background_sweep
from fsgate_server.config import Config, ConfigError, check_roots, parse_host_port
from fsgate_server.helper.settings import HelperSettings
from fsgate_server.operability.metrics import Endpoint, Metrics
from fsgate_server.policy import Root, is_within
from fsgate_server.runtime_roots import runtime_roots
from fsgate_server.sandbox.rlimits import Limits, open_files_for
from fsgate_server.transport import auth, health, reflection
from fsgate_server.transport.admission import Admission
from fsgate_server.transport.deadlines import Deadlines
from fsgate_server.transport.handlers import FileSystemServicer
from fsgate_server.transport.lifecycle import Lifecycle

log = structlog.get_logger("fsgate.server")

MAX_MESSAGE_BYTES = 8 << 20  # a 4 MiB chunk plus framing, with room to spare
# Helpers are forked from a process with grpc and protobuf mapped; 4 GiB of address space
# leaves room for that plus 4 MiB chunks, and still stops a runaway allocation.
HELPER_ADDRESS_SPACE = 4 << 30


def is_local_address(addr: str) -> bool:
    if addr.startswith("unix:") or addr.startswith("unix-abstract:"):
        return True
    host = addr.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(config: Config) -> None:
    if config.auth_token_file or config.tls_cert:
        return
    for addr in config.listen:
        if not is_local_address(addr):
            raise ConfigError(f"--listen {addr}: refusing a non-loopback TCP address without "
                              "authentication or TLS (use --auth-token-file and/or --tls-cert/"
                              "--tls-key, or listen on 127.0.0.1 or unix:PATH)")


def security(config: Config) -> tuple[list[Any], grpc.ServerCredentials | None,
                                      auth.TokenStore | None]:
    """Interceptors, credentials and token store for the configured auth and TLS."""
    store = auth.TokenStore(Path(config.auth_token_file)) if config.auth_token_file else None
    interceptors = [auth.TokenAuthInterceptor(store)] if store else []
    creds = None
    if config.tls_cert:
        creds = auth.server_credentials(Path(config.tls_cert), Path(config.tls_key),
                                        Path(config.tls_client_ca) if config.tls_client_ca
                                        else None)
    return interceptors, creds, store


def helper_settings(config: Config, *, landlock: bool = True) -> HelperSettings:
    # A watch helper lives up to --max-watch-seconds; any other is killed at the helper
    # timeout (wall clock, so its CPU time stays below that whatever this says).
    lifetime = max(config.helper_timeout, config.max_watch_seconds)
    limits = Limits(cpu_seconds=max(int(lifetime) + 5, 10),
                    address_space_bytes=HELPER_ADDRESS_SPACE,
                    file_size_bytes=config.max_write_bytes,
                    open_files=open_files_for(config.max_list_depth))
    return HelperSettings(runtime_roots=runtime_roots(), limits=limits, landlock=landlock)


@dataclass
class Running:
    server: grpc.Server
    executor: Executor
    servicer: FileSystemServicer
    ports: list[int]
    # shared with the servicer, which reads them; stop() drives them
    lifecycle: Lifecycle
    admission: Admission
    deadlines: Deadlines
    tokens: auth.TokenStore | None = None
    health: health.Health | None = None
    metrics: Endpoint | None = None

    def _abort_inflight(self) -> int:
        self.lifecycle.abort()
        return self.admission.kill_all()

    def stop(self, grace: float | None = 5.0) -> None:
        """Drain: NOT_SERVING, refuse new calls, let in-flight ones run up to ``grace``
        seconds, cancel the rest (an unfinished write changes nothing), kill every helper."""
        if self.health is not None:
            self.health.drain()
        self.lifecycle.begin_drain()
        killed = 0
        if grace is None or grace <= 0:
            killed = self._abort_inflight()
        done = self.server.stop(grace)
        # gRPC cancels what is left when the grace ends, and a cancelled upload can look
        # like a finished one to its handler. So, just before that, kill every helper still
        # running and refuse every commit: nothing unfinished can be written after this.
        if grace and not done.wait(max(grace - 0.05, 0)):
            killed = self._abort_inflight()
        done.wait()
        killed += self.admission.kill_all()  # handlers still unwinding
        self.deadlines.stop()  # every call has ended: no deadline is left to watch
        self.executor.stop()
        if self.metrics is not None:
            self.metrics.close()
        log.info("drained", helpers_killed=killed)


def with_real_paths(roots: tuple[Root, ...]) -> tuple[Root, ...]:
    """A root reached through a symlink (``/srv/ws -> /data/ws``) is served under both
    names: callers use the name they were given, while the helper judges the real location
    its descriptors report, which must then be inside the policy too."""
    out = list(roots)
    for root in roots:
        real = os.path.realpath(root.path)
        if real != root.path and all(r.path != real for r in out):
            out.append(Root(real, root.writable, alias_of=root.path))
    return tuple(out)


def overlaps(roots: tuple[Root, ...], runtime: tuple[str, ...]
             ) -> list[tuple[Root, list[str]]]:
    """Each served root with the runtime roots it contains or lies inside."""
    out = []
    for root in roots:
        hit = [rt for rt in runtime if is_within(rt, root.path) or is_within(root.path, rt)]
        if hit:
            out.append((root, hit))
    return out


def refuse_writable_overlaps(roots: tuple[Root, ...], runtime: tuple[str, ...]) -> None:
    """A writable root holding (or inside) a runtime root would let a client rewrite the
    code every helper runs: Landlock cannot carve a read-only hole in a writable grant, so
    the server refuses to start instead of warning."""
    for root, hit in overlaps(roots, runtime):
        if root.writable:
            raise ConfigError(
                f"--root {root.path}: this read-write root overlaps the server's own runtime "
                f"({', '.join(hit)}: its interpreter, standard library or packages); a client "
                f"could rewrite the code every helper runs. Serve it read-only "
                f"(--root {root.path}:ro), or install fsgate outside the served tree "
                "(e.g. a venv elsewhere)")


def warn_overlaps(roots: tuple[Root, ...], runtime: tuple[str, ...]) -> None:
    """Every helper may read the runtime roots, whatever a request's policy says: a served
    root that holds one cannot deny it to callers (security model in the README)."""
    for root, hit in overlaps(roots, runtime):
        log.warning("served_root_contains_runtime_roots", root=root.path,
                    runtime_roots=hit,
                    consequence="denied_paths cannot hide these from helpers")


def check_ports_free(config: Config) -> None:
    """Fail on a TCP address already in use before any backend or fork server starts, so
    "cannot listen" is the first (and only) thing a person sees; gRPC binds for real later."""
    for addr in config.listen:
        if addr.startswith("unix"):
            continue
        try:
            host, port = parse_host_port(addr)
        except ValueError as exc:
            raise ConfigError(f"--listen {addr}: {exc}") from exc
        if port == 0:
            continue
        try:
            infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except socket.gaierror as exc:
            raise ConfigError(f"--listen {addr}: cannot listen: {exc.strerror}") from exc
        for family, kind, proto, _name, sockaddr in infos:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
                try:
                    probe.bind(sockaddr)
                except OSError as exc:
                    if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                        raise ConfigError(f"--listen {addr}: cannot listen: "
                                          f"{exc.strerror}") from exc
                    # anything else (e.g. no IPv6 here) is gRPC's to judge


def addresses(listen: tuple[str, ...], ports: list[int]) -> list[str]:
    """What the server listens on, for people: a Unix socket by its path, a TCP address
    with the port it really bound (``:0`` picks one)."""
    out = []
    for addr, port in zip(listen, ports, strict=True):
        if addr.startswith("unix"):
            out.append(addr)
        else:
            out.append(f"{addr.rsplit(':', 1)[0]}:{port}")
    return out


def start(config: Config, executor: Executor | None = None) -> Running:
    """Start serving. ``executor`` is a seam for the benchmark's unsandboxed baseline
    (bench/inprocess.py); the product always chooses a sandbox backend here."""
    check_listen(config)
    check_roots(config.roots)
    config = replace(config, roots=with_real_paths(config.roots))
    try:
        interceptors, creds, store = security(config)
    except auth.TokenFileError as exc:
        raise ConfigError(str(exc)) from exc
    settings = helper_settings(config)
    refuse_writable_overlaps(config.roots, executor_roots(executor) if executor is not None
                             else settings.runtime_roots)
    check_ports_free(config)
    if executor is None:
        backend = backends.choose(config.sandbox)
        # The fork server must be exec'd before grpc.server() starts any thread.
        executor = backends.start(backend, settings,
                                  pool_size=min(config.helper_pool_size,
                                                config.max_concurrent_helpers),
                                  acquire_timeout=config.queue_timeout, roots=config.roots)
    else:
        backend = executor.name
    try:
        metrics = Metrics()
        lifecycle = Lifecycle()
        admission = Admission(config.max_concurrent_helpers, config.queue_timeout,
                              config.max_watches)
        deadlines = Deadlines()
        servicer = FileSystemServicer(config, executor, metrics, lifecycle=lifecycle,
                                      admission=admission, deadlines=deadlines)
        server = grpc.server(
            # every open watch holds a worker thread for its whole stream
            futures.ThreadPoolExecutor(max_workers=config.max_concurrent_helpers
                                       + config.max_watches + 8,
                                       thread_name_prefix="fsgate-rpc"),
            interceptors=interceptors,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                     ("grpc.so_reuseport", 0)])
        fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(
            servicer, server)
        status = health.Health(lifecycle)
        status.add_to_server(server)
        reflection.enable(server)
        endpoint = serve_metrics(metrics, config)  # before gRPC: a bad address fails start-up
        ports = []
        old_umask = os.umask(0o117)  # Unix sockets are created 0660, never world-writable
        try:
            for addr in config.listen:
                try:
                    port = (server.add_secure_port(addr, creds) if creds
                            else server.add_insecure_port(addr))
                except RuntimeError as exc:
                    raise ConfigError(f"--listen {addr}: cannot listen: {exc}") from exc
                if port == 0 and not addr.startswith("unix"):
                    raise ConfigError(f"--listen {addr}: cannot listen there")
                ports.append(port)
            server.start()
        finally:
            os.umask(old_umask)
    except BaseException:
        executor.stop()
        raise
    status.become_ready(lambda: health.check_helper_path(executor, config.roots))
    log.info("serving", listen=addresses(config.listen, ports), backend=backend,
             config=config.describe(), runtime_roots=list(executor_roots(executor)),
             metrics_port=endpoint.port if endpoint else None)
    warn_overlaps(config.roots, executor_roots(executor))
    start_background_sweep(executor, config)
    return Running(server, executor, servicer, ports, lifecycle, admission, deadlines,
                   store, status, endpoint)


def serve_metrics(metrics: Metrics, config: Config) -> Endpoint | None:
    if not config.metrics_listen:
        return None
    try:
        return metrics.serve(config.metrics_listen)
    except OSError as exc:
        raise ConfigError(f"--metrics-listen {config.metrics_listen}: cannot listen: "
                          f"{exc.strerror or exc}") from exc


def executor_roots(executor: Executor) -> tuple[str, ...]:
    settings = getattr(executor, "settings", None)
    return tuple(settings.runtime_roots) if settings is not None else ()


def serve_forever(running: Running, grace: float = 5.0) -> None:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():  # a second signal (a group kill, a supervisor) changes nothing
            log.debug("signal_during_shutdown", signal=signal.Signals(signum).name)
            return
        # Set before logging: a second signal can run this handler again in the middle of
        # the log call (Python handlers run between bytecodes), and must find it set.
        stop.set()
        log.info("shutting_down", signal=signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if running.tokens is not None:
        tokens = running.tokens
        signal.signal(signal.SIGHUP, lambda _s, _f: tokens.reload())
    # The kernel may hand a process signal to any of gRPC's threads; the Python handler then
    # waits for the main thread, which a blocked Event.wait() never gives it. The C handler
    # writes every signal to the wakeup fd, and a read of it always wakes the main thread.
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    old_wakeup = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    try:
        while not stop.is_set():  # the handlers run before is_set() does
            wake_r.recv(64)
    finally:
        signal.set_wakeup_fd(old_wakeup)
        wake_r.close()
        wake_w.close()
    running.stop(grace)
    log.info("stopped")
