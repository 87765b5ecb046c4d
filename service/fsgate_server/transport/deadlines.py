"""One thread that runs every helper deadline, instead of a timer thread per request.

A heap of (when, handle) under one condition variable: :meth:`Deadlines.call_at` pushes,
:meth:`Handle.cancel` marks an entry dead, and the thread sleeps until the earliest live one
is due. Callbacks run on that thread, one at a time, so they must be quick (kill a process,
end a call); one that raises is logged and the thread goes on.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import structlog

__all__ = ["Deadlines", "Handle"]

log = structlog.get_logger("fsgate.deadlines")

# Cancelled entries stay in the heap until they surface; once they are most of it (and it is
# not tiny) the heap is rebuilt, so it holds about as many entries as there are live ones.
COMPACT_AT = 64


class Handle:
    """One scheduled callback; :meth:`cancel` it when what it guards has ended."""

    __slots__ = ("_callback", "_owner", "_queued", "cancelled", "when")

    def __init__(self, owner: Deadlines, when: float, callback: Callable[[], object]) -> None:
        self._owner = owner
        self._callback = callback
        self.when = when
        self.cancelled = False
        self._queued = False  # in the heap: guarded by the owner's condition

    def cancel(self) -> None:
        """The callback will not run after this returns (if it is running now, this waits
        for it to finish, unless called from the callback itself)."""
        self._owner._cancel(self)


class Deadlines:
    """Callbacks at monotonic times, run by one lazily started daemon thread."""

    def __init__(self, name: str = "fsgate-deadlines",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._name = name
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Handle]] = []
        self._seq = itertools.count()  # breaks ties between equal times, first come first
        self._cancelled = 0
        self._running: Handle | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __len__(self) -> int:
        """Entries held, cancelled ones not yet dropped included (a bound, not a count)."""
        with self._cond:
            return len(self._heap)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def call_at(self, when: float, callback: Callable[[], object]) -> Handle:
        """Run ``callback`` on the scheduler thread once ``clock()`` reaches ``when``."""
        handle = Handle(self, when, callback)
        with self._cond:
            if self._stopped:
                raise RuntimeError("the deadline scheduler has stopped")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (when, next(self._seq), handle))
            handle._queued = True
            if earliest is None or when < earliest:
                self._cond.notify_all()  # the thread sleeps until the old earliest: wake it
        return handle

    def stop(self, timeout: float | None = 5.0) -> None:
        """Drop every pending callback and end the thread; later :meth:`call_at` raises."""
        with self._cond:
            self._stopped = True
            for _when, _seq, handle in self._heap:
                handle.cancelled, handle._queued = True, False
            self._heap.clear()
            self._cancelled = 0
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _cancel(self, handle: Handle) -> None:
        with self._cond:
            if not handle.cancelled:
                handle.cancelled = True
                if handle._queued:
                    self._cancelled += 1
                    self._compact()
            while (self._running is handle
                   and threading.current_thread() is not self._thread):
                self._cond.wait()

    def _compact(self) -> None:
        """Drop cancelled entries once they are over half of a heap of some size."""
        if len(self._heap) >= COMPACT_AT and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def _next_due(self) -> Handle | None:
        """Wait for the earliest live entry to be due and take it; None once stopped."""
        with self._cond:
            self._running = None
            self._cond.notify_all()  # a cancel() may wait for the callback that just ran
            while not self._stopped:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)[2]._queued = False
                    self._cancelled -= 1
                if not self._heap:
                    self._cond.wait()
                    continue
                wait = self._heap[0][0] - self._clock()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                _when, _seq, handle = heapq.heappop(self._heap)
                handle._queued = False
                self._running = handle
                return handle
            return None

    def _run(self) -> None:
        while (handle := self._next_due()) is not None:
            try:
                handle._callback()
            except Exception:  # one bad callback must not end every later deadline
                log.exception("deadline_callback_failed")
