"""The fork server: a single-threaded process, exec'd before any gRPC thread exists, that
forks one fresh helper per request and hands the server that helper's channel.

Forking from the gRPC server itself would fork a multi-threaded process (unsafe, and
grpc's own fork handlers get involved); forking from this small process is cheap and
clean. Helpers are forked ahead of demand and wait, unconfined but holding nothing, for
their one request; each confines itself to that request before touching a user path.

Control protocol (server -> fork server): one byte b"F" per helper wanted. Answer: a
4-byte pid with two fds attached (SCM_RIGHTS): the server's end of the helper's
socketpair, and a pidfd for the helper, so the server can kill it without pid reuse races.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import struct
import sys

from .confinement import HelperSettings, confiner
from .helper.main import serve_one
from .sandbox import process

PID = struct.Struct("!I")


def fork_helper(control: socket.socket, settings: HelperSettings) -> None:
    server_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    me = os.getpid()
    pid = os.fork()
    if pid == 0:  # the helper
        status = 1
        try:
            control.close()
            server_end.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            process.set_parent_death_signal(signal.SIGKILL, expected_parent=me)
            os.setsid()  # its own session: no controlling terminal to inject input into
            keep = (0, 1, 2, helper_end.fileno())
            status = serve_one(helper_end, confiner(settings, keep))
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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    settings = HelperSettings.from_json(json.loads(args.settings))
    control = socket.socket(fileno=args.control_fd)
    while True:
        try:
            cmd = control.recv(64)
        except ConnectionResetError:
            return 0
        if not cmd:
            return 0  # the server closed the control channel: stop
        for _ in cmd:
            fork_helper(control, settings)


if __name__ == "__main__":
    sys.exit(main())
