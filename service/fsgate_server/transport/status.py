"""Where a Failure leaves the server: the one mapping onto a gRPC status with a
google.rpc.ErrorInfo (domain ``fsgate``), paths and message shortened to fit any client's
default metadata limit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import grpc
from fsgate.reasons import DOMAIN, STATUS_CODE, Reason
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from fsgate_server.errors import Failure, shorten, shorten_message

__all__ = ["abort", "code_of", "to_status"]


def code_of(reason: Reason) -> grpc.StatusCode:
    return STATUS_CODE[reason]


def to_status(err: Failure) -> grpc.Status:
    metadata = {key: shorten(value) for key, value in err.metadata.items()}
    if err.path:
        metadata["path"] = shorten(err.path)
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=err.reason.value, domain=DOMAIN,
                                            metadata=metadata))
    message = shorten_message(err.message, (err.path,))
    return rpc_status.to_status(status_pb2.Status(code=code_of(err.reason).value[0],
                                                  message=message, details=[detail]))


def abort(context: grpc.ServicerContext, err: Failure,
          trailing_metadata: tuple[tuple[str, str], ...] = ()) -> NoReturn:
    """Fail the call with ``err``; ``trailing_metadata`` is sent along with the status
    (abort_with_status would otherwise replace what set_trailing_metadata set)."""
    status = to_status(err)
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
