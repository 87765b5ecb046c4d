"""Server side of a helper: a started helper serving one request (HelperCall: its frames,
under a deadline; helper_client.py holds the typed conversation on top), and the backends
that start helpers (each an Executor)."""
from __future__ import annotations

import os
import signal
import socket
import time
from typing import Any, Protocol, runtime_checkable

import structlog
from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper import codec, protocol
from fsgate_server.helper.messages import ErrorReport, Request
from fsgate_server.helper.protocol import Kind

log = structlog.get_logger("fsgate.helper")


class Helper:
    """One helper process and the server's end of its channel. Used once."""

    def __init__(self, pid: int, sock: socket.socket, pidfd: int | None,
                 proc: Any = None) -> None:
        self.pid = pid
        self.sock = sock
        self.pidfd = pidfd
        self.proc = proc  # a subprocess.Popen when the backend exec'd the helper itself

    def kill(self) -> None:
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            elif self.proc is not None:
                self.proc.kill()
        except ProcessLookupError:
            pass

    def close(self) -> None:
        self.kill()  # single use: whatever it was doing, it is over
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        if self.proc is not None:
            self.proc.wait()


class HelperCall:
    """The server's conversation with one helper about one request, under a deadline."""

    def __init__(self, helper: Helper, req: Request, deadline: float | None) -> None:
        self.helper = helper
        self.req = req
        self.deadline = deadline
        self.failed_detail = ""
        self.ended = False  # the server ended the conversation on purpose (end())

    def end(self) -> None:
        """End a conversation that has no end of its own (a watch): kill the helper; the
        broken channel a reader then meets is no helper failure, and is not logged as one."""
        self.ended = True
        self.helper.kill()

    @property
    def pid(self) -> int:
        return self.helper.pid

    def _arm(self) -> None:
        if self.deadline is None:
            self.helper.sock.settimeout(None)
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._expired()
        self.helper.sock.settimeout(remaining)

    def _expired(self) -> None:
        self.helper.kill()
        raise Failure(Reason.DEADLINE_EXCEEDED, "deadline exceeded; the helper was killed",
                           self.req.path)

    def send(self, kind: Kind, payload: bytes = b"") -> None:
        self._arm()
        try:
            protocol.send(self.helper.sock, kind, payload)
        except TimeoutError:
            self._expired()
        except OSError:
            # The helper hung up, typically after reporting an error: read what it said.
            self.expect(Kind.RESULT)
            raise self.failed("helper closed its channel while receiving") from None

    def recv(self) -> tuple[Kind, bytes]:
        self._arm()
        try:
            kind, payload = protocol.recv(self.helper.sock)
        except TimeoutError:
            self._expired()
            raise  # unreachable
        except (protocol.ProtocolError, OSError) as exc:
            raise self.failed(f"helper channel broke: {exc}") from exc
        if kind is Kind.ERROR:
            raise self._error(payload)
        return kind, payload

    def expect(self, kind: Kind) -> bytes:
        """The payload of the next frame, which must be of this kind."""
        got, payload = self.recv()
        if got is not kind:
            raise self.failed(f"expected {kind.name} from helper, got {got.name}")
        return payload

    def _error(self, payload: bytes) -> Failure:
        try:
            body = codec.decode(payload, ErrorReport)
            reason = Reason(body.reason)
        except (protocol.ProtocolError, ValueError) as exc:
            return self.failed(f"helper sent a malformed error: {exc}")
        if reason in (Reason.HELPER_FAILED, Reason.SANDBOX_UNAVAILABLE):
            self.failed_detail = body.detail
            log.error("helper_failed", pid=self.pid, reason=reason.value,
                      message=body.message, detail=body.detail, stderr=self._stderr())
            return Failure(reason, "the helper failed; see the server log", self.req.path)
        return Failure(reason, body.message, self.req.path,
                       metadata={fact.key: fact.value for fact in body.facts})

    def _stderr(self) -> str:
        proc = self.helper.proc
        if proc is None or proc.stderr is None:
            return ""
        self.helper.kill()
        try:
            return str(proc.stderr.read(64 << 10).decode("utf-8", "replace"))
        except OSError:
            return ""

    def failed(self, why: str) -> Failure:
        """The Failure to raise when the helper broke the conversation (logged here, unless
        the server ended it: end())."""
        if not self.ended:
            log.error("helper_failed", pid=self.pid, why=why, stderr=self._stderr())
        return Failure(Reason.HELPER_FAILED, "the helper failed; see the server log",
                            self.req.path)

    def close(self) -> None:
        self.helper.close()


class Executor(Protocol):
    """A sandbox backend: starts one confined helper for one request."""

    name: str

    def start(self, req: Request, deadline: float | None) -> HelperCall: ...

    def stop(self) -> None: ...


@runtime_checkable
class Pooled(Protocol):
    """An executor whose helpers are forked ahead of demand (both backends)."""

    def wait_helper_ready(self, deadline: float) -> bool:
        """Wait until a request without a policy would find a helper ready, taking none;
        False at ``deadline``."""
        ...


class HelperGone(Exception):
    """A helper died before it got its request (e.g. the OOM killer took an idle one)."""


def begin(helper: Helper, req: Request, deadline: float | None) -> HelperCall:
    call = HelperCall(helper, req, deadline)
    try:
        call._arm()
        protocol.send(helper.sock, Kind.REQUEST, codec.encode(req))
    except (BrokenPipeError, ConnectionResetError) as exc:
        call.close()
        raise HelperGone(str(exc)) from exc
    except TimeoutError:
        call.close()
        raise Failure(Reason.DEADLINE_EXCEEDED, "deadline exceeded before the helper "
                           "started", req.path) from None
    except BaseException:
        call.close()
        raise
    return call
