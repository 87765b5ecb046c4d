"""``directory_tree`` (deep ListDir pages), ``search_files`` (Glob) and ``grep`` (Search)."""
from __future__ import annotations

import posixpath
from typing import Any

from mcp.types import CallToolResult

from fsgate._types import FileType
from fsgate.mcp import formats, globs
from fsgate.mcp.errors import text_result
from fsgate.mcp.gate import Gate

__all__ = ["directory_tree"]


async def directory_tree(gate: Gate, path: str, exclude: list[str]) -> CallToolResult:
    """One ListDir walk as deep as the server allows, continued below the directories at
    that depth; an excluded directory is neither shown nor descended (as the reference)."""
    base = await gate.path(path)
    depth = max(1, (await gate.info()).limits.max_list_depth)
    tree: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = {"": tree}
    pending = [""]
    while pending:
        prefix = pending.pop()
        start = posixpath.join(base, prefix) if prefix else base
        async for entry in gate.client.list_dir(start, depth=depth):
            rel = posixpath.join(prefix, entry.name) if prefix else entry.name
            parent = children.get(posixpath.dirname(rel))
            if parent is None or globs.excluded(rel, exclude):  # below an excluded one
                continue
            is_dir = entry.info.type is FileType.DIRECTORY
            node: dict[str, Any] = {"name": posixpath.basename(rel),
                                    "type": "directory" if is_dir else "file"}
            if is_dir:
                node["children"] = children[rel] = []
                if entry.name.count("/") + 1 == depth:  # the listing stopped here
                    pending.append(rel)
            parent.append(node)
    return text_result(formats.tree_json(tree))
