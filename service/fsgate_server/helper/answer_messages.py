"""The answers of the helper conversation: what a helper sends back in RESULT and EVENT
frames, and an ERROR's ErrorReport (messages.py has the overview: which request gets which).

Integers are non-negative and below 2**64 unless a field's metadata says otherwise (the
codec enforces ``min``/``max``): what reaches a proto field always fits it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["ANSWERS", "CopyDone", "EditDone", "Entry", "ErrorReport", "EventType", "Fact",
           "FileFacts", "FileType", "GlobDone", "ListPage", "MatchFacts", "MoveDone",
           "RemoveDone", "SearchBatch", "SearchSummary", "SweepDone", "WatchBatch",
           "WatchEvent", "WatchStarted", "WriteDone"]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class FileType(enum.IntEnum):
    """The values of the proto's FileType."""

    REGULAR = 1
    DIRECTORY = 2
    SYMLINK = 3
    OTHER = 4


@dataclass(frozen=True)
class FileFacts:
    """What FileInfo says about one file (names may hold surrogate-escaped bytes)."""

    path: str
    type: FileType
    size: int
    mode: int = field(metadata={"max": 0o7777})
    mtime_ns: int = field(metadata={"min": INT64_MIN, "max": INT64_MAX})
    version: str
    symlink_target: str = ""


@dataclass(frozen=True)
class Entry:
    name: str  # relative to the listed directory
    info: FileFacts


@dataclass(frozen=True)
class ListPage:
    entries: tuple[Entry, ...]
    last: str | None  # the name the next page starts after; None: this is the last page


@dataclass(frozen=True)
class WriteDone:
    info: FileFacts
    bytes_written: int


@dataclass(frozen=True)
class EditDone:
    info: FileFacts  # after the edit; before it with dry_run
    replacements: int
    diff: str
    diff_truncated: bool = False


@dataclass(frozen=True)
class SweepDone:
    removed: int
    scanned: int


class EventType(enum.IntEnum):
    """The values of the proto's FileEventType."""

    CREATED = 1
    MODIFIED = 2
    DELETED = 3
    MOVED = 4
    ATTRIBUTES_CHANGED = 5


@dataclass(frozen=True)
class WatchStarted:
    """Every watch is in place: a change from now on is reported."""

    watched_dirs: int


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    path: str  # absolute, below the request's path as the caller spelled it
    old_path: str = ""  # MOVED only
    is_dir: bool = False


@dataclass(frozen=True)
class WatchBatch:
    """Events in the order they happened; ``overflow``: after them, the kernel dropped some
    (the client should rescan)."""

    events: tuple[WatchEvent, ...]
    overflow: bool = False


@dataclass(frozen=True)
class RemoveDone:
    removed: int  # entries removed, the top one included


@dataclass(frozen=True)
class MoveDone:
    info: FileFacts | None  # lstat of the destination; None: EXDEV, nothing was done
    copied: bool = False  # the move went across file systems: copied, then removed


@dataclass(frozen=True)
class CopyDone:
    info: FileFacts
    bytes_copied: int
    entries_copied: int


@dataclass(frozen=True)
class MatchFacts:
    """One Search match (proto Match); ``path`` may hold surrogate-escaped bytes, the lines
    are already lossy UTF-8 and cut (search.py)."""

    path: str
    line_number: int  # 1-based; 0 with files_only
    line: str = ""
    line_truncated: bool = False
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchSummary:
    files_searched: int
    matches: int
    truncated: bool


@dataclass(frozen=True)
class SearchBatch:
    """Matches in the order found; the last batch of a search carries its summary."""

    matches: tuple[MatchFacts, ...]
    summary: SearchSummary | None = None


@dataclass(frozen=True)
class GlobDone:
    entries: tuple[Entry, ...]  # already in the order asked for
    truncated: bool


@dataclass(frozen=True)
class Fact:
    """One ErrorInfo metadata entry of an error (Failure.metadata)."""

    key: str
    value: str


@dataclass(frozen=True)
class ErrorReport:
    """An ERROR frame: a fsgate.reasons value, a message for the caller, metadata for the
    ErrorInfo (``facts``), and (for a helper failure) a traceback for the server log only."""

    reason: str
    message: str
    detail: str = ""
    facts: tuple[Fact, ...] = ()


ANSWERS: tuple[type, ...] = (FileFacts, Entry, ListPage, WriteDone, EditDone, SweepDone,
                             RemoveDone, MoveDone, CopyDone, MatchFacts, SearchSummary,
                             SearchBatch, GlobDone, WatchStarted, WatchEvent, WatchBatch, Fact,
                             ErrorReport)
