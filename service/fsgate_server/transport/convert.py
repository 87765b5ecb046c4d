"""Proto <-> plain data: the wire SandboxPolicy as a policy.RequestPolicy, a helper's file
facts as FileInfo and DirEntry (names and link targets that are not UTF-8 keep their bytes)."""
from __future__ import annotations

import os
from typing import Any

from fsgate.v1 import fsgate_pb2 as pb
from google.protobuf import timestamp_pb2

from fsgate_server import policy

__all__ = ["dir_entry", "file_info", "request_policy"]


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
    try:
        text.encode("utf-8")
        return text, b""
    except UnicodeEncodeError:
        raw = os.fsencode(text)
        return raw.decode("utf-8", "replace"), raw


def file_info(d: dict[str, Any]) -> pb.FileInfo:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(d["mtime_ns"]))
    target, raw_target = _utf8(d.get("symlink_target", ""))
    return pb.FileInfo(path=_utf8(d["path"])[0], type=d["type"], size=d["size"],
                       mode=d["mode"], modified_time=ts, version=d["version"],
                       symlink_target=target, raw_symlink_target=raw_target)


def dir_entry(d: dict[str, Any]) -> pb.DirEntry:
    name, raw_name = _utf8(d["name"])
    return pb.DirEntry(name=name, info=file_info(d["info"]), raw_name=raw_name)
