"""The watch conversation without gRPC (HelperClient.watch): REQUEST -> RESULT(started)
EVENT* until the server hangs up, against the real helper (the landlock fork server and
the in-process one) and against helpers that misbehave on purpose."""
from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server.backends.channel import Executor
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.errors import Failure
from fsgate_server.helper import protocol
from fsgate_server.helper.messages import EventType, WatchArgs, WatchEvent
from fsgate_server.helper.protocol import Kind
from fsgate_server.policy import EffectivePolicy

from .test_helper_conversation import DEADLINE, executor, fake_helper, frames

__all__ = ["executor"]  # fixtures


def args(path: Path, *, recursive: bool = False) -> WatchArgs:
    policy = EffectivePolicy(readable=(str(path),), writable=(), denied=())
    return WatchArgs(str(path), policy, max_dirs=10, recursive=recursive)


def test_watch_starts_then_streams_batches_until_the_server_hangs_up(
        executor: Executor, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    client = HelperClient.over(executor, time.monotonic() + DEADLINE)
    with client.watch(args(tmp_path, recursive=True)) as (started, batches):
        assert started.watched_dirs == 2
        (tmp_path / "sub" / "a").touch()
        batch = next(batches)
    assert batch.events == (WatchEvent(EventType.CREATED, str(tmp_path / "sub" / "a")),)
    assert not batch.overflow


def test_a_watch_of_a_file_is_not_a_directory(executor: Executor, tmp_path: Path) -> None:
    (tmp_path / "f").touch()
    client = HelperClient.over(executor, time.monotonic() + DEADLINE)
    with pytest.raises(Failure) as err, client.watch(args(tmp_path / "f")):
        pass
    assert err.value.reason is Reason.NOT_A_DIRECTORY


STARTED = b'{"watched_dirs":1}'
EVENT = b'{"events":[{"type":1,"path":"/ws/a","old_path":"","is_dir":false}]}'
TOO_LARGE = b'{"reason":"TOO_LARGE","message":"too many directories"}'


@pytest.mark.parametrize(("name", "sent"), [
    ("events before started", [(Kind.EVENT, EVENT)]),
    ("malformed started", [(Kind.RESULT, b'{"watched_dirs":-1}')]),
])
def test_a_watch_that_does_not_start_properly_is_helper_failed(
        name: str, sent: list[tuple[Kind, bytes]]) -> None:
    with pytest.raises(Failure) as err, fake_helper(frames(*sent)).watch(args(Path("/ws"))):
        pass
    assert err.value.reason is Reason.HELPER_FAILED, name


@pytest.mark.parametrize(("name", "after"), [
    ("malformed batch", (Kind.EVENT, b'{"events":[{"type":9,"path":"/ws/b"}]}')),
    ("a result midstream", (Kind.RESULT, STARTED)),
    ("hangs up", None),
])
def test_a_watch_whose_helper_misbehaves_later_is_helper_failed(
        name: str, after: tuple[Kind, bytes] | None) -> None:
    sent = [(Kind.RESULT, STARTED), (Kind.EVENT, EVENT)] + ([after] if after else [])
    with fake_helper(frames(*sent)).watch(args(Path("/ws"))) as (_started, batches):
        assert next(batches).events[0].path == "/ws/a"
        with pytest.raises(Failure) as err:
            next(batches)
    assert err.value.reason is Reason.HELPER_FAILED, name


def test_an_error_after_events_ends_the_watch_with_its_reason() -> None:
    sent = [(Kind.RESULT, STARTED), (Kind.EVENT, EVENT), (Kind.ERROR, TOO_LARGE)]
    with fake_helper(frames(*sent)).watch(args(Path("/ws"))) as (_started, batches):
        assert len(next(batches).events) == 1
        with pytest.raises(Failure) as err:
            next(batches)
    assert err.value.reason is Reason.TOO_LARGE


def test_the_setup_deadline_bounds_the_wait_for_started() -> None:
    def silent(sock: socket.socket) -> None:
        with contextlib.suppress(protocol.ProtocolError):
            protocol.recv(sock)  # waits for the server to hang up; never answers

    setup = time.monotonic() + 0.5
    with pytest.raises(Failure) as err, fake_helper(silent).watch(
            args(Path("/ws")), setup_deadline=setup):
        pass
    assert err.value.reason is Reason.DEADLINE_EXCEEDED
