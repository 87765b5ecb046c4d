"""A long-lived thread that starts sandbox processes.

``PR_SET_PDEATHSIG`` (bwrap's ``--die-with-parent``, the fork server's own death signal)
fires when the *thread* that forked the process exits, not the process. Starting every
fork server and bwrap from one thread that lives as long as the executor keeps that tie
to the server's lifetime, whichever request thread asked for the start.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TypeVar

import structlog

__all__ = ["Launcher"]

log = structlog.get_logger("fsgate.launcher")
T = TypeVar("T")


class Launcher:
    """A thread that runs what it is given, in order, until stopped."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception as exc:  # a job reports its own result; never die here
                log.warning("launcher_job_failed", error=repr(exc))

    def submit(self, job: Callable[[], None]) -> None:
        if self._thread.is_alive():
            self._jobs.put(job)
        else:
            job()

    def call(self, fn: Callable[[], T]) -> T:
        """Run fn on the launcher thread and return (or raise) its result."""
        if threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        result: list[T] = []
        error: list[BaseException] = []

        def job() -> None:
            try:
                result.append(fn())
            except BaseException as exc:
                error.append(exc)
            finally:
                done.set()

        if not self._thread.is_alive():
            raise OSError("the launcher thread has stopped")
        self._jobs.put(job)
        done.wait()
        if error:
            raise error[0]
        return result[0]

    def stop(self) -> None:
        self._jobs.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
