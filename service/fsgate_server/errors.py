"""The server's one exception type and its mapping onto a gRPC status with ErrorInfo.

A whole error (message plus ErrorInfo, sent base64 in the trailing metadata) must fit a
client's default 8 KiB metadata limit whatever the path's length (SPEC §3), so every path it
carries is shortened here, in ``to_status``, the one place a ServiceError leaves the server.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import grpc
from fsgate._reasons import DOMAIN, STATUS_CODE, Reason
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

MAX_PATH_IN_ERROR = 512
"""Most UTF-8 bytes of one path in an error's message or metadata; longer ones keep head and
tail around an ellipsis."""
MAX_MESSAGE_BYTES = 1024
"""Most UTF-8 bytes of a whole error message (it may quote more than one path). Non-ASCII
is percent-encoded in grpc-message, and the message is repeated in the details: 1 KiB
keeps the worst case far below 8 KiB."""
ELLIPSIS = "\u2026"


def shorten(text: str, limit: int = MAX_PATH_IN_ERROR) -> str:
    """``text`` if it fits ``limit`` UTF-8 bytes, else its head and tail around an ellipsis,
    never splitting a character. Lone surrogates (escaped bytes) are dropped from a shortened
    result, which is always valid UTF-8."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    keep = max(limit - len(ELLIPSIS.encode()), 0)
    head = data[: keep - keep // 2].decode("utf-8", "ignore")
    tail = data[len(data) - keep // 2:].decode("utf-8", "ignore") if keep // 2 else ""
    return head + ELLIPSIS + tail


def shorten_message(message: str, paths: tuple[str, ...] = ()) -> str:
    """``message`` with each long path of ``paths`` in it shortened, then bounded as a whole."""
    for path in sorted(set(paths), key=len, reverse=True):
        if path and path in message and len(path.encode("utf-8", "surrogatepass")) > \
                MAX_PATH_IN_ERROR:
            message = message.replace(path, shorten(path))
    return shorten(message, MAX_MESSAGE_BYTES)


class ServiceError(Exception):
    """A failure the caller is told about: a contract reason, a message for people, a path."""

    def __init__(self, reason: Reason, message: str, path: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.path = path

    @property
    def code(self) -> grpc.StatusCode:
        return STATUS_CODE[self.reason]

    def to_status(self) -> grpc.Status:
        metadata = {"path": shorten(self.path)} if self.path else {}
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=self.reason.value, domain=DOMAIN,
                                                metadata=metadata))
        code = self.code.value[0]
        message = shorten_message(self.message, (self.path,))
        return rpc_status.to_status(status_pb2.Status(code=code, message=message,
                                                      details=[detail]))


def abort(context: grpc.ServicerContext, err: ServiceError,
          trailing_metadata: tuple[tuple[str, str], ...] = ()) -> NoReturn:
    """Fail the call with ``err``; ``trailing_metadata`` is sent along with the status
    (abort_with_status would otherwise replace what set_trailing_metadata set)."""
    status = err.to_status()
    if trailing_metadata:
        status = _Status(status.code, status.details,
                         tuple(status.trailing_metadata) + tuple(trailing_metadata))
    context.abort_with_status(status)
    raise AssertionError("abort_with_status returned")  # pragma: no cover


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]
