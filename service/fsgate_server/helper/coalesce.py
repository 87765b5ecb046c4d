"""Bursts of changes to one file become one event per short window, without delaying the
first: leading and trailing edge, per (path, kind).

The first MODIFIED (or ATTRIBUTES_CHANGED) of a file goes out at once; more of the same
within WINDOW seconds are held as one, sent when the window closes, which opens the next
window. So a file written 1,000 times in a second yields about 20 MODIFIED, the last one
after the last write: a change is delayed by at most WINDOW, never lost. A CREATED opens
the window too (its first write is usually right behind it). A DELETED drops what was held
for that path; a MOVED carries it to the new path.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import replace

from fsgate_server.helper.messages import EventType, WatchEvent

__all__ = ["WINDOW", "Throttle"]

WINDOW = 0.05  # seconds
COALESCED = (EventType.MODIFIED, EventType.ATTRIBUTES_CHANGED)
_PRUNE_AT = 4096  # entries of ``last`` before the stale ones are dropped

Key = tuple[str, EventType]


class Throttle:
    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._last: dict[Key, float] = {}  # when each key last went out
        self._held: dict[Key, tuple[float, WatchEvent]] = {}  # due time, the event
        self._heap: list[tuple[float, int, Key]] = []  # due times; stale entries skipped
        self._seq = itertools.count()
        self._prune_at = _PRUNE_AT

    def offer(self, event: WatchEvent, now: float) -> WatchEvent | None:
        """The event to send now, or None when it is held for the end of its window."""
        if event.type not in COALESCED:
            self._opened(event, now)
            return event
        key = (event.path, event.type)
        last = self._last.get(key)
        if last is None or now - last >= self.window:
            self._last[key] = now
            self._prune(now)
            return event
        if key not in self._held:
            due = last + self.window
            self._held[key] = (due, event)
            heapq.heappush(self._heap, (due, next(self._seq), key))
        return None

    def _opened(self, event: WatchEvent, now: float) -> None:
        if event.type is EventType.CREATED:
            for kind in COALESCED:
                self._last[(event.path, kind)] = now
            self._prune(now)
        elif event.type is EventType.DELETED:
            self._forget(event.path)
        elif event.type is EventType.MOVED:
            for kind in COALESCED:
                held = self._held.pop((event.old_path, kind), None)
                self._last.pop((event.old_path, kind), None)
                self._last[(event.path, kind)] = now
                if held is not None and (event.path, kind) not in self._held:
                    due, old = held
                    self._held[(event.path, kind)] = (due, replace(old, path=event.path))
                    heapq.heappush(self._heap, (due, next(self._seq), (event.path, kind)))

    def _forget(self, path: str) -> None:
        for kind in COALESCED:
            self._held.pop((path, kind), None)
            self._last.pop((path, kind), None)

    def _prune(self, now: float) -> None:
        """Drop what no window needs any more, once ``_last`` has doubled since the last
        time: it holds about what the last WINDOW saw, and pruning stays O(1) amortized."""
        if len(self._last) >= self._prune_at:
            self._last = {k: t for k, t in self._last.items()
                          if now - t < self.window or k in self._held}
            self._prune_at = max(_PRUNE_AT, 2 * len(self._last))

    def due(self, now: float) -> list[WatchEvent]:
        """The held events whose window has closed, oldest first."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            held = self._held.get(key)
            if held is None or held[0] != due:
                continue  # dropped or carried elsewhere since
            del self._held[key]
            self._last[key] = now
            out.append(held[1])
        return out

    def next_due(self) -> float | None:
        """When the earliest held event is due (monotonic seconds), or None."""
        while self._heap:
            due, _, key = self._heap[0]
            held = self._held.get(key)
            if held is not None and held[0] == due:
                return due
            heapq.heappop(self._heap)
        return None

    def clear(self) -> None:
        """Forget everything (after an overflow: the client rescans anyway)."""
        self._last.clear()
        self._held.clear()
        self._heap.clear()
