"""The scripted calls of every tool, success paths and failure paths, that the in-process
and the stdio tests both run against a real fsgate server (tests/conftest.py ``served``:
read-write root ``ws``, read-only ``ro``, and ``outside``/``ws2`` that no root covers)."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import CallToolResult, ImageContent

from tests.helpers import snapshot
from tests.mcp.session import PNG, ok, refused

#: What tools/list must show, with (readOnlyHint, destructiveHint, idempotentHint).
HINTS: dict[str, tuple[bool, bool | None, bool | None]] = {
    "read_text_file": (True, None, None), "read_media_file": (True, None, None),
    "read_multiple_files": (True, None, None), "write_file": (False, True, True),
    "edit_file": (False, True, False), "create_directory": (False, False, True),
    "list_directory": (True, None, None), "list_directory_with_sizes": (True, None, None),
    "directory_tree": (True, None, None), "move_file": (False, True, False),
    "get_file_info": (True, None, None), "list_allowed_directories": (True, None, None),
    "remove": (False, True, True), "copy_file": (False, False, True),
    "search_files": (True, None, None), "grep": (True, None, None),
}


async def lists_tools(client: Client) -> None:
    listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(HINTS) <= set(listed), set(HINTS) - set(listed)
    for name, (read_only, destructive, idempotent) in HINTS.items():
        hints = listed[name].annotations
        assert hints is not None, name
        assert (hints.read_only_hint, hints.open_world_hint) == (read_only, False), name
        if not read_only:
            assert (hints.destructive_hint, hints.idempotent_hint) == (destructive, idempotent)
    edit = listed["edit_file"].input_schema
    assert set(edit["properties"]) == {"path", "edits", "dryRun"}
    assert set(listed["read_text_file"].input_schema["properties"]) == {"path", "head", "tail"}


async def every_tool_succeeds(client: Client, ws: Path) -> None:
    """Every tool on its success path, checked against the tree on disk."""
    w = str(ws)
    assert await ok(client, "write_file", path=f"{w}/a.txt", content="one\ntwo\nthree\n") \
        == f"Successfully wrote to {w}/a.txt"
    assert (ws / "a.txt").read_text() == "one\ntwo\nthree\n"
    assert await ok(client, "read_text_file", path=f"{w}/a.txt") == "one\ntwo\nthree\n"
    assert await ok(client, "read_text_file", path=f"{w}/a.txt", head=2) == "one\ntwo"
    assert await ok(client, "read_text_file", path=f"{w}/a.txt", tail=1) == "three\n"
    both = await ok(client, "read_multiple_files", paths=[f"{w}/a.txt", f"{w}/a.txt"])
    assert both == f"{w}/a.txt:\none\ntwo\nthree\n\n\n---\n{w}/a.txt:\none\ntwo\nthree\n\n"

    preview = await ok(client, "edit_file", path=f"{w}/a.txt", dryRun=True,
                       edits=[{"oldText": "two", "newText": "2"}])
    assert preview.startswith("```diff\n") and "-two\n+2\n" in preview
    assert (ws / "a.txt").read_text() == "one\ntwo\nthree\n"  # a dry run changes nothing
    await ok(client, "edit_file", path=f"{w}/a.txt",
             edits=[{"oldText": "two", "newText": "2"}, {"oldText": "three", "newText": "3"}])
    assert (ws / "a.txt").read_text() == "one\n2\n3\n"

    assert await ok(client, "create_directory", path=f"{w}/d/e") \
        == f"Successfully created directory {w}/d/e"
    assert await ok(client, "create_directory", path=f"{w}/d/e")  # exists: fine
    assert (ws / "d" / "e").is_dir()
    (ws / "d" / "e" / "deep.txt").write_text("deep\n")
    (ws / "node_modules").mkdir()
    (ws / "node_modules" / "x.js").write_text("x")
    (ws / "pic.png").write_bytes(PNG)

    assert sorted((await ok(client, "list_directory", path=w)).splitlines()) == [
        "[DIR] d", "[DIR] node_modules", "[FILE] a.txt", "[FILE] pic.png"]
    sized = (await ok(client, "list_directory_with_sizes", path=w, sortBy="size")).splitlines()
    files = [row for row in sized if row.startswith("[FILE]")]  # directories sort by size too
    assert files[0].startswith("[FILE] pic.png") and files[0].endswith(f"{len(PNG)} B")
    assert files[1].startswith("[FILE] a.txt") and files[1].endswith(" 8 B")
    assert sized[-2:] == ["Total: 2 files, 2 directories", f"Combined size: {len(PNG) + 8} B"]
    tree = json.loads(await ok(client, "directory_tree", path=w,
                               excludePatterns=["node_modules"]))
    assert tree == [{"name": "a.txt", "type": "file"},
                    {"name": "d", "type": "directory", "children": [
                        {"name": "e", "type": "directory", "children": [
                            {"name": "deep.txt", "type": "file"}]}]},
                    {"name": "pic.png", "type": "file"}]

    found = await ok(client, "search_files", path=w, pattern="**/*.txt",
                     excludePatterns=["node_modules"])
    assert found.splitlines() == [f"{w}/a.txt", f"{w}/d/e/deep.txt"]
    assert await ok(client, "search_files", path=w, pattern="*.txt") == f"{w}/a.txt"
    assert await ok(client, "search_files", path=w, pattern="**/*.{js,png}",
                    excludePatterns=["d/**"]) == f"{w}/node_modules/x.js\n{w}/pic.png"
    assert await ok(client, "search_files", path=w, pattern="*.nothing") == "No matches found"
    assert await ok(client, "grep", path=w, pattern="^d[a-z]+p$") == f"{w}/d/e/deep.txt:1:deep"
    assert await ok(client, "grep", path=w, pattern="ONE", ignoreCase=True, contextLines=1) \
        == f"{w}/a.txt:1:one\n{w}/a.txt-2-2"
    assert await ok(client, "grep", path=w, pattern="3", fixedStrings=True, filesOnly=True,
                    include=["*.txt"]) == f"{w}/a.txt"
    assert await ok(client, "grep", path=w, pattern="absent") == "No matches found"

    media = await client.call_tool("read_media_file", {"path": f"{w}/pic.png"})
    assert isinstance(media, CallToolResult) and not media.is_error
    image = media.content[0]
    assert isinstance(image, ImageContent) and image.mime_type == "image/png"
    assert base64.b64decode(image.data) == PNG

    info = dict(line.split(": ", 1)
                for line in (await ok(client, "get_file_info", path=f"{w}/a.txt")).splitlines())
    assert (info["size"], info["isFile"], info["isDirectory"]) == ("8", "true", "false")
    assert info["permissions"] == f"{os.stat(ws / 'a.txt').st_mode & 0o777:03o}"
    allowed = (await ok(client, "list_allowed_directories")).splitlines()
    assert allowed[0] == "Allowed directories:"
    assert any(w.startswith(f"{root}/") for root in allowed[1:]), allowed

    assert await ok(client, "move_file", source=f"{w}/a.txt", destination=f"{w}/b.txt") \
        == f"Successfully moved {w}/a.txt to {w}/b.txt"
    assert not (ws / "a.txt").exists() and (ws / "b.txt").read_text() == "one\n2\n3\n"
    await ok(client, "copy_file", source=f"{w}/b.txt", destination=f"{w}/c.txt")
    assert (ws / "c.txt").read_text() == "one\n2\n3\n"
    await ok(client, "copy_file", source=f"{w}/d", destination=f"{w}/d2", recursive=True)
    assert (ws / "d2" / "e" / "deep.txt").read_text() == "deep\n"
    await ok(client, "remove", path=f"{w}/c.txt")
    await ok(client, "remove", path=f"{w}/d2", recursive=True)
    assert not (ws / "c.txt").exists() and not (ws / "d2").exists()
    # relative paths: against the first root (GetServerInfo sorts them: ro before ws)
    assert await ok(client, "read_text_file", path="readme.txt") == "read only\n"


async def every_failure_is_refused(client: Client, ws: Path, base: Path) -> None:
    """Outside the roots, a symlink out, a prefix sibling, ``..``, the read-only root, a
    protected path, a NO_MATCH edit: each a tool error with the fsgate reason, and the
    trees unchanged."""
    # base: served's base/ws (ws is below it), base/outside, base/ws2, base/ro
    secret, sibling = base / "outside" / "secret.txt", base / "ws2" / "sibling.txt"
    (ws / "f.txt").write_text("keep\n")
    (ws / "out-link").symlink_to(secret)
    (ws / "out-dir").symlink_to(base / "outside")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n")
    before = {d: snapshot(base / d) for d in ("ws", "ro", "outside", "ws2")}
    w = str(ws)

    denied = "PERMISSION_DENIED/"
    escapes: list[tuple[str, dict[str, Any]]] = [
        ("read_text_file", {"path": str(secret)}),
        ("read_text_file", {"path": str(sibling)}),                 # /ws2 is not in /ws
        ("read_text_file", {"path": f"{base}/ws/../outside/secret.txt"}),
        ("read_text_file", {"path": "../outside/secret.txt"}),      # relative, out by ..
        ("read_text_file", {"path": f"{w}/out-link"}),              # a symlink out
        ("read_text_file", {"path": f"{w}/out-dir/secret.txt"}),
        ("read_media_file", {"path": f"{w}/out-link"}),
        ("get_file_info", {"path": f"{w}/out-link"}),
        ("list_directory", {"path": f"{w}/out-dir"}),
        ("directory_tree", {"path": str(base / "outside")}),
        ("write_file", {"path": f"{w}/out-dir/new.txt", "content": "x"}),
        ("write_file", {"path": str(base / "ws2" / "new.txt"), "content": "x"}),
        ("write_file", {"path": str(base / "ro" / "readme.txt"), "content": "x"}),
        ("edit_file", {"path": f"{w}/out-link", "edits": [{"oldText": "top", "newText": "x"}]}),
        ("create_directory", {"path": f"{w}/out-dir/made"}),
        ("move_file", {"source": f"{w}/f.txt", "destination": f"{w}/out-dir/f.txt"}),
        ("move_file", {"source": str(secret), "destination": f"{w}/stolen.txt"}),
        ("copy_file", {"source": str(secret), "destination": f"{w}/stolen.txt"}),
        ("copy_file", {"source": f"{w}/out-link", "destination": str(sibling) + ".copy"}),
        ("remove", {"path": str(secret)}),
        ("remove", {"path": f"{w}/out-dir/secret.txt"}),
        ("search_files", {"path": str(base / "outside"), "pattern": "**"}),
        ("search_files", {"path": f"{w}/out-dir", "pattern": "*"}),
        ("grep", {"path": str(base / "outside"), "pattern": "secret"}),
        ("grep", {"path": f"{w}/out-link", "pattern": "top"}),
    ]
    for name, args in escapes:
        message = await refused(client, name, **args)
        assert message.startswith(denied), (name, args, message)
        assert "top secret" not in message
    many = await ok(client, "read_multiple_files", paths=[f"{w}/f.txt", str(secret)])
    assert many.startswith(f"{w}/f.txt:\nkeep\n") and "top secret" not in many
    assert f"{secret}: Error - {denied}" in many

    protected = "PERMISSION_DENIED/PROTECTED_PATH: "
    writes: list[tuple[str, dict[str, Any]]] = [
        ("write_file", {"path": f"{w}/.git/config", "content": "x"}),
        ("edit_file", {"path": f"{w}/.git/config", "edits": [{"oldText": "core",
                                                               "newText": "x"}]}),
        ("remove", {"path": f"{w}/.git/config"}),
        ("move_file", {"source": f"{w}/.git/config", "destination": f"{w}/config"}),
        ("write_file", {"path": f"{w}/.git/hooks/pre-commit", "content": "x"}),
    ]
    for name, args in writes:
        assert (await refused(client, name, **args)).startswith(protected), (name, args)
    assert await ok(client, "read_text_file", path=f"{w}/.git/config") == "[core]\n"

    no_match = await refused(client, "edit_file", path=f"{w}/f.txt",
                             edits=[{"oldText": "keep", "newText": "k"},
                                    {"oldText": "absent", "newText": "x"}])
    assert no_match.startswith("FAILED_PRECONDITION/NO_MATCH: "), no_match
    assert (await refused(client, "move_file", source=f"{w}/f.txt",
                          destination=f"{w}/.git")).startswith("ALREADY_EXISTS/")
    assert (await refused(client, "read_text_file", path=f"{w}/f.txt", head=1, tail=1)
            ).startswith("INVALID_ARGUMENT/")
    # grep and search_files below the workspace never follow the links out
    assert await ok(client, "grep", path=w, pattern="top secret") == "No matches found"
    assert f"{w}/out-dir/secret.txt" not in await ok(client, "search_files", path=w,
                                                      pattern="**")
    assert (await refused(client, "grep", path=w, pattern="(unclosed")
            ).startswith("INVALID_ARGUMENT/INVALID_PATTERN: ")
    assert (await refused(client, "read_text_file", path=f"{w}/missing")
            ).startswith("NOT_FOUND/NOT_FOUND: ")
    assert {d: snapshot(base / d) for d in before} == before
