"""WriteFile, as both clients send it: content as chunks, the stream, and the outcome.

Both :class:`fsgate.Client` and :class:`fsgate.AsyncClient` send a write as a *blocking*
``WriteFile`` call fed by a request stream (:class:`WriteRequests` here; the async
client's :class:`fsgate._async_write.LoopFedRequests`). :func:`start_write` starts it and
:func:`write_outcome` turns the ended call into its response or the one error worth
seeing: the data source's own error first, then a cancellation, then the server's status.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

import grpc

from fsgate._base import Prepared
from fsgate._channel import Stub
from fsgate._errors import FsgateError
from fsgate.v1 import fsgate_pb2

__all__ = [
    "SupportsRead",
    "WriteData",
    "WriteRequests",
    "WriteStream",
    "check_chunk",
    "check_read",
    "data_chunks",
    "refuse_str",
    "split",
    "start_write",
    "write_outcome",
]


@runtime_checkable
class SupportsRead(Protocol):
    """A binary file object: ``read(n)`` returns at most n bytes, ``b""`` at the end."""

    def read(self, size: int = ..., /) -> bytes: ...


#: What ``Client.write_file`` accepts as content.
WriteData = bytes | bytearray | memoryview | Iterable[bytes] | SupportsRead


# --- content as chunks --------------------------------------------------------------------
def split(data: bytes | bytearray | memoryview, chunk_size: int) -> Iterator[bytes]:
    """``data`` in chunks of at most ``chunk_size`` bytes (none for empty data)."""
    view = memoryview(data).cast("B")
    for start in range(0, len(view), chunk_size):
        yield bytes(view[start : start + chunk_size])


def check_chunk(chunk: object, what: str) -> bytes | bytearray | memoryview:
    """``chunk`` if it is bytes-like; a TypeError naming ``what`` gave it otherwise."""
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(chunk).__name__}")
    return chunk


def check_read(chunk: object) -> bytes | bytearray | memoryview | None:
    """A file object's ``read()`` result; None (a non-blocking stream) is an error.

    Stopping at None would commit a truncated file, so it fails (the write is then
    cancelled and changes nothing).
    """
    if chunk is None:
        raise BlockingIOError("write_file source returned None (non-blocking stream)")
    if not isinstance(chunk, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"write_file source must be opened in binary mode, read() gave "
            f"{type(chunk).__name__}"
        )
    return chunk


def _iter_chunks(chunks: Iterable[bytes], chunk_size: int) -> Iterator[bytes]:
    for chunk in chunks:
        yield from split(check_chunk(chunk, "write_file data chunks"), chunk_size)


def _read_chunks(source: SupportsRead, chunk_size: int) -> Iterator[bytes]:
    while True:
        chunk = check_read(source.read(chunk_size))
        if not chunk:
            return
        yield from split(chunk, chunk_size)


def refuse_str(data: object) -> None:
    """A TypeError for text: the wire carries bytes, and guessing an encoding is wrong."""
    if isinstance(data, str):
        raise TypeError("write_file data must be bytes, not str; encode it first")


def data_chunks(data: WriteData, chunk_size: int) -> Iterator[bytes]:
    """Content as chunks of at most ``chunk_size`` bytes; type errors raise here, eagerly."""
    refuse_str(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return split(data, chunk_size)
    if isinstance(data, SupportsRead):
        return _read_chunks(data, chunk_size)
    if isinstance(data, Iterable):
        return _iter_chunks(data, chunk_size)
    raise TypeError(
        f"write_file data must be bytes, an iterable of bytes or a binary file object, "
        f"not {type(data).__name__}"
    )


# --- the request stream -------------------------------------------------------------------
class WriteStream(Protocol):
    """A WriteFile request stream: the header, then the data; keeps its source's error.

    If the data source fails, the stream cancels the call *before* it ends -- ending it
    would half-close the stream and commit a truncated file -- and keeps the error in
    :attr:`error`, for :func:`write_outcome` to re-raise in the caller's thread.
    """

    @property
    def error(self) -> BaseException | None: ...

    def attach(self, call: grpc.Future[Any] | None) -> None:
        """Hand over the call this stream feeds; None if starting the call failed."""

    def __iter__(self) -> Iterator[fsgate_pb2.WriteFileRequest]: ...


class WriteRequests:
    """The :class:`WriteStream` of the blocking client, pulled from a sync source.

    gRPC consumes it on its own thread. (Raising the source's error here would also
    cancel the call, but gRPC logs a traceback.)
    """

    def __init__(self, header: fsgate_pb2.WriteFileRequest.Header, chunks: Iterator[bytes]):
        self._header = header
        self._chunks = chunks
        self._call: grpc.Future[Any] | None = None
        self._attached = threading.Event()
        self.error: BaseException | None = None

    def attach(self, call: grpc.Future[Any] | None) -> None:
        """Hand over the call this stream feeds; None if starting the call failed."""
        self._call = call
        self._attached.set()

    def __iter__(self) -> Iterator[fsgate_pb2.WriteFileRequest]:
        yield fsgate_pb2.WriteFileRequest(header=self._header)
        while True:
            # Only the data source's own errors are caught; GeneratorExit at a yield (gRPC
            # stopping early because the call already failed) is not one of them.
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return
            except Exception as exc:
                self.error = exc
                self._attached.wait()
                if self._call is None:
                    raise  # no call to cancel; gRPC cancels on the exception instead
                self._call.cancel()
                return  # gRPC sees the call cancelled and never half-closes it
            yield fsgate_pb2.WriteFileRequest(data=chunk)


# --- the call -----------------------------------------------------------------------------
def start_write(
    stub: Stub,
    prepared: Prepared[fsgate_pb2.WriteFileRequest.Header],
    requests: WriteStream,
) -> grpc.Future[fsgate_pb2.WriteFileResponse]:
    """Start the blocking WriteFile call fed by ``requests``, and attach it to them."""
    try:
        call = stub.WriteFile.future(
            iter(requests), timeout=prepared.timeout, metadata=prepared.metadata
        )
    except BaseException:
        requests.attach(None)
        raise
    requests.attach(call)
    return call


def write_outcome(
    call: grpc.Future[fsgate_pb2.WriteFileResponse], requests: WriteStream, path: str
) -> fsgate_pb2.WriteFileResponse:
    """The response of a WriteFile call, waiting for it if it has not ended.

    A failed call raises, in this order of precedence: the data source's own error (as
    is), ``FsgateError`` CANCELLED for a call cancelled from this side, else the
    ``grpc.RpcError`` with the server's status (for the caller's error boundary to map).
    Anything else raised while waiting (e.g. KeyboardInterrupt) cancels the call.
    """
    try:
        return call.result()
    except (grpc.RpcError, grpc.FutureCancelledError) as exc:
        if requests.error is not None:
            # The caller's data source failed; that is the error worth seeing.
            raise requests.error from None
        if isinstance(exc, grpc.FutureCancelledError):
            raise FsgateError("write cancelled", code=grpc.StatusCode.CANCELLED, path=path) from exc
        raise
    except BaseException:  # do not leave the call running
        call.cancel()
        raise
