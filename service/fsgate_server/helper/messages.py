"""What the server and a helper say to each other, typed: one frozen message per request
(``*Args``) and per answer, shared by both sides. codec.py turns them into frame payloads.

A request carries what every operation needs (its path, the effective policy) and its own
arguments; ``op`` names it on the wire and ``writes`` says whether the helper is confined
with the writable roots writable. Every answer is a RESULT, except an ERROR's ErrorReport.

    request      answer(s)                              conversation (protocol.py)
    StatArgs     FileFacts                              REQUEST -> RESULT
    ReadArgs     FileFacts, then the bytes              REQUEST -> RESULT DATA* END
    ListArgs     ListPage                               REQUEST -> RESULT
    WriteArgs    WriteDone                              REQUEST -> READY DATA* END READY
                                                                 COMMIT -> RESULT
    SweepArgs    SweepDone                              REQUEST -> RESULT
    WatchArgs    WatchStarted, then WatchBatch*         REQUEST -> RESULT EVENT* [ERROR]
                                                                 (until the server hangs up)

Integers are non-negative and below 2**64 unless a field's metadata says otherwise (the
codec enforces ``min``/``max``): what reaches a proto field always fits it.

Adding an operation: a request/answer pair here (and in REQUESTS), a function in the
helper (dispatched in ops.py), a HelperClient method, and the gRPC handler.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

from fsgate_server.policy import EffectivePolicy

__all__ = ["REQUESTS", "Entry", "ErrorReport", "EventType", "Fact", "FileFacts", "FileType",
           "ListArgs", "ListPage", "ReadArgs", "Request", "StatArgs", "SweepArgs", "SweepDone",
           "WatchArgs", "WatchBatch", "WatchEvent", "WatchStarted", "WriteArgs", "WriteDone"]

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class FileType(enum.IntEnum):
    """The values of the proto's FileType."""

    REGULAR = 1
    DIRECTORY = 2
    SYMLINK = 3
    OTHER = 4


# --- requests -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """The part every request has. Never sent as such: one of its subclasses is."""

    path: str
    policy: EffectivePolicy
    op: ClassVar[str] = ""
    writes: ClassVar[bool] = False  # confined with the writable roots writable
    # The Landlock rights (sandbox/landlock.py RIGHTS) the writable roots get, when
    # ``writes``: only what this operation needs (a move needs no WRITE_FILE, a mkdir no
    # REMOVE_FILE).
    rights: ClassVar[frozenset[str]] = frozenset()
    # Syscalls the seccomp filter denies every other helper that this operation needs
    # (sandbox/seccomp.py DENIED names): only WatchDir has any.
    syscalls: ClassVar[frozenset[str]] = frozenset()

    def namespace_policy(self) -> EffectivePolicy:
        """What the bwrap backend builds this request's mount namespace from (and keys it
        by): its policy, unless the request confines itself further inside a broader
        namespace (WatchArgs)."""
        return self.policy


@dataclass(frozen=True, kw_only=True)
class StatArgs(Request):
    op: ClassVar[str] = "stat"
    follow_symlinks: bool = False


@dataclass(frozen=True, kw_only=True)
class ReadArgs(Request):
    op: ClassVar[str] = "read"
    chunk_size: int = field(metadata={"min": 1})
    max_bytes: int
    offset: int = 0
    length: int = 0  # 0: to the end of the file


@dataclass(frozen=True, kw_only=True)
class ListArgs(Request):
    op: ClassVar[str] = "list"
    depth: int = field(metadata={"min": 1})
    page_size: int = field(metadata={"min": 1})
    max_entries: int
    after: str | None = None  # the page starts after this relative name


@dataclass(frozen=True, kw_only=True)
class WriteArgs(Request):
    op: ClassVar[str] = "write"
    writes: ClassVar[bool] = True
    # the temporary: made, written, linked, renamed over the target (or removed); parents
    rights: ClassVar[frozenset[str]] = frozenset(
        {"write_file", "truncate", "make_reg", "remove_file", "make_dir"})
    max_bytes: int
    create_new: bool = False
    create_parents: bool = False
    if_version: str = ""
    file_mode: int = field(default=0, metadata={"max": 0o777})  # 0: keep or 0o644


@dataclass(frozen=True, kw_only=True)
class SweepArgs(Request):
    """Remove stale temporaries below every writable root (``path`` is "/", unused)."""

    op: ClassVar[str] = "sweep"
    writes: ClassVar[bool] = True
    rights: ClassVar[frozenset[str]] = frozenset({"remove_file"})
    max_entries: int
    max_depth: int = 64


@dataclass(frozen=True, kw_only=True)
class WatchArgs(Request):
    """Watch ``path`` (a directory) until the server hangs up. ``policy`` is narrowed to
    the watched tree: Landlock and the helper's own checks let it read nothing else.
    ``namespace`` is the request's whole effective policy, which a bwrap namespace is
    built from as for its other reads (shared with them; and the watched directory is not
    a mount point there, which would keep its removal from being seen)."""

    op: ClassVar[str] = "watch"
    # inotify, which Landlock does not mediate: the helper adds watches only through
    # descriptors its resolver checked (helper/watch_tree.py).
    syscalls: ClassVar[frozenset[str]] = frozenset({"inotify_init1", "inotify_add_watch"})
    max_dirs: int = field(metadata={"min": 1})
    recursive: bool = False
    include_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = ()
    namespace: EffectivePolicy | None = None

    def namespace_policy(self) -> EffectivePolicy:
        return self.namespace if self.namespace is not None else self.policy


REQUESTS: tuple[type[Request], ...] = (StatArgs, ReadArgs, ListArgs, WriteArgs, SweepArgs,
                                       WatchArgs)


# --- answers --------------------------------------------------------------------------------

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


ANSWERS: tuple[type, ...] = (FileFacts, Entry, ListPage, WriteDone, SweepDone, WatchStarted,
                             WatchEvent, WatchBatch, Fact, ErrorReport)
