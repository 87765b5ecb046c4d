"""Entry point of one helper: receive one request, confine, carry it out, exit.

A helper is either a child forked by the fork server (``serve_one`` is called in the
child) or a process exec'd under bubblewrap (``python -m fsgate_server.helper.main``).
Either way it serves exactly one request and its process ends with it.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Callable

from fsgate.reasons import Reason

from fsgate_server.helper import codec, ops, protocol
from fsgate_server.helper.messages import ErrorReport, Request
from fsgate_server.helper.protocol import Kind

Confine = Callable[[Request], None]


def serve_one(sock: socket.socket, confine: Confine) -> int:
    """Serve one request on sock. Returns the process exit status to use."""
    try:
        kind, payload = protocol.recv(sock)
        if kind is not Kind.REQUEST:
            raise protocol.ProtocolError(f"expected REQUEST, got {kind.name}")
        req = codec.decode_request(payload)
    except protocol.PeerClosed:
        return 0  # the server shut down before this helper was needed
    except (protocol.ProtocolError, OSError) as exc:
        _report(sock, Reason.HELPER_FAILED, f"helper protocol error: {exc}")
        return 1
    try:
        confine(req)
        # Directories it creates get 0755 whatever umask the server had when this helper
        # started (the server narrows its umask while it binds Unix sockets).
        os.umask(0o022)
    except Exception as exc:  # never run a request half-confined
        _report(sock, Reason.SANDBOX_UNAVAILABLE, f"helper could not confine itself: {exc!r}",
                _traceback())
        return 1
    try:
        ops.run(sock, req)
    except Exception as exc:
        _report(sock, Reason.HELPER_FAILED, f"helper failed: {exc!r}", _traceback())
        return 1
    return 0


def _traceback() -> str:
    import traceback  # only on failure: it costs every exec'd helper's start-up otherwise

    return traceback.format_exc()


def _report(sock: socket.socket, reason: Reason, message: str, detail: str = "") -> None:
    with contextlib.suppress(OSError):  # the server may already have hung up
        codec.send(sock, Kind.ERROR, ErrorReport(reason=reason.value, message=message,
                                                 detail=detail))


def main(argv: list[str] | None = None) -> int:
    """Exec'd form: the channel is an inherited fd, confinement settings come as JSON."""
    from fsgate_server.helper.settings import confiner_from_json

    fd, confinement = _parse_args(sys.argv[1:] if argv is None else argv)
    sock = socket.socket(fileno=fd)
    return serve_one(sock, confiner_from_json(json.loads(confinement), (0, 1, 2, fd)))


USAGE = "usage: python -m fsgate_server.helper.main --fd FD --confinement JSON"


def _parse_args(argv: list[str]) -> tuple[int, str]:
    """``--fd FD --confinement JSON`` (either order), as bwrap.py passes them. Not argparse:
    every bwrap request starts a helper, and importing argparse costs it milliseconds."""
    values: dict[str, str] = {}
    it = iter(argv)
    for flag in it:
        name = flag.split("=", 1)[0]
        if name not in ("--fd", "--confinement") or name in values:
            raise SystemExit(f"{USAGE}\nunexpected argument {flag!r}")
        value = flag.split("=", 1)[1] if "=" in flag else next(it, None)
        if value is None:
            raise SystemExit(f"{USAGE}\n{name} needs a value")
        values[name] = value
    if set(values) != {"--fd", "--confinement"}:
        raise SystemExit(USAGE)
    try:
        return int(values["--fd"]), values["--confinement"]
    except ValueError:
        raise SystemExit(f"{USAGE}\n--fd must be a number") from None


if __name__ == "__main__":
    sys.exit(main())
