"""The helpers serving a request right now: counted for metrics, killed at shutdown.

A request's handler kills its own helper when it ends; this set exists so that shutdown
can kill every helper still running once the grace period is over, whatever its handler
is blocked on.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Inflight", "Killable"]


class Killable(Protocol):
    def kill(self) -> None: ...


class Inflight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._helpers: set[Killable] = set()
        self._closed = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._helpers)

    @contextmanager
    def track(self, helper: Killable) -> Iterator[None]:
        """Count ``helper`` as running inside the block; one started after
        :meth:`kill_all` is killed at once."""
        with self._lock:
            closed = self._closed
            self._helpers.add(helper)
        if closed:
            helper.kill()
        try:
            yield
        finally:
            with self._lock:
                self._helpers.discard(helper)

    def kill_all(self) -> int:
        """Kill every running helper and any tracked from now on; return how many ran."""
        with self._lock:
            self._closed = True
            helpers = list(self._helpers)
        for helper in helpers:
            helper.kill()
        return len(helpers)
