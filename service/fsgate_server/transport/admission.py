"""Admission: at most N helpers at once (a request waits up to --queue-timeout for a slot,
then gets BUSY), at most --max-watches WatchDir streams at once (BUSY at once past it: a
watch lives long, queueing for one makes no sense), and the set of helpers running now (a
gauge, killed at shutdown).

A watch holds a regular slot only while its helper sets the watch up (the walk of the tree,
bounded by the helper timeout), then its own watch slot for its lifetime: an idle watcher
must not keep a slot from the requests the slots exist for, and --max-watches bounds the
watchers themselves."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.transport.inflight import Inflight, Killable

__all__ = ["Admission"]


class Admission:
    def __init__(self, max_concurrent: int, queue_timeout: float, max_watches: int = 64
                 ) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._watch_lock = threading.Lock()
        self._watches = 0
        self._max_watches = max_watches
        self._queue_timeout = queue_timeout
        self._inflight = Inflight()

    @contextmanager
    def slot(self, deadline: float, path: str = "") -> Iterator[None]:
        """Hold one of the N slots inside the block; wait for one no longer than the queue
        timeout or the request's own ``deadline`` (monotonic), else fail BUSY."""
        wait = min(self._queue_timeout, max(deadline - time.monotonic(), 0))
        if not self._slots.acquire(timeout=wait):
            raise Failure(Reason.BUSY, "too many requests in flight; retry later", path)
        try:
            yield
        finally:
            self._slots.release()

    @contextmanager
    def watch(self, path: str = "") -> Iterator[None]:
        """Hold one of the --max-watches watch slots inside the block, or fail BUSY now."""
        with self._watch_lock:
            if self._watches >= self._max_watches:
                raise Failure(Reason.BUSY, f"{self._max_watches} watches are open already "
                              "(--max-watches); retry later", path)
            self._watches += 1
        try:
            yield
        finally:
            with self._watch_lock:
                self._watches -= 1

    def watching(self) -> int:
        """WatchDir streams open now."""
        return self._watches

    def track(self, helper: Killable) -> AbstractContextManager[None]:
        """Count ``helper`` as running inside the block (see :class:`Inflight`)."""
        return self._inflight.track(helper)

    def running(self) -> int:
        """Helpers running now."""
        return len(self._inflight)

    def kill_all(self) -> int:
        """Kill every running helper and any tracked from now on; return how many ran."""
        return self._inflight.kill_all()
