"""The tools: the reference server's names, argument shapes and annotations, plus ``grep``,
``remove`` and ``copy_file``. Every call goes through :func:`fsgate.mcp.errors.guard`, so a
fsgate failure is a tool error (``isError``) with ``CODE/REASON: message`` as its text.

(No ``from __future__ import annotations``: the SDK reads these signatures for the input
schemas.)
"""
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from fsgate.mcp import files, finding
from fsgate.mcp.errors import guard
from fsgate.mcp.gate import Gate

__all__ = ["TOOL_NAMES", "register"]

_SANDBOXED = (" Every call runs in a fresh kernel-confined fsgate helper; only works within "
              "allowed directories.")

#: Read-only: touches nothing. Reference values for the reference's tools.
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
#: Replaces a file's content: destructive, and the same call again changes nothing more.
REPLACES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                           open_world_hint=False)
#: Changes or removes existing data; a repeat is not guaranteed to be a no-op.
CHANGES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False,
                          open_world_hint=False)
#: Only adds (never replaces or removes anything); a repeat adds nothing more.
ADDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                       open_world_hint=False)

Tail = Annotated[int | None, Field(description="If provided, returns only the last N lines "
                                                "of the file")]
Head = Annotated[int | None, Field(description="If provided, returns only the first N lines "
                                               "of the file")]
Patterns = Annotated[list[str] | None, Field(description="Glob patterns of paths to leave "
                                                         "out, relative to path")]


class EditOperation(BaseModel):
    oldText: str = Field(description="Text to search for - must match exactly")
    newText: str = Field(description="Text to replace with")


def register(server: MCPServer, gate: Gate) -> None:
    """Add every tool to ``server``, each calling fsgate through ``gate``."""

    @server.tool(title="Read Text File", annotations=READ_ONLY, description=(
        "Read the complete contents of a file from the file system as text. Use the 'head' "
        "parameter to read only the first N lines of a file, or the 'tail' parameter to "
        "read only the last N lines of a file." + _SANDBOXED))
    async def read_text_file(path: str, tail: Tail = None, head: Head = None
                             ) -> CallToolResult:
        return await guard(files.read_text_file(gate, path, head, tail))

    @server.tool(title="Read Media File", annotations=READ_ONLY, description=(
        "Read a file and return it as a base64-encoded content block with its MIME type. "
        "Image and audio files are returned as image/audio content; any other file type is "
        "returned as an embedded resource." + _SANDBOXED))
    async def read_media_file(path: str) -> CallToolResult:
        return await guard(files.read_media_file(gate, path))

    @server.tool(title="Read Multiple Files", annotations=READ_ONLY, description=(
        "Read the contents of multiple files simultaneously. Each file's content is "
        "returned with its path as a reference. Failed reads for individual files won't "
        "stop the entire operation." + _SANDBOXED))
    async def read_multiple_files(
        paths: Annotated[list[str], Field(min_length=1, description=(
            "Array of file paths to read. Each path must be a string pointing to a valid "
            "file within allowed directories."))],
    ) -> CallToolResult:
        return await guard(files.read_multiple_files(gate, paths))

    @server.tool(title="Write File", annotations=REPLACES, description=(
        "Create a new file or completely overwrite an existing file with new content "
        "(atomically: readers see the old content or the new)." + _SANDBOXED))
    async def write_file(path: str, content: str) -> CallToolResult:
        return await guard(files.write_file(gate, path, content))

    @server.tool(title="Edit File", annotations=CHANGES, description=(
        "Make edits to a text file. Each edit replaces an exact text, which must occur "
        "exactly once; edits apply in order, all or none, atomically. Returns a git-style "
        "diff showing the changes made." + _SANDBOXED))
    async def edit_file(
        path: str, edits: list[EditOperation],
        dryRun: Annotated[bool, Field(description=(  # the reference's name
            "Preview changes using git-style diff format"))] = False,
    ) -> CallToolResult:
        pairs = [(e.oldText, e.newText) for e in edits]
        return await guard(files.edit_file(gate, path, pairs, dryRun))

    @server.tool(title="Create Directory", annotations=ADDS, description=(
        "Create a new directory or ensure a directory exists, with any missing parents. "
        "If the directory already exists, this operation will succeed silently." + _SANDBOXED))
    async def create_directory(path: str) -> CallToolResult:
        return await guard(files.create_directory(gate, path))

    @server.tool(title="List Directory", annotations=READ_ONLY, description=(
        "Get a detailed listing of all files and directories in a specified path. Results "
        "clearly distinguish between files and directories with [FILE] and [DIR] "
        "prefixes." + _SANDBOXED))
    async def list_directory(path: str) -> CallToolResult:
        return await guard(files.list_directory(gate, path))

    @server.tool(title="List Directory with Sizes", annotations=READ_ONLY, description=(
        "Get a detailed listing of all files and directories in a specified path, "
        "including sizes, with [FILE] and [DIR] prefixes." + _SANDBOXED))
    async def list_directory_with_sizes(
        path: str,
        sortBy: Annotated[Literal["name", "size"], Field(  # the reference's name
            description="Sort entries by name or size")] = "name",
    ) -> CallToolResult:
        return await guard(files.list_directory_with_sizes(gate, path, sortBy))

    @server.tool(title="Directory Tree", annotations=READ_ONLY, description=(
        "Get a recursive tree view of files and directories as a JSON structure. Each "
        "entry includes 'name', 'type' (file/directory), and 'children' for directories. "
        "The output is formatted with 2-space indentation." + _SANDBOXED))
    async def directory_tree(path: str, excludePatterns: Patterns = None
                             ) -> CallToolResult:
        return await guard(finding.directory_tree(gate, path, excludePatterns or []))

    @server.tool(title="Move File", annotations=CHANGES, description=(
        "Move or rename files and directories. If the destination exists, the operation "
        "will fail (decided atomically by the kernel). Both source and destination must be "
        "within allowed directories." + _SANDBOXED))
    async def move_file(source: str, destination: str) -> CallToolResult:
        return await guard(files.move_file(gate, source, destination))

    @server.tool(title="Search Files", annotations=READ_ONLY, description=(
        "Recursively search for files and directories matching a pattern. The patterns are "
        "glob-style patterns that match paths relative to 'path': use '*.ext' to match "
        "files in that directory, and '**/*.ext' to match files in all subdirectories. "
        "Returns full paths to all matching items." + _SANDBOXED))
    async def search_files(path: str, pattern: str, excludePatterns: Patterns = None
                           ) -> CallToolResult:
        return await guard(finding.search_files(gate, path, pattern, excludePatterns or []))

    @server.tool(title="Grep", annotations=READ_ONLY, description=(
        "Search file contents below 'path' (a directory or a file) for a regular expression "
        "(RE2 syntax), or a literal with fixedStrings. Returns PATH:LINE:text lines, like "
        "grep -n. Hidden files, files .gitignore excludes and binary files are skipped."
        + _SANDBOXED))
    async def grep(
        path: str, pattern: str, fixedStrings: bool = False, ignoreCase: bool = False,
        include: Annotated[list[str] | None, Field(description=(
            "Only files whose path relative to 'path' matches one of these globs"))] = None,
        exclude: Patterns = None,
        contextLines: Annotated[int, Field(ge=0, le=100, description=(
            "Lines of context before and after each match"))] = 0,
        maxMatches: Annotated[int, Field(ge=0, description=(
            "Stop after this many matches (0: the server's default)"))] = 0,
        filesOnly: Annotated[bool, Field(description=(
            "One line per matching file, no lines"))] = False,
    ) -> CallToolResult:
        return await guard(finding.grep(
            gate, path, pattern, fixed_strings=fixedStrings, ignore_case=ignoreCase,
            include=include or [], exclude=exclude or [], context_lines=contextLines,
            max_matches=maxMatches, files_only=filesOnly))

    @server.tool(title="Get File Info", annotations=READ_ONLY, description=(
        "Retrieve metadata about a file or directory: size, last modified time, "
        "permissions, type and fsgate's version token." + _SANDBOXED))
    async def get_file_info(path: str) -> CallToolResult:
        return await guard(files.get_file_info(gate, path))

    @server.tool(title="List Allowed Directories", annotations=READ_ONLY, description=(
        "Returns the list of directories that this server is allowed to access. "
        "Subdirectories within these allowed directories are also accessible."))
    async def list_allowed_directories() -> CallToolResult:
        return await guard(files.list_allowed_directories(gate))

    @server.tool(title="Remove", annotations=ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True,
        open_world_hint=False), description=(
        "Remove a file, a symlink (never its target), or a directory; a non-empty "
        "directory needs recursive, and a recursive remove that meets a protected or "
        "denied entry removes nothing." + _SANDBOXED))
    async def remove(path: str, recursive: bool = False) -> CallToolResult:
        return await guard(files.remove(gate, path, recursive))

    @server.tool(title="Copy File", annotations=ADDS, description=(
        "Copy a file (or, with recursive, a directory tree) on the server; symlinks are "
        "copied as links. Fails if the destination exists." + _SANDBOXED))
    async def copy_file(source: str, destination: str, recursive: bool = False
                        ) -> CallToolResult:
        return await guard(files.copy_file(gate, source, destination, recursive))


#: Every tool's name, as listed.
TOOL_NAMES = ("read_text_file", "read_media_file", "read_multiple_files", "write_file",
              "edit_file", "create_directory", "list_directory", "list_directory_with_sizes",
              "directory_tree", "move_file", "search_files", "grep", "get_file_info",
              "list_allowed_directories", "remove", "copy_file")
