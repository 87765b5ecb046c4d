"""What the reading and writing tools do: each is one or a few fsgate RPCs."""
from __future__ import annotations

import asyncio
import base64
import pathlib

from mcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
)

from fsgate._edit import Edit
from fsgate._errors import FsgateError
from fsgate._types import DirEntry, FileType
from fsgate.mcp import formats
from fsgate.mcp.errors import describe, text_result
from fsgate.mcp.gate import Gate

__all__ = ["copy_file", "create_directory", "edit_file", "get_file_info",
           "list_allowed_directories", "list_directory", "list_directory_with_sizes",
           "move_file", "read_media_file", "read_multiple_files", "read_text_file", "remove",
           "write_file"]


async def _text(gate: Gate, path: str) -> str:
    return (await gate.client.read_file(await gate.path(path))).decode("utf-8", "replace")


async def read_text_file(gate: Gate, path: str, head: int | None,
                         tail: int | None) -> CallToolResult:
    if head and tail:
        raise ValueError("Cannot specify both head and tail parameters simultaneously")
    if tail:  # read backwards from the end by the server: costs what the tail costs
        text = "".join(await gate.client.tail(await gate.path(path), tail))
    elif head:
        text = formats.head_text(await gate.client.read_lines(await gate.path(path), 0, head))
    else:
        text = await _text(gate, path)
    return text_result(text)


async def read_media_file(gate: Gate, path: str) -> CallToolResult:
    target = await gate.path(path)
    data = base64.b64encode(await gate.client.read_file(target)).decode("ascii")
    mime = formats.mime_type(target)
    item: ImageContent | AudioContent | EmbeddedResource
    if mime.startswith("image/"):
        item = ImageContent(type="image", data=data, mime_type=mime)
    elif mime.startswith("audio/"):
        item = AudioContent(type="audio", data=data, mime_type=mime)
    else:
        item = EmbeddedResource(type="resource", resource=BlobResourceContents(
            uri=pathlib.PurePosixPath(target).as_uri(), mime_type=mime, blob=data))
    return CallToolResult(content=[item], structured_content={
        "content": [item.model_dump(mode="json", by_alias=True, exclude_none=True)]})


async def read_multiple_files(gate: Gate, paths: list[str]) -> CallToolResult:
    async def one(path: str) -> str:
        try:
            return f"{path}:\n{await _text(gate, path)}\n"
        except (FsgateError, ValueError, TypeError) as exc:  # per file: the others still run
            return f"{path}: Error - {describe(exc)}"

    return text_result("\n---\n".join(await asyncio.gather(*(one(p) for p in paths))))


async def write_file(gate: Gate, path: str, content: str) -> CallToolResult:
    await gate.client.write_file(await gate.path(path), content.encode("utf-8"))
    return text_result(f"Successfully wrote to {path}")


async def edit_file(gate: Gate, path: str, edits: list[tuple[str, str]],
                    dry_run: bool) -> CallToolResult:
    result = await gate.client.edit_file(
        await gate.path(path), edits=[Edit(old, new) for old, new in edits], dry_run=dry_run)
    return text_result(formats.fenced_diff(result.diff))


async def create_directory(gate: Gate, path: str) -> CallToolResult:
    await gate.client.make_dir(await gate.path(path), parents=True, exist_ok=True)
    return text_result(f"Successfully created directory {path}")


async def _entries(gate: Gate, path: str) -> list[DirEntry]:
    return [entry async for entry in gate.client.list_dir(await gate.path(path))]


async def list_directory(gate: Gate, path: str) -> CallToolResult:
    entries = await _entries(gate, path)
    return text_result(formats.listing_text((e.name, e.info) for e in entries))


async def list_directory_with_sizes(gate: Gate, path: str, sort_by: str) -> CallToolResult:
    base = await gate.path(path)
    entries = await _entries(gate, base)

    async def sized(entry: DirEntry) -> formats.SizedEntry:
        size = entry.info.size
        if entry.info.type is FileType.SYMLINK:  # the reference stats through the link
            try:
                size = (await gate.client.stat(f"{base.rstrip('/')}/{entry.name}",
                                               follow_symlinks=True)).size
            except FsgateError:
                size = 0
        return formats.SizedEntry(entry.name, entry.info.type is FileType.DIRECTORY, size)

    rows = await asyncio.gather(*(sized(e) for e in entries))
    return text_result(formats.sized_listing_text(rows, sort_by))


async def move_file(gate: Gate, source: str, destination: str) -> CallToolResult:
    await gate.client.move(await gate.path(source), await gate.path(destination))
    return text_result(f"Successfully moved {source} to {destination}")


async def copy_file(gate: Gate, source: str, destination: str,
                    recursive: bool) -> CallToolResult:
    done = await gate.client.copy(await gate.path(source), await gate.path(destination),
                                  recursive=recursive)
    return text_result(f"Successfully copied {source} to {destination} "
                       f"({done.entries_copied} entries, {done.bytes_copied} bytes)")


async def remove(gate: Gate, path: str, recursive: bool) -> CallToolResult:
    done = await gate.client.remove(await gate.path(path), recursive=recursive)
    return text_result(f"Successfully removed {path} ({done.removed} entries)")


async def get_file_info(gate: Gate, path: str) -> CallToolResult:
    info = await gate.client.stat(await gate.path(path), follow_symlinks=True)
    return text_result(formats.file_info_text(info))


async def list_allowed_directories(gate: Gate) -> CallToolResult:
    info = await gate.info(fresh=True)
    return text_result(formats.allowed_text(root.path for root in info.roots))
