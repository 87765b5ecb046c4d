"""Move and Copy in the clients, free of I/O: both clients prepare the same request, with
one sandbox for the two paths that carries the cwd when either path needs it, under the
transfer deadline; responses become MoveResult and CopyResult."""

from __future__ import annotations

import pytest
from fsgate import AsyncClient, Client, CopyResult, FileType, MoveResult, Policy, Timeouts
from fsgate._channel import IDEMPOTENT_METHODS
from fsgate.v1 import fsgate_pb2

POLICY = Policy(readable_roots=["/ws"], writable_roots=["/ws/out"], cwd="/ws")


@pytest.fixture
def clients() -> tuple[Client, AsyncClient]:
    timeouts = Timeouts(call=3, transfer=30)
    return (Client("unix:/nonexistent", policy=POLICY, timeouts=timeouts),
            AsyncClient("unix:/nonexistent", policy=POLICY, timeouts=timeouts))


def test_both_clients_prepare_move_and_copy_the_same_way(
        clients: tuple[Client, AsyncClient]) -> None:
    sync, _ = clients
    try:
        for c in clients:
            assert callable(c.move) and callable(c.copy)
        move = [c._prepare_move("out/a", "/ws/out/b", overwrite=True, create_parents=True,
                                policy=None, timeout=None) for c in clients]
        copy = [c._prepare_copy("/ws/a", "/ws/out/b", recursive=True, overwrite=False,
                                policy=None, timeout=5) for c in clients]
        assert move[0] == move[1] and copy[0] == copy[1]
        request = move[0].request
        assert (request.source, request.destination, request.overwrite,
                request.create_parents) == ("out/a", "/ws/out/b", True, True)
        assert (move[0].path, move[0].timeout, copy[0].timeout) == ("out/a", 30, 5)
        assert copy[0].request.recursive and not copy[0].request.overwrite
    finally:
        sync.close()


@pytest.mark.parametrize(("source", "destination", "cwd"), [
    ("out/a", "/ws/out/b", "/ws"),
    ("/ws/a", "out/b", "/ws"),
    ("/ws/a", "/ws/out/b", ""),
])
def test_the_cwd_is_sent_when_either_path_is_relative(
        clients: tuple[Client, AsyncClient], source: str, destination: str, cwd: str) -> None:
    sync, _ = clients
    try:
        for prepared in (sync._prepare_move(source, destination, overwrite=False,
                                            create_parents=False, policy=None, timeout=None),
                         sync._prepare_copy(source, destination, recursive=False,
                                            overwrite=False, policy=None, timeout=None)):
            assert prepared.request.sandbox.cwd == cwd
            assert list(prepared.request.sandbox.writable_roots) == ["/ws/out"]
    finally:
        sync.close()


def test_no_policy_sends_no_sandbox() -> None:
    with Client("unix:/nonexistent") as c:
        prepared = c._prepare_move("/ws/a", "/ws/b", overwrite=False, create_parents=False,
                                   policy=None, timeout=None)
        assert not prepared.request.HasField("sandbox")


def test_responses_become_results() -> None:
    info = fsgate_pb2.FileInfo(path="/ws/b", type=fsgate_pb2.FILE_TYPE_REGULAR, size=3,
                               mode=0o644, version="v")
    moved = Client._move_result(fsgate_pb2.MoveResponse(info=info))
    copied = Client._copy_result(fsgate_pb2.CopyResponse(info=info, bytes_copied=3,
                                                         entries_copied=1))
    assert isinstance(moved, MoveResult) and moved.info.type is FileType.REGULAR
    assert copied == CopyResult(info=moved.info, bytes_copied=3, entries_copied=1)


def test_move_and_copy_are_never_retried() -> None:
    assert not {"Move", "Copy"} & set(IDEMPOTENT_METHODS)
