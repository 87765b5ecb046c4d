"""Admission: N slots, a request waits for one no longer than the queue timeout or its own
deadline and then gets BUSY; the helpers running now are counted and killed at shutdown."""
from __future__ import annotations

import time

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import Failure
from fsgate_server.transport.admission import Admission

FAR = 3600.0


class FakeHelper:
    killed = False

    def kill(self) -> None:
        self.killed = True


def test_a_request_beyond_the_slots_waits_the_queue_timeout_then_is_busy() -> None:
    admission = Admission(1, queue_timeout=0.2)
    with admission.slot(time.monotonic() + FAR):
        started = time.monotonic()
        with pytest.raises(Failure) as err, admission.slot(time.monotonic() + FAR, "/ws/f"):
            pass
        waited = time.monotonic() - started
    assert err.value.reason is Reason.BUSY and err.value.path == "/ws/f"
    assert 0.15 <= waited < 2


def test_the_wait_for_a_slot_ends_at_the_request_deadline() -> None:
    admission = Admission(1, queue_timeout=FAR)
    with admission.slot(time.monotonic() + FAR):
        started = time.monotonic()
        with pytest.raises(Failure) as err, admission.slot(time.monotonic() + 0.1):
            pass
        assert time.monotonic() - started < 2
    assert err.value.reason is Reason.BUSY


def test_a_slot_is_given_back_also_when_the_block_raises() -> None:
    admission = Admission(1, queue_timeout=0)
    with pytest.raises(RuntimeError), admission.slot(time.monotonic() + FAR):
        raise RuntimeError("boom")
    with admission.slot(time.monotonic() + FAR):
        pass


def test_running_helpers_are_counted_and_killed_at_shutdown() -> None:
    admission = Admission(2, queue_timeout=0)
    running, later = FakeHelper(), FakeHelper()
    with admission.track(running):
        assert admission.running() == 1
        assert admission.kill_all() == 1
        assert running.killed
        with admission.track(later):  # started after the kill: killed at once
            assert later.killed
    assert admission.running() == 0
