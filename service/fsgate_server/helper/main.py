"""Entry point of one helper: receive one request, confine, carry it out, exit.

A helper is either a child forked by the fork server (``serve_one`` is called in the
child) or a process exec'd under bubblewrap (``python -m fsgate_server.helper.main``).
Either way it serves exactly one request and its process ends with it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import traceback
from collections.abc import Callable

from fsgate._reasons import Reason

from . import ops, protocol
from .protocol import Kind

Confine = Callable[[ops.Request], None]


def serve_one(sock: socket.socket, confine: Confine) -> int:
    """Serve one request on sock. Returns the process exit status to use."""
    try:
        kind, payload = protocol.recv(sock)
        if kind is not Kind.REQUEST:
            raise protocol.ProtocolError(f"expected REQUEST, got {kind.name}")
        req = ops.Request.from_json(protocol.decode_json(payload))
    except protocol.PeerClosed:
        return 0  # the server shut down before this helper was needed
    except (protocol.ProtocolError, OSError) as exc:
        _report(sock, Reason.HELPER_FAILED, f"helper protocol error: {exc}")
        return 1
    try:
        confine(req)
    except Exception as exc:  # never run a request half-confined
        _report(sock, Reason.SANDBOX_UNAVAILABLE, f"helper could not confine itself: {exc!r}",
                traceback.format_exc())
        return 1
    try:
        ops.run(sock, req)
    except Exception as exc:
        _report(sock, Reason.HELPER_FAILED, f"helper failed: {exc!r}", traceback.format_exc())
        return 1
    return 0


def _report(sock: socket.socket, reason: Reason, message: str, detail: str = "") -> None:
    with contextlib.suppress(OSError):  # the server may already have hung up
        protocol.send_json(sock, Kind.ERROR, {"reason": reason.value, "message": message,
                                              "detail": detail})


def main(argv: list[str] | None = None) -> int:
    """Exec'd form: the channel is an inherited fd, confinement settings come as JSON."""
    from ..confinement import confiner_from_json

    parser = argparse.ArgumentParser(prog="fsgate-helper")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--confinement", required=True, help="JSON confinement settings")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    return serve_one(sock, confiner_from_json(json.loads(args.confinement), (0, 1, 2, args.fd)))


if __name__ == "__main__":
    sys.exit(main())
