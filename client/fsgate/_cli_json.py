"""The JSON the CLI prints (``--json``): one form shared with the Node.js client.

``clients/node`` returns and prints exactly these objects, field for field, so a script
can switch languages without changing how it reads the output:

* FileInfo: ``path``, ``type`` (``"regular"``, ``"directory"``, ``"symlink"``, ``"other"``,
  ``"unspecified"``), ``size`` (bytes), ``mode`` (four octal digits, ``"0644"``),
  ``modified_time`` (UTC, always microseconds: ``"2024-05-06T07:08:09.123456Z"``),
  ``version``, ``symlink_target`` (null unless a symlink).
* a listing entry: ``name``, ``raw_name_base64`` (the name's bytes when they are not
  UTF-8, else null), ``info``.
* a write: ``info``, ``bytes_written``.
* a search match (``grep --json``, one per line): ``path``, ``line_number``, ``line``,
  ``line_truncated``, ``before``, ``after``; the last line ``{"summary": {"files_searched",
  "matches", "truncated"}}``.
* a glob entry (``glob --json``): a listing entry, as above.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from typing import Any

from fsgate._search import Match, SearchSummary
from fsgate._types import DirEntry, FileInfo, WriteResult

__all__ = ["entry_json", "info_json", "match_json", "print_json", "summary_json", "write_json"]


def _timestamp(t: datetime.datetime) -> str:
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def info_json(info: FileInfo) -> dict[str, Any]:
    return {
        "path": info.path,
        "type": info.type.name.lower(),
        "size": info.size,
        "mode": f"{info.mode:04o}",
        "modified_time": _timestamp(info.modified_time),
        "version": info.version,
        "symlink_target": info.symlink_target,
    }


def entry_json(entry: DirEntry) -> dict[str, Any]:
    raw = base64.b64encode(entry.raw_name).decode("ascii") if entry.raw_name else None
    return {"name": entry.name, "raw_name_base64": raw, "info": info_json(entry.info)}


def write_json(result: WriteResult) -> dict[str, Any]:
    return {"info": info_json(result.info), "bytes_written": result.bytes_written}


def match_json(match: Match) -> dict[str, Any]:
    return {"path": match.path, "line_number": match.line_number, "line": match.line,
            "line_truncated": match.line_truncated, "before": list(match.before),
            "after": list(match.after)}


def summary_json(summary: SearchSummary) -> dict[str, Any]:
    return {"summary": {"files_searched": summary.files_searched, "matches": summary.matches,
                        "truncated": summary.truncated}}


def print_json(obj: Any) -> None:
    """One object on one line of stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
