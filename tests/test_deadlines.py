"""The one deadline thread: callbacks run in time order, a cancelled one never runs, one
that raises does not stop the rest, the heap stays bounded, and stop() ends the thread."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import structlog
from fsgate_server.transport.deadlines import COMPACT_AT, Deadlines, Handle

WAIT = 5.0  # seconds any expected event may take on a loaded machine


@pytest.fixture
def deadlines() -> Iterator[Deadlines]:
    scheduler = Deadlines(name="test-deadlines")
    yield scheduler
    scheduler.stop()


def test_callbacks_fire_in_time_order_not_registration_order(deadlines: Deadlines) -> None:
    fired: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    def last() -> None:
        fired.append("last")
        done.set()

    deadlines.call_at(now + 0.15, last)
    deadlines.call_at(now + 0.05, lambda: fired.append("first"))
    deadlines.call_at(now + 0.10, lambda: fired.append("second"))
    assert done.wait(WAIT)
    assert fired == ["first", "second", "last"]


def test_equal_times_fire_first_come_first_served(deadlines: Deadlines) -> None:
    fired: list[int] = []
    done = threading.Event()
    when = time.monotonic() + 0.05
    for i in range(5):
        deadlines.call_at(when, lambda i=i: fired.append(i))  # type: ignore[misc]  # lambda default binds i
    deadlines.call_at(when, done.set)
    assert done.wait(WAIT)
    assert fired == [0, 1, 2, 3, 4]


def test_a_past_deadline_fires_at_once(deadlines: Deadlines) -> None:
    done = threading.Event()
    deadlines.call_at(time.monotonic() - 1, done.set)
    assert done.wait(WAIT)


def test_a_cancelled_callback_never_runs(deadlines: Deadlines) -> None:
    fired: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    handle = deadlines.call_at(now + 0.05, lambda: fired.append("cancelled"))
    deadlines.call_at(now + 0.10, done.set)  # fires after the cancelled one would have
    handle.cancel()
    assert done.wait(WAIT)
    assert fired == [] and handle.cancelled


def test_cancel_after_it_fired_is_harmless(deadlines: Deadlines) -> None:
    done = threading.Event()
    handle = deadlines.call_at(time.monotonic(), done.set)
    assert done.wait(WAIT)
    handle.cancel()
    later = threading.Event()
    deadlines.call_at(time.monotonic(), later.set)
    assert later.wait(WAIT)


def test_a_callback_that_raises_does_not_stop_later_ones(deadlines: Deadlines) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    done = threading.Event()
    now = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        deadlines.call_at(now, broken)
        deadlines.call_at(now + 0.05, done.set)
        assert done.wait(WAIT)
    assert [e["event"] for e in logs] == ["deadline_callback_failed"]
    assert deadlines.thread is not None and deadlines.thread.is_alive()


def test_cancel_waits_for_a_callback_that_is_running(deadlines: Deadlines) -> None:
    # After cancel() returns the guarded thing may be closed: the callback must be done.
    started, release, returned = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(WAIT)

    handle = deadlines.call_at(time.monotonic(), slow)
    assert started.wait(WAIT)

    def cancel() -> None:
        handle.cancel()
        returned.set()

    canceller = threading.Thread(target=cancel)
    canceller.start()
    assert not returned.wait(0.1)
    release.set()
    assert returned.wait(WAIT)
    canceller.join(WAIT)


def test_a_callback_may_cancel_its_own_handle(deadlines: Deadlines) -> None:
    done = threading.Event()
    handles: list[Handle] = []

    def cancel_self() -> None:
        handles[0].cancel()  # must not wait for itself
        done.set()

    handles.append(deadlines.call_at(time.monotonic() + 0.05, cancel_self))
    assert done.wait(WAIT)


def test_an_earlier_deadline_wakes_a_thread_sleeping_until_a_later_one(
        deadlines: Deadlines) -> None:
    deadlines.call_at(time.monotonic() + 60, lambda: None)
    time.sleep(0.05)  # let the thread go to sleep until the far deadline
    done = threading.Event()
    deadlines.call_at(time.monotonic(), done.set)
    assert done.wait(WAIT)


def test_many_deadlines_use_one_thread(deadlines: Deadlines) -> None:
    before = set(threading.enumerate())  # threads other tests left may end meanwhile
    handles = [deadlines.call_at(time.monotonic() + 60, lambda: None) for _ in range(200)]
    assert set(threading.enumerate()) - before == {deadlines.thread}
    for handle in handles:
        handle.cancel()


def test_cancelled_entries_do_not_pile_up(deadlines: Deadlines) -> None:
    live = [deadlines.call_at(time.monotonic() + 60, lambda: None) for _ in range(10)]
    for _ in range(1000):  # short requests, each cancelling a far deadline
        deadlines.call_at(time.monotonic() + 60, lambda: None).cancel()
    assert len(deadlines) < max(COMPACT_AT, 2 * len(live))
    assert not any(h.cancelled for h in live)


def test_stop_ends_the_thread_drops_pending_and_refuses_more() -> None:
    deadlines = Deadlines(name="test-deadlines")
    fired: list[str] = []
    deadlines.call_at(time.monotonic() + 0.2, lambda: fired.append("late"))
    thread = deadlines.thread
    assert thread is not None
    deadlines.stop()
    assert not thread.is_alive() and len(deadlines) == 0
    with pytest.raises(RuntimeError):
        deadlines.call_at(time.monotonic(), lambda: None)
    time.sleep(0.3)  # past when the dropped callback was due
    assert fired == []


def test_a_scheduler_never_used_starts_no_thread() -> None:
    deadlines = Deadlines()
    assert deadlines.thread is None
    deadlines.stop()
