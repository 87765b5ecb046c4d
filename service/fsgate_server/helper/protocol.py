"""Frames exchanged between the server and one helper over a SOCK_STREAM socketpair.

A frame is a 5-byte header (kind, payload length) followed by the payload. REQUEST,
RESULT and ERROR frames carry one message of messages.py, as JSON (codec.py: UTF-8,
non-ASCII characters as themselves, not as 6-byte ``\\uXXXX`` escapes, which would
inflate a page of non-ASCII names 3x; strings that may hold non-UTF-8 file names use
surrogateescape, their lone surrogates travel as surrogatepass bytes). DATA frames carry
raw file bytes; EVENT frames one WatchBatch (watch only); READY, END and COMMIT carry
nothing.

    server                         helper
    REQUEST *Args ->
                                   <- READY            (write only: target checked, temp file open)
    DATA* ->                                           (write only)
    END ->                                             (write only: the client really finished)
                                   <- READY            (write only: content durable, unnamed)
    COMMIT ->                                          (write only: the call is still alive)
                                   <- DATA*            (read only)
                                   <- RESULT*          (search only: SearchBatch frames,
                                                        matches as they are found)
                                   <- RESULT answer | ERROR ErrorReport
                                                       (search: the SearchBatch whose summary
                                                        is set ends the conversation)
                                   <- EVENT*           (watch only, after its RESULT, until
                                                        the server closes; maybe an ERROR)
"""
from __future__ import annotations

import enum
import socket
import struct

HEADER = struct.Struct("!BI")
# A bound keeps a confused peer from making us allocate freely. A REQUEST can carry three
# policy lists of 1024 paths of 4096 bytes; a ListDir page is bounded to ~2 MiB of entries.
MAX_CONTROL_BYTES = 16 << 20
MAX_DATA_BYTES = 8 << 20


class Kind(enum.IntEnum):
    REQUEST = 1
    READY = 2
    DATA = 3
    END = 4
    RESULT = 5
    ERROR = 6
    COMMIT = 7
    EVENT = 8


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame, or hung up mid-frame."""


class PeerClosed(ProtocolError):
    """The peer closed the channel at a frame boundary."""


def frame(kind: Kind, payload: bytes = b"") -> bytes:
    """One whole frame, for a sender that puts several in one send."""
    return HEADER.pack(kind, len(payload)) + payload


def send(sock: socket.socket, kind: Kind, payload: bytes = b"") -> None:
    if len(payload) <= 64 << 10:
        sock.sendall(frame(kind, payload))  # one syscall for small frames
    else:
        sock.sendall(HEADER.pack(kind, len(payload)))
        sock.sendall(payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    if n == 0:
        return b""
    data = sock.recv(n, socket.MSG_WAITALL)
    if len(data) == n:
        return data
    # MSG_WAITALL can return short on a signal or EOF: finish by hand.
    parts = [data]
    got = len(data)
    while got < n:
        more = sock.recv(n - got, socket.MSG_WAITALL)
        if not more:
            raise ProtocolError(f"channel closed after {got} of {n} bytes")
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def recv_payload(sock: socket.socket, length: int) -> bytes:
    """The payload of a frame whose header ``recv_header`` returned."""
    return _recv_exact(sock, length)


def recv(sock: socket.socket) -> tuple[Kind, bytes]:
    kind, length = recv_header(sock)
    return kind, _recv_exact(sock, length)


def recv_header(sock: socket.socket) -> tuple[Kind, int]:
    """The next frame's kind and checked length; its payload is the caller's to read
    (``recv`` does, or a helper splices a DATA payload straight into a file)."""
    header = sock.recv(HEADER.size, socket.MSG_WAITALL)
    if not header:
        raise PeerClosed("channel closed")
    if len(header) < HEADER.size:
        header += _recv_exact(sock, HEADER.size - len(header))
    raw_kind, length = HEADER.unpack(header)
    try:
        kind = Kind(raw_kind)
    except ValueError:
        raise ProtocolError(f"unknown frame kind {raw_kind}") from None
    limit = MAX_DATA_BYTES if kind is Kind.DATA else MAX_CONTROL_BYTES
    if length > limit:
        raise ProtocolError(f"{kind.name} frame of {length} bytes exceeds {limit}")
    return kind, length

