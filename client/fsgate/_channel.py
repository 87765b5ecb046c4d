"""The one place a fsgate client channel is made, and its arguments.

:class:`ChannelSpec` opens every channel of :class:`fsgate.Client` and
:class:`fsgate.AsyncClient` (blocking or grpc.aio, plaintext or TLS) with the same
arguments: retries, keepalive, reconnects. The arguments are pure data, and a test pins
them. Callers can replace any single argument with ``options=[(name, value)]``.

Retries: gRPC's own retry machinery (gRFC A6), configured through the service config.
Only the calls that change nothing -- ReadFile, ListDir, Stat -- are retried, and only
on UNAVAILABLE (nothing listening, a connection reset, a server shutting down). WriteFile
has no retry policy: re-sending a write stream is the caller's decision (``if_version``
makes that safe). gRPC never retries a call once the server has answered it -- for
ReadFile, once the first message arrived -- so a retry never repeats or skips data. The
retries run inside the call's one deadline.

Keepalive, for a sidecar: the server is in the same pod (loopback or a unix socket), so
there is no middlebox that drops idle connections and nothing to ping while idle. Pings
are sent only while a call is in flight, to notice a hung or vanished server during a
long transfer, and never more often than every 5 minutes -- the minimum interval a gRPC
server accepts by default (``grpc.http2.min_recv_ping_interval_without_data_ms``);
pinging faster would make a default server close the connection (GOAWAY
``too_many_pings``). Reconnects start after 100 ms and back off to at most 5 s, because
a sidecar's server restarts in seconds and waiting gRPC's default 2 minutes between
attempts would turn a short restart into minutes of UNAVAILABLE.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

import grpc
import grpc.aio

from fsgate.v1 import fsgate_pb2, fsgate_pb2_grpc

__all__ = [
    "IDEMPOTENT_METHODS",
    "KEEPALIVE_OPTIONS",
    "RECONNECT_OPTIONS",
    "RETRY_POLICY",
    "SERVICE",
    "AsyncStub",
    "ChannelSpec",
    "Stub",
    "cancel",
    "channel_options",
    "service_config",
]

#: The full name of the fsgate service, as the service config names it.
SERVICE: Final = "fsgate.v1.FileSystemService"

#: The RPCs that change nothing and are therefore retried on UNAVAILABLE. None that
#: changes a file is (WriteFile, MakeDir, Remove, Move, Copy, EditFile: an UNAVAILABLE
#: after the server acted would repeat the change), nor WatchDir (a stream that lives).
IDEMPOTENT_METHODS: Final = ("ReadFile", "ListDir", "Stat", "Search", "Glob", "GetServerInfo")

#: Up to 4 retries after the first attempt, each after a random delay of up to 0.1, 0.2,
#: 0.4 and 0.8 s (at most 1.5 s in all), and only while the call's deadline allows.
RETRY_POLICY: Final[dict[str, Any]] = {
    "maxAttempts": 5,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}

#: See the module docstring; values in milliseconds.
KEEPALIVE_OPTIONS: Final[tuple[tuple[str, int], ...]] = (
    ("grpc.keepalive_time_ms", 300_000),          # ping a silent connection every 5 min
    ("grpc.keepalive_timeout_ms", 20_000),        # ... and drop it after 20 s unanswered
    ("grpc.keepalive_permit_without_calls", 0),   # never ping an idle connection
    ("grpc.http2.max_pings_without_data", 0),     # keep pinging during a long ReadFile
)

#: Delay before reconnecting after a failed connection attempt, in milliseconds.
RECONNECT_OPTIONS: Final[tuple[tuple[str, int], ...]] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5_000),
)

#: The channel argument that bounds one connection attempt (TCP or unix connect, TLS and
#: HTTP/2 handshakes), in milliseconds: gRPC core reads its "minimum connect timeout" from
#: this argument. It is the only connect timeout that needs no polling thread.
CONNECT_TIMEOUT_OPTION: Final = "grpc.min_reconnect_backoff_ms"


def service_config() -> dict[str, Any]:
    """The gRPC service config: a retry policy for each idempotent method, none else."""
    return {
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": m} for m in IDEMPOTENT_METHODS],
                "retryPolicy": dict(RETRY_POLICY),
            }
        ]
    }


def channel_options(
    connect_timeout: float, extra: Sequence[tuple[str, Any]] | None = None
) -> list[tuple[str, Any]]:
    """Every channel argument of a client channel; ``extra`` replaces same-named ones.

    ``connect_timeout`` is in seconds (see :class:`fsgate.Timeouts`).
    """
    defaults: dict[str, Any] = {
        "grpc.enable_retries": 1,
        "grpc.service_config": json.dumps(service_config(), separators=(",", ":")),
        CONNECT_TIMEOUT_OPTION: int(connect_timeout * 1000),
        **dict(KEEPALIVE_OPTIONS),
        **dict(RECONNECT_OPTIONS),
    }
    for key, value in extra or ():
        defaults[key] = value
    return list(defaults.items())


# --- opening a channel --------------------------------------------------------------------
class Stub(Protocol):
    """The generated FileSystemServiceStub, typed (the generated code is not annotated)."""

    ReadFile: grpc.UnaryStreamMultiCallable[
        fsgate_pb2.ReadFileRequest, fsgate_pb2.ReadFileResponse
    ]
    WriteFile: grpc.StreamUnaryMultiCallable[
        fsgate_pb2.WriteFileRequest, fsgate_pb2.WriteFileResponse
    ]
    ListDir: grpc.UnaryUnaryMultiCallable[fsgate_pb2.ListDirRequest, fsgate_pb2.ListDirResponse]
    Stat: grpc.UnaryUnaryMultiCallable[fsgate_pb2.StatRequest, fsgate_pb2.StatResponse]


class AsyncStub(Protocol):
    """The generated FileSystemServiceStub on a grpc.aio channel, typed."""

    ReadFile: grpc.aio.UnaryStreamMultiCallable[
        fsgate_pb2.ReadFileRequest, fsgate_pb2.ReadFileResponse
    ]
    WriteFile: grpc.aio.StreamUnaryMultiCallable[
        fsgate_pb2.WriteFileRequest, fsgate_pb2.WriteFileResponse
    ]
    ListDir: grpc.aio.UnaryUnaryMultiCallable[
        fsgate_pb2.ListDirRequest, fsgate_pb2.ListDirResponse
    ]
    Stat: grpc.aio.UnaryUnaryMultiCallable[fsgate_pb2.StatRequest, fsgate_pb2.StatResponse]


@dataclass(frozen=True)
class ChannelSpec:
    """Where and how a client connects; opens its channels, all with the same arguments.

    ``options`` are the full channel arguments (see :func:`channel_options`);
    ``credentials`` None means plaintext.
    """

    target: str
    options: Sequence[tuple[str, Any]]
    credentials: grpc.ChannelCredentials | None = None

    def _open(self, api: Any) -> Any:
        """A channel from ``api`` -- the grpc or the grpc.aio module, same signatures."""
        options = list(self.options)
        if self.credentials is None:
            return api.insecure_channel(self.target, options=options)
        return api.secure_channel(self.target, self.credentials, options=options)

    def open(self) -> tuple[grpc.Channel, Stub]:
        """A blocking channel and its stub."""
        channel = cast(grpc.Channel, self._open(grpc))
        return channel, cast(Stub, _stub(channel))

    def open_aio(self) -> tuple[grpc.aio.Channel, AsyncStub]:
        """A grpc.aio channel and its stub; call it in the event loop that will use it."""
        channel = cast(grpc.aio.Channel, self._open(grpc.aio))
        return channel, cast(AsyncStub, _stub(channel))


def _stub(channel: grpc.Channel | grpc.aio.Channel) -> object:
    return fsgate_pb2_grpc.FileSystemServiceStub(channel)


def cancel(call: grpc.RpcContext) -> None:
    """Cancel a blocking call (a no-op once it has ended)."""
    call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leaves cancel() unannotated
