"""The health service's states: NOT_SERVING until a helper answered and the pool holds a
ready helper, SERVING, then NOT_SERVING for good from the start of the drain (in-process,
no helper needed)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from fsgate.reasons import Reason
from fsgate_server.backends.channel import HelperCall
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import Request
from fsgate_server.policy import Root
from fsgate_server.transport import health as health_mod
from fsgate_server.transport.health import SERVICES, Health
from fsgate_server.transport.lifecycle import Lifecycle
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Health, health_pb2_grpc.HealthStub]]:
    status = Health()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    status.add_to_server(server)
    server.add_insecure_port(f"unix:{tmp_path / 'h.sock'}")
    server.start()
    channel = grpc.insecure_channel(f"unix:{tmp_path / 'h.sock'}")
    yield status, health_pb2_grpc.HealthStub(channel)
    channel.close()
    server.stop(None)


def statuses(stub: health_pb2_grpc.HealthStub) -> set[int]:
    return {stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=5).status
            for s in SERVICES}


def test_not_serving_until_the_helper_check_passes_then_serving(
        served: tuple[Health, health_pb2_grpc.HealthStub],
        monkeypatch: pytest.MonkeyPatch) -> None:
    status, stub = served
    monkeypatch.setattr(health_mod, "READY_RETRY", 0.01)
    attempts: list[int] = []
    may_pass = threading.Event()

    def check() -> None:
        attempts.append(1)
        if not may_pass.is_set():
            if len(attempts) >= 3:
                assert statuses(stub) == {NOT_SERVING}  # failing checks keep it down
                may_pass.set()
            raise RuntimeError("helper not ready")

    status.become_ready(check)
    assert status.wait_ready(10)
    assert len(attempts) >= 4
    assert statuses(stub) == {SERVING}


def test_drain_is_not_serving_for_good(served: tuple[Health, health_pb2_grpc.HealthStub]
                                       ) -> None:
    status, stub = served
    status.serving()
    assert statuses(stub) == {SERVING}
    status.drain()
    assert statuses(stub) == {NOT_SERVING}
    status.serving()  # a late readiness check cannot bring it back
    assert statuses(stub) == {NOT_SERVING}


def test_drain_tells_watchers_not_serving_and_ends_their_streams(
        served: tuple[Health, health_pb2_grpc.HealthStub]) -> None:
    status, stub = served
    status.serving()
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert next(watch).status == SERVING
    status.drain()
    assert [r.status for r in watch] == [NOT_SERVING]  # then the stream ends
    assert watch.code() is grpc.StatusCode.OK


def test_unknown_service_is_not_found(served: tuple[Health, health_pb2_grpc.HealthStub]
                                      ) -> None:
    _status, stub = served
    with pytest.raises(grpc.RpcError) as err:
        stub.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=5)
    assert err.value.code() is grpc.StatusCode.NOT_FOUND


def test_health_drains_the_shared_lifecycle_and_gives_up_readiness_when_it_drains(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health_mod, "READY_RETRY", 30)  # only the drain can end the wait
    lifecycle = Lifecycle()
    status = Health(lifecycle)

    def check() -> None:
        raise RuntimeError("helper not ready")

    loop = status.become_ready(check)
    lifecycle.begin_drain()  # the server starts to drain: the readiness loop stops
    loop.join(5)
    assert not loop.is_alive() and not status.ready
    status.serving()
    assert not status.ready  # draining is for good

    other = Lifecycle()
    Health(other).drain()
    assert other.is_draining  # file calls are refused from the health drain on


class _Pool:
    """An executor whose helpers answer (NOT_FOUND, which is still an answer) and whose
    pool holds a ready helper once ``ready`` is set."""

    name = "fake"

    def __init__(self) -> None:
        self.ready = False
        self.waited: list[float] = []

    def start(self, req: Request, deadline: float | None) -> HelperCall:
        raise Failure(Reason.NOT_FOUND, "no such file", req.path)

    def stop(self) -> None:
        pass

    def wait_helper_ready(self, deadline: float) -> bool:
        self.waited.append(deadline)
        return self.ready


def test_the_helper_check_passes_only_once_the_pool_holds_a_ready_helper() -> None:
    pool, roots = _Pool(), (Root("/ws", writable=False),)
    with pytest.raises(RuntimeError, match="no helper became ready"):
        health_mod.check_helper_path(pool, roots, timeout=5)
    pool.ready = True
    health_mod.check_helper_path(pool, roots, timeout=5)
    assert len(pool.waited) == 2  # after the helper answered, each time
