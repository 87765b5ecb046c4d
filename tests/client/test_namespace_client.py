"""make_dir, remove and server_info without a server: both clients prepare the same
request, deadline and metadata (fsgate._namespace), and the responses convert into the
public frozen results."""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import fsgate
import pytest
from fsgate import AsyncClient, Client, Policy, Timeouts
from fsgate.v1 import fsgate_pb2

POLICY = Policy(readable_roots=["/ws"], writable_roots=["/ws/out"], cwd="/ws")


def test_both_clients_prepare_make_dir_remove_and_server_info_the_same_way() -> None:
    timeouts = Timeouts(call=3, transfer=30)
    sync = Client("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts)
    aio = AsyncClient("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts)
    try:
        preps: list[Callable[[Any], Any]] = [
            lambda c: c._prepare_make_dir("out/d", parents=True, exist_ok=True, mode=0o700,
                                          policy=None, timeout=None),
            lambda c: c._prepare_remove("/ws/out/d", recursive=True, missing_ok=True,
                                        if_version="v", policy=Policy(), timeout=4),
            lambda c: c._prepare_server_info(timeout=None),
        ]
        for prepare in preps:
            assert prepare(sync) == prepare(aio)
        made, removed, info = (prepare(sync) for prepare in preps)
        assert made.request == fsgate_pb2.MakeDirRequest(
            path="out/d", parents=True, exist_ok=True, mode=0o700,
            sandbox=fsgate_pb2.SandboxPolicy(readable_roots=["/ws"],
                                             writable_roots=["/ws/out"], cwd="/ws"))
        assert (made.timeout, made.metadata) == (3, (("authorization", "Bearer t0k"),))
        assert removed.request == fsgate_pb2.RemoveRequest(
            path="/ws/out/d", recursive=True, missing_ok=True, if_version="v",
            sandbox=fsgate_pb2.SandboxPolicy())
        assert removed.timeout == 4
        assert info.request == fsgate_pb2.GetServerInfoRequest() and info.path == ""
    finally:
        sync.close()


def test_the_async_methods_are_coroutines_with_the_blocking_ones_signatures() -> None:
    for name in ("make_dir", "remove", "server_info"):
        blocking, coroutine = getattr(Client, name), getattr(AsyncClient, name)
        assert inspect.iscoroutinefunction(coroutine) and not inspect.iscoroutinefunction(
            blocking)
        assert inspect.signature(blocking) == inspect.signature(coroutine)


def test_server_info_converts_every_field_into_frozen_results() -> None:
    response = fsgate_pb2.GetServerInfoResponse(
        version="1.1.0", backend="bwrap", landlock_abi=6,
        roots=[fsgate_pb2.Root(path="/data", writable=False),
               fsgate_pb2.Root(path="/ws", writable=True)],
        limits=fsgate_pb2.ServerLimits(max_read_bytes=1, max_write_bytes=2, max_list_depth=3,
                                       max_list_entries=4, max_page_size=5, max_matches=6,
                                       max_watches=7))
    info = Client._server_info_result(response)
    assert info == fsgate.ServerInfo(
        version="1.1.0", backend="bwrap", landlock_abi=6,
        roots=(fsgate.ServerRoot("/data", False), fsgate.ServerRoot("/ws", True)),
        limits=fsgate.ServerLimits(1, 2, 3, 4, 5, 6, 7))
    assert Client._remove_result(fsgate_pb2.RemoveResponse(removed=12)) == fsgate.RemoveResult(12)
    for value in (info, info.limits, info.roots[0], fsgate.RemoveResult(1)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, dataclasses.fields(value)[0].name, None)
