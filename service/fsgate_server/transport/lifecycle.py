"""Where the server is in its life, shared by whoever starts and stops it (server.py) and
whoever serves calls (the servicer): serving, then draining (refuse new calls), then maybe
aborted (the grace period ran out: nothing commits any more)."""
from __future__ import annotations

import threading

from fsgate.reasons import Reason

from fsgate_server.errors import Failure

__all__ = ["Lifecycle"]


class Lifecycle:
    def __init__(self) -> None:
        self._draining = threading.Event()
        self._aborted = threading.Event()

    def begin_drain(self) -> None:
        """From now on new calls are refused SHUTTING_DOWN; calls in flight go on."""
        self._draining.set()

    def abort(self) -> None:
        """The grace period is over: also refuse every commit still to come."""
        self._draining.set()
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
