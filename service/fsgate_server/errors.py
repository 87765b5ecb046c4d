"""The server's one exception type and its mapping onto a gRPC status with ErrorInfo."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import grpc
from fsgate._reasons import DOMAIN, STATUS_CODE, Reason
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status


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
        metadata = {"path": self.path} if self.path else {}
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.ErrorInfo(reason=self.reason.value, domain=DOMAIN,
                                                metadata=metadata))
        code = self.code.value[0]
        return rpc_status.to_status(status_pb2.Status(code=code, message=self.message,
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
