"""What the WatchDir tests share: reading a watch up to a sentinel the test creates last.

The server reports events in the order they happened, so once the sentinel's CREATED has
arrived, every earlier change has been reported (or dropped with an overflow): tests wait
on that, never on time."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from fsgate import FileEvent, FileEventType, Watch, WatchOverflow

WatchItem = FileEvent | WatchOverflow


def sentinel(directory: Path) -> Path:
    """Create a fresh, empty file in directory; the last change of a step."""
    path = directory / f"sentinel-{uuid.uuid4().hex[:12]}"
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    return path


def until(watch: Watch | Iterable[WatchItem], last: Path | str, *, limit: int = 1_000_000
          ) -> list[WatchItem]:
    """Items up to and including the CREATED of ``last``. An overflow may have swallowed
    it: after each one, another sentinel beside it is made, and its CREATED ends it too."""
    out: list[WatchItem] = []
    ends = {str(last)}
    for item in watch:
        out.append(item)
        if isinstance(item, WatchOverflow):
            ends.add(str(sentinel(Path(last).parent)))
        elif item.type is FileEventType.CREATED and item.path in ends:
            return out
        if len(out) >= limit:
            break
    raise AssertionError(f"{last} was never reported; got {out[-20:]}")


def step(watch: Watch, directory: Path) -> list[WatchItem]:
    """The items of everything done since the last step, the sentinel's excluded."""
    return until(watch, sentinel(directory))[:-1]


def events(items: Iterable[WatchItem], base: Path) -> list[tuple[str, str, str | None, bool]]:
    """(type, path relative to base, old path relative to base, is_dir) of each event."""
    out = []
    for item in items:
        if isinstance(item, FileEvent):
            old = os.path.relpath(item.old_path, base) if item.old_path else None
            out.append((item.type.name, os.path.relpath(item.path, base), old, item.is_dir))
    return out


def names(items: Iterable[WatchItem]) -> list[str]:
    """Every path (and old path) the items name."""
    out = []
    for item in items:
        if isinstance(item, FileEvent):
            out.append(item.path)
            if item.old_path:
                out.append(item.old_path)
    return out
