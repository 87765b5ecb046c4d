"""Lifecycle: serving, then draining (new calls refused SHUTTING_DOWN), then maybe aborted
(commits refused too)."""
from __future__ import annotations

import threading

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import Failure
from fsgate_server.transport.lifecycle import Lifecycle


def test_serving_refuses_nothing() -> None:
    lifecycle = Lifecycle()
    lifecycle.refuse_if_draining("/ws/f")
    lifecycle.refuse_if_aborted("/ws/f")
    assert not lifecycle.is_draining and not lifecycle.is_aborted


def test_draining_refuses_new_calls_but_not_commits() -> None:
    lifecycle = Lifecycle()
    lifecycle.begin_drain()
    with pytest.raises(Failure) as err:
        lifecycle.refuse_if_draining("/ws/f")
    assert err.value.reason is Reason.SHUTTING_DOWN and err.value.path == "/ws/f"
    lifecycle.refuse_if_aborted("/ws/f")  # a call in flight may still commit


def test_aborted_refuses_commits_and_is_draining() -> None:
    lifecycle = Lifecycle()
    lifecycle.abort()
    assert lifecycle.is_draining
    with pytest.raises(Failure) as err:
        lifecycle.refuse_if_aborted("/ws/f")
    assert err.value.reason is Reason.SHUTTING_DOWN


def test_wait_drain_returns_when_another_thread_drains() -> None:
    lifecycle = Lifecycle()
    assert not lifecycle.wait_drain(0.01)
    threading.Timer(0.05, lifecycle.begin_drain).start()
    assert lifecycle.wait_drain(5)
