"""Where the server is in its life, shared by whoever starts and stops it (server.py) and
whoever serves calls (the servicer): serving, then draining (refuse new calls), then maybe
aborted (the grace period ran out: nothing commits any more)."""
from __future__ import annotations

import threading
from collections.abc import Callable

from fsgate.reasons import Reason

from fsgate_server.errors import Failure

__all__ = ["Lifecycle"]


class Lifecycle:
    def __init__(self) -> None:
        self._draining = threading.Event()
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._on_drain: dict[int, Callable[[], None]] = {}
        self._next = 0

    def begin_drain(self) -> None:
        """From now on new calls are refused SHUTTING_DOWN; calls in flight go on, except
        the ones that never end by themselves (watches), told through :meth:`on_drain`."""
        with self._lock:
            self._draining.set()
            callbacks = list(self._on_drain.values())
            self._on_drain.clear()
        for callback in callbacks:
            callback()

    def on_drain(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` (quick: it runs on the thread that stops the server) once the
        drain begins, at once if it has; returns the function that cancels that."""
        with self._lock:
            if not self._draining.is_set():
                key, self._next = self._next, self._next + 1
                self._on_drain[key] = callback
                return lambda: self._forget(key)
        callback()
        return lambda: None

    def _forget(self, key: int) -> None:
        with self._lock:
            self._on_drain.pop(key, None)

    def abort(self) -> None:
        """The grace period is over: also refuse every commit still to come."""
        self.begin_drain()
        self._aborted.set()

    @property
    def is_draining(self) -> bool:
        return self._draining.is_set()

    @property
    def is_aborted(self) -> bool:
        return self._aborted.is_set()

    def wait_drain(self, timeout: float | None = None) -> bool:
        """Block until :meth:`begin_drain` (True) or ``timeout`` seconds pass (False)."""
        return self._draining.wait(timeout)

    def refuse_if_draining(self, path: str = "") -> None:
        if self.is_draining:
            raise Failure(Reason.SHUTTING_DOWN, "the server is shutting down", path)

    def refuse_if_aborted(self, path: str = "") -> None:
        if self.is_aborted:
            raise Failure(Reason.SHUTTING_DOWN,
                          "the server shut down before the write completed", path)
