"""gRPC server reflection, so ``grpcurl`` and similar tools work without the proto files."""
from __future__ import annotations

import grpc
from fsgate.v1 import fsgate_pb2
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

__all__ = ["SERVICE_NAMES", "enable"]

SERVICE_NAMES: tuple[str, ...] = (
    fsgate_pb2.DESCRIPTOR.services_by_name["FileSystemService"].full_name,
    health.SERVICE_NAME,
    reflection.SERVICE_NAME,
)


def enable(server: grpc.Server) -> None:
    reflection.enable_server_reflection(SERVICE_NAMES, server)
