"""One open watch on the server: a thread reads the helper's event batches as they come into
a bounded buffer, from which the gRPC handler takes one item at a time as the client's
flow control lets it send.

Memory stays bounded whatever the event rate and however slowly the client reads: the
buffer holds at most BUFFER_EVENTS events and BUFFER_BYTES of their paths; past that,
events are dropped and counted, and
the client gets one ``overflow`` (with the count) where they would have been, then the
events that fit again. The helper is never blocked by a slow client (the thread always
reads), so it goes on coalescing and reading the kernel's queue; its own overflow (the
kernel's) arrives as an overflow too.
"""
from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import structlog
from fsgate.reasons import Reason

from fsgate_server.backends.channel import HelperCall
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import WatchBatch, WatchEvent, WatchStarted

__all__ = ["BUFFER_BYTES", "BUFFER_EVENTS", "EventBuffer", "Overflow", "WatchStream"]

log = structlog.get_logger("fsgate.watch")

BUFFER_EVENTS = 4096  # at gRPC's pace, well under a second of events
BUFFER_BYTES = 4 << 20  # of paths: 4,096 events of 4 KiB paths would be 16-32 MiB
_EVENT_OVERHEAD = 64  # bytes an event costs beyond its paths, roughly


def _cost(event: WatchEvent) -> int:
    return len(event.path) + len(event.old_path) + _EVENT_OVERHEAD


@dataclass(frozen=True)
class Overflow:
    dropped: int  # events the server dropped; 0: unknown (only the kernel's were lost)


class EventBuffer:
    """Events and overflow marks in order, at most ``capacity`` events; then the end."""

    def __init__(self, capacity: int = BUFFER_EVENTS, capacity_bytes: int = BUFFER_BYTES
                 ) -> None:
        self.capacity = capacity
        self.capacity_bytes = capacity_bytes
        self._cond = threading.Condition()
        self._items: collections.deque[WatchEvent | Overflow] = collections.deque()
        self._events = 0
        self._bytes = 0
        self._end: Failure | None = None

    def put(self, batch: WatchBatch) -> None:
        with self._cond:
            for event in batch.events:
                cost = _cost(event)
                if (self._events >= self.capacity
                        or self._bytes + cost > self.capacity_bytes):
                    self._overflow(1)
                else:
                    self._items.append(event)
                    self._events += 1
                    self._bytes += cost
            if batch.overflow:
                self._overflow(0)
            self._cond.notify_all()

    def _overflow(self, dropped: int) -> None:
        last = self._items[-1] if self._items else None
        if isinstance(last, Overflow):  # one mark for a run of drops
            self._items[-1] = Overflow(last.dropped + dropped)
        else:
            self._items.append(Overflow(dropped))

    def finish(self, why: Failure) -> None:
        """No more will come; after what is queued, ``get`` raises ``why``."""
        with self._cond:
            if self._end is None:
                self._end = why
            self._cond.notify_all()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def get(self, timeout: float, *, stop: threading.Event) -> WatchEvent | Overflow | None:
        """The next item; None after ``timeout`` seconds without one or once ``stop``
        is set (the caller then looks at why)."""
        with self._cond:
            if not self._items and self._end is None and not stop.is_set():
                self._cond.wait(timeout)
            if stop.is_set():
                return None
            if self._items:
                item = self._items.popleft()
                if isinstance(item, WatchEvent):
                    self._events -= 1
                    self._bytes -= _cost(item)
                return item
            if self._end is not None:
                raise self._end
            return None

    def __len__(self) -> int:
        with self._cond:
            return self._events


class WatchStream:
    """The items of one watch, after its ``started``. :meth:`stop` ends it from any thread
    (cancel, deadline, shutdown) with the Failure the handler then raises."""

    def __init__(self, started: WatchStarted, batches: Iterator[WatchBatch], call: HelperCall,
                 capacity: int = BUFFER_EVENTS) -> None:
        self.started = started
        self.call = call
        self.buffer = EventBuffer(capacity)
        self._batches = batches
        self._stopped = threading.Event()
        self._why: Failure | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="fsgate-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        why: Failure
        try:
            for batch in self._batches:
                self.buffer.put(batch)
            why = Failure(Reason.HELPER_FAILED, "the watch ended", self.call.req.path)
        except Failure as exc:
            why = exc
        except Exception as exc:  # a bug of ours: end the watch, say so in the log
            log.exception("watch_reader_failed", path=self.call.req.path)
            why = Failure(Reason.HELPER_FAILED, f"internal error: {exc!r}", self.call.req.path)
        self.buffer.finish(why)

    def stop(self, why: Failure) -> None:
        """End the watch now: ``why`` is what the handler raises (the first one given)."""
        with self._lock:
            if self._why is None:
                self._why = why
        self._stopped.set()
        self.call.end()
        self.buffer.wake()

    def next(self, timeout: float) -> WatchEvent | Overflow | None:
        """The next event or overflow, None after ``timeout`` seconds without one (time
        for a keepalive); raises the Failure that ended the watch."""
        try:
            item = self.buffer.get(timeout, stop=self._stopped)
        except Failure:
            if self._why is not None:  # the broken channel is the stop's doing
                raise self._why from None
            raise
        if self._why is not None:
            raise self._why
        return item

    def close(self) -> None:
        """Kill the helper and wait for the reader: nothing reads its channel after this."""
        self._stopped.set()
        self.call.end()
        self._thread.join(timeout=5)
