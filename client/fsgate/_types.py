"""Value types of the client: results converted from protos, the policy, the timeouts."""

from __future__ import annotations

import datetime
import enum
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Union

from fsgate.v1 import fsgate_pb2

__all__ = [
    "DirEntry",
    "FileInfo",
    "FileType",
    "Policy",
    "StrPath",
    "Timeouts",
    "WriteMode",
    "WriteResult",
    "check_timeout",
    "fspath",
    "is_relative",
]

#: A path argument: a string or an ``os.PathLike[str]``. Bytes are refused: the wire
#: carries UTF-8 strings.
StrPath = Union[str, "os.PathLike[str]"]


def fspath(path: StrPath) -> str:
    """``os.fspath`` restricted to str; never resolved against the local file system.

    The server may be remote, so local ``abspath``/``realpath`` would name the wrong file.
    """
    result = os.fspath(path)
    if not isinstance(result, str):
        raise TypeError(f"fsgate paths are str or os.PathLike[str], not {type(result).__name__}")
    return result


def is_relative(path: str) -> bool:
    """Whether the server would resolve ``path`` against a cwd.

    The server is POSIX whatever the client runs on, so this is ``posixpath`` semantics:
    anything not starting with ``/`` (including the empty string) is relative.
    """
    return not path.startswith("/")


class FileType(enum.IntEnum):
    """Kind of a file system object; values mirror ``fsgate.v1.FileType``."""

    UNSPECIFIED = fsgate_pb2.FILE_TYPE_UNSPECIFIED
    REGULAR = fsgate_pb2.FILE_TYPE_REGULAR
    DIRECTORY = fsgate_pb2.FILE_TYPE_DIRECTORY
    SYMLINK = fsgate_pb2.FILE_TYPE_SYMLINK
    OTHER = fsgate_pb2.FILE_TYPE_OTHER

    @classmethod
    def from_proto(cls, value: int) -> FileType:
        try:
            return cls(value)
        except ValueError:
            # A kind added by a newer server is still "not a file, dir or link" to us.
            return cls.OTHER


class WriteMode(enum.IntEnum):
    """What a write does when the target exists; values mirror ``fsgate.v1.WriteMode``.

    ``WRITE_MODE_UNSPECIFIED`` has no member: on the wire it means REPLACE.
    """

    REPLACE = fsgate_pb2.WRITE_MODE_REPLACE
    """Create the file, or atomically replace an existing regular file."""
    CREATE_NEW = fsgate_pb2.WRITE_MODE_CREATE_NEW
    """Create the file; fail :class:`fsgate.AlreadyExists` if anything is at the path."""


@dataclass(frozen=True)
class FileInfo:
    """One file system object as the server saw it.

    Attributes:
        path: normalized absolute path as the caller named it (not symlink-resolved).
        type: kind of object.
        size: size in bytes (for a symlink: the length of its target).
        mode: permission bits, e.g. ``0o644``.
        modified_time: last content modification, timezone-aware UTC.
        version: opaque token; pass as ``if_version=`` for compare-and-swap writes.
        symlink_target: the link's target verbatim, or None when not a symlink; bytes that
            are not UTF-8 appear as U+FFFD.
        raw_symlink_target: the exact target bytes when the target is not valid UTF-8,
            else None.
    """

    path: str
    type: FileType
    size: int
    mode: int
    modified_time: datetime.datetime
    version: str
    symlink_target: str | None = None
    raw_symlink_target: bytes | None = None

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.FileInfo) -> FileInfo:
        return cls(
            path=msg.path,
            type=FileType.from_proto(msg.type),
            size=msg.size,
            mode=msg.mode,
            modified_time=msg.modified_time.ToDatetime(tzinfo=datetime.UTC),
            version=msg.version,
            symlink_target=msg.symlink_target or None,
            raw_symlink_target=msg.raw_symlink_target or None,
        )


@dataclass(frozen=True)
class DirEntry:
    """One entry of a listing.

    Attributes:
        name: path relative to the listed directory, ``/``-separated; undecodable bytes
            appear as U+FFFD.
        raw_name: the exact name bytes when the name is not valid UTF-8, else None.
        info: lstat of the entry (symlinks are reported, never followed).
    """

    name: str
    raw_name: bytes | None
    info: FileInfo

    @classmethod
    def from_proto(cls, msg: fsgate_pb2.DirEntry) -> DirEntry:
        return cls(name=msg.name, raw_name=msg.raw_name or None,
                   info=FileInfo.from_proto(msg.info))


@dataclass(frozen=True)
class WriteResult:
    """A completed write: the file afterwards, and the bytes written."""

    info: FileInfo
    bytes_written: int


def _path_tuple(name: str, paths: Iterable[StrPath]) -> tuple[str, ...]:
    if isinstance(paths, (str, bytes, os.PathLike)):
        # A lone path would otherwise be iterated character by character.
        raise TypeError(f"Policy.{name} takes a sequence of paths, not a single path")
    return tuple(fspath(p) for p in paths)


@dataclass(frozen=True, init=False)
class Policy:
    """A request's own sandbox policy; it can only narrow what the caller may touch.

    Attributes:
        readable_roots: paths the request may read. Empty: every root the caller may read.
        writable_roots: paths the request may write (and read). Empty: NOTHING is writable
            -- a Policy used for writes must name its writable roots.
        denied_paths: paths neither readable nor writable, even inside the roots above.
        cwd: base for a relative request path and relative entries; absolute, on the
            server's side.

    Paths are ``str`` or ``os.PathLike[str]`` and are sent verbatim: the client never
    resolves them locally, because the server may be remote.

    ``cwd`` is sent only when something is relative (the path or an entry); otherwise the
    server ignores it entirely, so it is dropped and need not even exist. The client never
    fills in its own local ``os.getcwd()``: a relative path sent without a policy cwd is
    sent as-is and the server answers :class:`fsgate.CwdRequired`.
    """

    readable_roots: tuple[str, ...] = field(default=())
    writable_roots: tuple[str, ...] = field(default=())
    denied_paths: tuple[str, ...] = field(default=())
    cwd: str | None = None

    def __init__(
        self,
        readable_roots: Iterable[StrPath] = (),
        writable_roots: Iterable[StrPath] = (),
        denied_paths: Iterable[StrPath] = (),
        cwd: StrPath | None = None,
    ) -> None:
        # Frozen: assign through object.__setattr__, once, after normalizing.
        object.__setattr__(self, "readable_roots", _path_tuple("readable_roots", readable_roots))
        object.__setattr__(self, "writable_roots", _path_tuple("writable_roots", writable_roots))
        object.__setattr__(self, "denied_paths", _path_tuple("denied_paths", denied_paths))
        object.__setattr__(self, "cwd", fspath(cwd) if cwd is not None and cwd != "" else None)

    def needs_cwd(self, path: str) -> bool:
        """Whether the request is cwd-dependent: ``path`` or any entry is relative."""
        entries = (*self.readable_roots, *self.writable_roots, *self.denied_paths)
        return is_relative(path) or any(is_relative(p) for p in entries)

    def to_proto(self, path: StrPath) -> fsgate_pb2.SandboxPolicy:
        """The wire policy for a request on ``path``; ``cwd`` only if it is needed."""
        msg = fsgate_pb2.SandboxPolicy(
            readable_roots=self.readable_roots,
            writable_roots=self.writable_roots,
            denied_paths=self.denied_paths,
        )
        if self.cwd is not None and self.needs_cwd(fspath(path)):
            msg.cwd = self.cwd
        return msg


@dataclass(frozen=True)
class Timeouts:
    """Deadlines of the client, in seconds. Every call has one; none may be None.

    Attributes:
        connect: how long one connection attempt (TCP or unix connect, TLS and HTTP/2
            handshakes) may take before the call fails :class:`fsgate.Unavailable` (5 s).
            Calls do not wait for a server to appear: a refused connection fails the
            attempt at once. ReadFile, ListDir and Stat are then retried up to 4 times
            within about 1.5 s (see ``fsgate._channel``); WriteFile never is.
        call: deadline of each unary call -- Stat, and each ListDir page (30 s).
        transfer: deadline of a whole ReadFile or WriteFile stream, including the time
            the caller takes to consume or produce the data (300 s).

    A per-call ``timeout=`` replaces ``call`` or ``transfer`` for that call. Retries
    happen within the call's deadline, never beyond it.
    """

    connect: float = 5.0
    call: float = 30.0
    transfer: float = 300.0

    def __post_init__(self) -> None:
        for name in ("connect", "call", "transfer"):
            check_timeout(getattr(self, name), f"Timeouts.{name}")


def check_timeout(value: float, name: str = "timeout") -> float:
    """``value`` if it is a positive finite number of seconds, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number of seconds, got {value!r}")
    return float(value)
