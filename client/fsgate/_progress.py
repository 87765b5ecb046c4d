"""Progress bars for the CLI's large transfers (tqdm, on stderr).

Shown when asked for (``--progress``), or by default when stderr is a terminal and the
transfer's size is known and at least :data:`PROGRESS_MIN_BYTES`; never mixed into stdout.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO

__all__ = [
    "PROGRESS_MIN_BYTES", "CountingReader", "LocalSource", "file_size", "progress",
    "wants_progress",
]

#: Smallest known size, in bytes, that gets a bar without ``--progress`` (4 MiB).
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


class LocalSource(Protocol):
    """A binary file object with a descriptor: a local file, or stdin."""

    def read(self, size: int = ..., /) -> bytes: ...

    def fileno(self) -> int: ...


def wants_progress(flag: bool | None, stream: TextIO, total: int | None) -> bool:
    """Whether to draw a bar: ``flag`` if given (--progress / --no-progress), else only
    for a known, large size on a terminal."""
    if flag is not None:
        return flag
    if total is None or total < PROGRESS_MIN_BYTES:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def file_size(f: LocalSource) -> int | None:
    """The size of a regular file behind ``f``; None for a pipe, a tty or no descriptor."""
    try:
        st = os.fstat(f.fileno())
    except (OSError, AttributeError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


@contextlib.contextmanager
def progress(
    show: bool, stream: TextIO, total: int | None, label: str
) -> Iterator[Callable[[int], object]]:
    """A callback to report bytes done; draws a tqdm bar on ``stream`` when ``show``."""
    if not show:
        yield lambda _: None
        return
    from tqdm import tqdm  # only the transfers that draw a bar pay for the import

    with tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
              file=stream, dynamic_ncols=True) as bar:
        yield bar.update


class CountingReader:
    """A binary file object that reports every byte read to ``update``."""

    def __init__(self, raw: LocalSource, update: Callable[[int], object]) -> None:
        self._raw = raw
        self._update = update

    def read(self, size: int = -1, /) -> bytes:
        data = self._raw.read(size)
        if data:
            self._update(len(data))
        return data
