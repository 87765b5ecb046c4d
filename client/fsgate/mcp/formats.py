"""The reference server's output texts, from fsgate results (no I/O here)."""
from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fsgate._types import FileInfo, FileType

__all__ = ["MIME_TYPES", "SizedEntry", "allowed_text", "fenced_diff", "file_info_text",
           "format_size", "head_text", "listing_text", "mime_type", "sized_listing_text",
           "tree_json"]

#: read_media_file's types, by lower-case extension (as the reference's table).
MIME_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/bmp", ".svg": "image/svg+xml",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".flac": "audio/flac",
}
_UNITS = ("B", "KB", "MB", "GB", "TB")


def mime_type(path: str) -> str:
    return MIME_TYPES.get(posixpath.splitext(path)[1].lower(), "application/octet-stream")


def format_size(size: int) -> str:
    """``0 B``, ``512 B``, ``1.50 KB``... (the reference's formatSize)."""
    if size <= 0:
        return "0 B"
    unit = math.floor(math.log(size) / math.log(1024))
    if unit <= 0:
        return f"{size} B"
    unit = min(unit, len(_UNITS) - 1)
    return f"{size / 1024 ** unit:.2f} {_UNITS[unit]}"


def head_text(lines: Sequence[str]) -> str:
    """The first N lines as the reference's ``head`` gives them: joined by ``\\n``, without
    the last one's line end."""
    text = "".join(lines)
    return text[:-1] if text.endswith("\n") else text


def fenced_diff(diff: str) -> str:
    """``edit_file``'s answer: the diff in a ```diff fence longer than any backtick run in it."""
    ticks = 3
    while "`" * ticks in diff:
        ticks += 1
    fence = "`" * ticks
    if diff and not diff.endswith("\n"):
        diff += "\n"
    return f"{fence}diff\n{diff}{fence}\n\n"


def _is_dir(info: FileInfo) -> bool:
    return info.type is FileType.DIRECTORY  # a symlink is listed as a file, as the reference


def listing_text(entries: Iterable[tuple[str, FileInfo]]) -> str:
    return "\n".join(f"{'[DIR]' if _is_dir(info) else '[FILE]'} {name}"
                     for name, info in entries)


@dataclass(frozen=True)
class SizedEntry:
    """One row of ``list_directory_with_sizes``: ``size`` is the followed target's for a
    symlink (0 when it cannot be reached), as the reference's fs.stat gives it."""

    name: str
    is_dir: bool
    size: int


def sized_listing_text(entries: Sequence[SizedEntry], sort_by: str) -> str:
    if sort_by == "size":
        ordered = sorted(entries, key=lambda e: -e.size)
    else:  # an approximation of localeCompare: case-insensitive first
        ordered = sorted(entries, key=lambda e: (e.name.casefold(), e.name))
    rows = [f"{'[DIR]' if e.is_dir else '[FILE]'} {e.name.ljust(30)} "
            f"{'' if e.is_dir else format_size(e.size).rjust(10)}" for e in ordered]
    files = [e for e in entries if not e.is_dir]
    rows += ["", f"Total: {len(files)} files, {len(entries) - len(files)} directories",
             f"Combined size: {format_size(sum(e.size for e in files))}"]
    return "\n".join(rows)


def tree_json(tree: list[dict[str, Any]]) -> str:
    """JSON.stringify(tree, null, 2)."""
    return json.dumps(tree, indent=2, ensure_ascii=False)


def file_info_text(info: FileInfo) -> str:
    """``get_file_info``: the reference's keys that fsgate knows (no created/accessed
    times), times in ISO 8601 UTC, plus fsgate's ``version``."""
    rows = {
        "size": info.size,
        "modified": info.modified_time.isoformat(),
        "isDirectory": "true" if info.type is FileType.DIRECTORY else "false",
        "isFile": "true" if info.type is FileType.REGULAR else "false",
        "permissions": f"{info.mode & 0o777:03o}",
        "version": info.version,
    }
    return "\n".join(f"{key}: {value}" for key, value in rows.items())


def allowed_text(paths: Iterable[str]) -> str:
    return "Allowed directories:\n" + "\n".join(paths)
