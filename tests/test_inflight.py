"""Running helpers: tracked while they serve, all killed at shutdown, late ones at once."""
from __future__ import annotations

from fsgate_server.transport.inflight import Inflight


class FakeHelper:
    def __init__(self) -> None:
        self.killed = 0

    def kill(self) -> None:
        self.killed += 1


def test_helpers_are_counted_only_while_tracked() -> None:
    inflight, helper = Inflight(), FakeHelper()
    with inflight.track(helper):
        assert len(inflight) == 1
    assert len(inflight) == 0 and helper.killed == 0


def test_kill_all_kills_every_running_helper() -> None:
    inflight, a, b = Inflight(), FakeHelper(), FakeHelper()
    with inflight.track(a), inflight.track(b):
        assert inflight.kill_all() == 2
    assert a.killed == 1 and b.killed == 1


def test_helper_started_after_shutdown_is_killed_at_once() -> None:
    inflight, late = Inflight(), FakeHelper()
    inflight.kill_all()
    with inflight.track(late):
        assert late.killed == 1
