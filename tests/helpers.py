"""Small test helpers shared by the suites."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under root with a digest of what it is: to prove nothing changed."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = f"file:{st.st_mode:o}:" + hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = f"other:{st.st_mode:o}"
    return out


def rpc_reason(exc: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """(code, ErrorInfo reason) of a raw gRPC error."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]  # a raised RpcError is a Call
    reason = ""
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == "fsgate":
                reason = info.reason
    return exc.code(), reason
