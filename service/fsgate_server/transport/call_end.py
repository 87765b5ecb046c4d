"""Ending a call from outside its handler with DEADLINE_EXCEEDED: the one place that uses a
private grpc-python API (tests/test_call_end.py checks it against the installed grpcio)."""
from __future__ import annotations

import grpc
from grpc._cython import cygrpc  # type: ignore[attr-defined]  # private: no stubs

__all__ = ["end_deadline_exceeded"]


def end_deadline_exceeded(context: grpc.ServicerContext, details: str) -> bool:
    """End the call as DEADLINE_EXCEEDED; True if that worked, False if it fell back.

    grpc-python's public ``cancel()`` always says CANCELLED; the core call can say
    DEADLINE_EXCEEDED, which is what happened. Fall back to CANCELLED if that internal API
    moves (the caller then sees the call cancelled, and still nothing is committed).
    """
    try:
        core_call = context._rpc_event.call  # type: ignore[attr-defined]  # private
        core_call.cancel(cygrpc.StatusCode.deadline_exceeded, details)
    except (AttributeError, TypeError):
        context.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
        return False
    return True
