"""The fork server: a single-threaded process, exec'd before any gRPC thread exists, that
forks one fresh helper per request and hands the server that helper's channel.

Forking from the gRPC server itself would fork a multi-threaded process (unsafe, and
grpc's own fork handlers get involved); forking from this small process is cheap and
clean. The fork server itself runs under no_new_privs and seccomp's shared denylist, which
its helpers inherit. Helpers are forked ahead of demand and, holding nothing, apply every
confinement step that does not depend on the request (confine.BEFORE_REQUEST, and a
Landlock ruleset with the runtime roots); then they wait for their one request, and
confine themselves to it (its paths added to the ruleset) before touching a user path.

Control protocol (server -> fork server): one byte b"F" per helper wanted. Answer: a
4-byte pid with two fds attached (SCM_RIGHTS): the server's end of the helper's
socketpair, and a pidfd for the helper, so the server can kill it without pid reuse races.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable

from fsgate_server.helper import codec, ops, protocol
from fsgate_server.helper.main import serve_one
from fsgate_server.helper.messages import ListArgs, ReadArgs, Request, StatArgs
from fsgate_server.helper.ops import fd_path, info_of
from fsgate_server.helper.protocol import Kind
from fsgate_server.helper.settings import HelperSettings, confinement_for
from fsgate_server.policy import EffectivePolicy
from fsgate_server.sandbox import confine, landlock, process

PID = struct.Struct("!I")

# A request like the real ones, decoded (never carried out) while the helper waits, so
# most pages that the decoder and the confinement code write are copied before it arrives.
_WARM_UP = codec.encode(ReadArgs(
    "/nonexistent/warm-up", EffectivePolicy(readable=("/nonexistent",), writable=(), denied=()),
    chunk_size=1 << 20, max_bytes=1))
# Busy helpers go by this name (ps, /proc/PID/comm), idle ones by the fork server's.
BUSY_NAME = b"fsgate-request"
_mark_busy = process.namer(BUSY_NAME)


def _prepare(settings: HelperSettings, sock: socket.socket, keep: tuple[int, ...]
             ) -> landlock.Ruleset | None:
    """What a helper does before its request: every confinement step that does not depend
    on the request (confine.BEFORE_REQUEST, on top of what the fork server applied to
    itself), the Landlock ruleset with the runtime roots, and a warm-up touching no path.
    The request then pays only for adding its own paths and restrict_self."""
    idle = codec.decode_request(_WARM_UP)
    c = confinement_for(idle, settings, keep)
    for step in confine.BEFORE_REQUEST:
        step(c)
    ruleset = confine.prepare_paths(c)  # after close_fds, which would close its fd
    # The channel itself stands in for a file: its stat, its /proc/self/fd link; a frame
    # goes out on a throwaway socketpair, and the policy judges a path it never opens.
    fd_path(sock.fileno())
    info = info_of(idle.path, os.fstat(sock.fileno()))
    idle.policy.can_read(idle.path)
    idle.policy.can_write(idle.path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        codec.send(ours, Kind.RESULT, info)
        protocol.recv(theirs)
    return ruleset


def _confiner(settings: HelperSettings, sock: socket.socket, keep: tuple[int, ...]
              ) -> Callable[[Request], None]:
    """Prepare now; the returned function finishes confining for the request. A failure to
    prepare is raised there, so it is reported like any confinement failure."""
    try:
        ruleset = _prepare(settings, sock, keep)
    except Exception as exc:
        failed = exc

        def refuse(_req: Request) -> None:
            raise failed

        return refuse

    def confine_request(req: Request) -> None:
        _mark_busy()
        confine.restrict_prepared(ruleset, confinement_for(req, settings, keep))

    return confine_request


WARM_ROUNDS = 40  # 3.11's adaptive interpreter has specialized the hot path well before


def warm_up(rounds: int = WARM_ROUNDS) -> None:
    """Serve a few requests here, in the fork server, before any helper is forked.

    CPython 3.11 rewrites a function's bytecode as it warms up (quickening, then
    specialization): done in a helper, every page it rewrites is a copy-on-write fault, in
    every helper. Done once here, helpers inherit code that is already specialized. The
    requests name the fork server's own package directory (runtime code every helper may
    read), never a user path."""
    here = os.path.dirname(os.path.abspath(__file__))
    policy = EffectivePolicy(readable=(here,), writable=(), denied=())
    requests: list[Request] = [
        ReadArgs(os.path.join(here, "__init__.py"), policy, chunk_size=1 << 20,
                 max_bytes=1 << 20),
        StatArgs(os.path.join(here, "__init__.py"), policy),
        ListArgs(here, policy, depth=1, page_size=1000, max_entries=10_000)]
    for _ in range(rounds):
        for req in requests:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            with ours, theirs:
                protocol.send(ours, Kind.REQUEST, codec.encode(req))
                _kind, payload = protocol.recv(theirs)
                ops.run(theirs, codec.decode_request(payload))
                theirs.shutdown(socket.SHUT_WR)
                while True:
                    try:
                        protocol.recv(ours)
                    except protocol.PeerClosed:
                        break


# Bytes either end may have in flight: a 1 MiB DATA frame fits whole, so a big transfer
# does not ping-pong between the two processes every 200 KiB (the default). The kernel caps
# it at net.core.wmem_max.
CHANNEL_BUFFER = 4 << 20


def fork_helper(control: socket.socket, settings: HelperSettings) -> None:
    server_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    helper_end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)
    me = os.getpid()
    pid = os.fork()
    if pid == 0:  # the helper
        status = 1
        try:
            control.close()
            server_end.close()
            # SIGCHLD stays ignored: a helper has no children to wait for.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            process.set_parent_death_signal(signal.SIGKILL, expected_parent=me)
            os.setsid()  # its own session: no controlling terminal to inject input into
            gc.disable()  # one short request: no cycles worth the pages a collection writes
            keep = (0, 1, 2, helper_end.fileno())
            status = serve_one(helper_end, _confiner(settings, helper_end, keep))
        finally:
            os._exit(status)
    helper_end.close()
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(control, [PID.pack(pid)], [server_end.fileno(), pidfd])
    finally:
        server_end.close()
        os.close(pidfd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fsgate-forkserver")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--settings", required=True, help="HelperSettings as JSON")
    args = parser.parse_args(argv)
    process.set_parent_death_signal(signal.SIGKILL, expected_parent=args.parent_pid)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps helpers
    # The server decides when we stop (EOF on the control channel), not a signal to its
    # process group: Ctrl-C, or the SIGTERM that starts its graceful shutdown, during which
    # the helpers of requests in flight (which die with us) must go on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    settings = HelperSettings.from_json(json.loads(args.settings))
    control = socket.socket(fileno=args.control_fd)
    # Once for all helpers, which inherit it at fork (confine.py: the three stages).
    confine.inherit_to_helpers()
    try:
        # The first pool is asked for at once: fork it before warming up, so that a
        # request right after start-up does not wait for the warm-up (and time out BUSY).
        with contextlib.suppress(BlockingIOError):
            if not _fork_asked(control, settings, socket.MSG_DONTWAIT):
                return 0
        warm_up()
        gc.freeze()  # helpers never collect what was here before the fork: fewer copies
        while _fork_asked(control, settings):
            pass
        return 0  # the server closed the control channel: stop
    except (BrokenPipeError, ConnectionResetError):
        # The server closed the channel while we answered (it is stopping): stop quietly.
        return 0


def _fork_asked(control: socket.socket, settings: HelperSettings, flags: int = 0) -> bool:
    """Fork one helper per byte received; False once the server has closed the channel."""
    cmd = control.recv(64, flags)
    for _ in cmd:
        fork_helper(control, settings)
    return bool(cmd)


if __name__ == "__main__":
    sys.exit(main())
