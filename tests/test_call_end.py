"""Ending a call as DEADLINE_EXCEEDED from outside its handler relies on a private
grpc-python API: check it still works with the grpcio installed, and that the fallback
still ends the call."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from fsgate_server.transport.call_end import end_deadline_exceeded

METHOD = "/test.Blocker/Block"


@pytest.fixture
def blocked_call(tmp_path: Path) -> Iterator[tuple[Any, grpc.ServicerContext]]:
    """A call whose handler waits until the call ends, and that handler's context."""
    contexts: queue.Queue[grpc.ServicerContext] = queue.Queue()

    def block(_request: bytes, context: grpc.ServicerContext) -> bytes:
        ended = threading.Event()
        context.add_callback(ended.set)
        contexts.put(context)
        ended.wait(10)
        return b""

    handler = grpc.method_handlers_generic_handler("test.Blocker", {
        "Block": grpc.unary_unary_rpc_method_handler(block)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    address = f"unix:{tmp_path / 's.sock'}"
    server.add_insecure_port(address)
    server.start()
    channel = grpc.insecure_channel(address)
    future = channel.unary_unary(METHOD, None, None).future(b"", timeout=30)
    try:
        yield future, contexts.get(timeout=10)
    finally:
        channel.close()
        server.stop(None)


def test_installed_grpcio_ends_the_call_deadline_exceeded(blocked_call: Any) -> None:
    future, context = blocked_call
    assert end_deadline_exceeded(context, "the helper timed out and was killed") is True
    err = future.exception(timeout=10)
    assert err.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.details() == "the helper timed out and was killed"


def test_without_the_private_api_the_call_is_cancelled_instead() -> None:
    class PublicOnly:
        cancelled = False

        def cancel(self) -> None:
            self.cancelled = True

    context = PublicOnly()
    assert end_deadline_exceeded(context, "x") is False  # type: ignore[arg-type]  # a fake context
    assert context.cancelled
