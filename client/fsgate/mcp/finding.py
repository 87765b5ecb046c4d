"""``directory_tree`` (deep ListDir pages), ``search_files`` (Glob) and ``grep`` (Search)."""
from __future__ import annotations

import posixpath
from typing import Any

from mcp.types import CallToolResult

from fsgate._types import FileType
from fsgate.mcp import formats, globs
from fsgate.mcp.errors import text_result
from fsgate.mcp.gate import Gate

__all__ = ["directory_tree", "grep", "search_files"]


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


def _anchored(pattern: str) -> str:
    """minimatch matches the whole path relative to ``path``: a pattern without ``/``
    names a top-level entry, where Glob's gitignore dialect would match it at any depth."""
    return pattern if "/" in pattern.rstrip("/") or pattern.startswith("**") else f"/{pattern}"


def _dialect(patterns: list[str]) -> list[str]:
    return [_anchored(p) for pattern in patterns for p in globs.braces(pattern)]


async def search_files(gate: Gate, path: str, pattern: str,
                       exclude: list[str]) -> CallToolResult:
    """One Glob: every entry (hidden ones and what .gitignore lists too, as the reference
    finds them), full paths, bytewise order."""
    base = await gate.path(path)
    found = await gate.client.glob(base, _dialect([pattern]), exclude_globs=_dialect(exclude),
                                   include_hidden=True, include_ignored=True)
    lines = [posixpath.join(base, entry.name) for entry in found.entries]
    if found.truncated:
        lines.append(f"(stopped after {len(found.entries)} results: the server's "
                     "--max-matches; narrow the pattern)")
    return text_result("\n".join(lines) if lines else "No matches found")


async def grep(gate: Gate, path: str, pattern: str, *, fixed_strings: bool, ignore_case: bool,
               include: list[str], exclude: list[str], context_lines: int, max_matches: int,
               files_only: bool) -> CallToolResult:
    """One Search: ``PATH:LINE:text`` like ``grep -n`` (context lines ``PATH-LINE-text``),
    or one path a line with ``filesOnly``."""
    results = gate.client.search(
        await gate.path(path), pattern, fixed_strings=fixed_strings, ignore_case=ignore_case,
        include_globs=include, exclude_globs=exclude, context_lines=context_lines,
        max_matches=max_matches, files_only=files_only)
    lines: list[str] = []
    async with results:
        async for match in results:
            if files_only:
                lines.append(match.path)
                continue
            first = match.line_number - len(match.before)
            lines += [f"{match.path}-{first + i}-{text}" for i, text in enumerate(match.before)]
            lines.append(f"{match.path}:{match.line_number}:{match.line}")
            lines += [f"{match.path}-{match.line_number + 1 + i}-{text}"
                      for i, text in enumerate(match.after)]
    summary = results.summary
    if summary is not None and summary.truncated:
        lines.append(f"(stopped after {summary.matches} matches; narrow the search or raise "
                     "maxMatches)")
    return text_result("\n".join(lines) if lines else "No matches found")
