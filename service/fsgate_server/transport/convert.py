"""Proto <-> plain data: the wire SandboxPolicy as a policy.RequestPolicy, a helper's
FileFacts and Entry (messages.py) as FileInfo and DirEntry (names and link targets that are
not UTF-8 keep their bytes), and a Search match as a Match (its path as lossy UTF-8)."""
from __future__ import annotations

import os
from typing import Any, cast

from fsgate.v1 import fsgate_pb2 as pb
from google.protobuf import timestamp_pb2

from fsgate_server import policy
from fsgate_server.helper.messages import Entry, FileFacts, MatchFacts, WatchEvent

__all__ = ["dir_entry", "file_event", "file_info", "request_policy", "search_match"]


def request_policy(msg: Any) -> policy.RequestPolicy | None:
    if not msg.HasField("sandbox"):
        return None
    s = msg.sandbox
    return policy.RequestPolicy(readable_roots=tuple(s.readable_roots),
                                writable_roots=tuple(s.writable_roots),
                                denied_paths=tuple(s.denied_paths), cwd=s.cwd)


def _utf8(text: str) -> tuple[str, bytes]:
    """A helper's str, which may hold surrogate-escaped bytes (a name or link target that is
    not UTF-8), as (valid UTF-8 for a proto string, the exact bytes or b"" when it was)."""
    if text.isascii():  # nearly every name: no encoding needed to know
        return text, b""
    try:
        text.encode("utf-8")
        return text, b""
    except UnicodeEncodeError:
        raw = os.fsencode(text)
        return raw.decode("utf-8", "replace"), raw


def file_info(f: FileFacts) -> pb.FileInfo:
    # What Timestamp.FromNanoseconds does, without its Python-level setters.
    ts = timestamp_pb2.Timestamp(seconds=f.mtime_ns // 1_000_000_000,
                                 nanos=f.mtime_ns % 1_000_000_000)
    target, raw_target = _utf8(f.symlink_target)
    kind = cast("pb.FileType", int(f.type))  # messages.FileType mirrors it
    return pb.FileInfo(path=_utf8(f.path)[0], type=kind, size=f.size, mode=f.mode,
                       modified_time=ts, version=_utf8(f.version)[0], symlink_target=target,
                       raw_symlink_target=raw_target)


def dir_entry(e: Entry) -> pb.DirEntry:
    name, raw_name = _utf8(e.name)
    return pb.DirEntry(name=name, info=file_info(e.info), raw_name=raw_name)


def search_match(m: MatchFacts) -> pb.Match:
    return pb.Match(path=_utf8(m.path)[0], line_number=m.line_number, line=m.line,
                    line_truncated=m.line_truncated, before=m.before, after=m.after)


def file_event(e: WatchEvent) -> pb.FileEvent:
    """A name that is not UTF-8 travels with U+FFFD for its bad bytes (FileEvent has no raw
    form): the event still says where to look, a ListDir of the directory gives the bytes."""
    kind = cast("pb.FileEventType", int(e.type))  # messages.EventType mirrors it
    return pb.FileEvent(type=kind, path=_utf8(e.path)[0], old_path=_utf8(e.old_path)[0],
                        is_dir=e.is_dir)
