"""The SDK's own MCP client, in process, against fsgate mcp in front of a real fsgate
server (both backends): every tool's success path, every planted escape refused."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import ServerProcess
from tests.mcp import scenario
from tests.mcp.session import in_process, run


def test_tools_are_listed_with_truthful_annotations(served: ServerProcess) -> None:
    async def go() -> None:
        async with in_process(served.target) as client:
            await scenario.lists_tools(client)

    run(go)


def test_every_tool_succeeds_in_process(served: ServerProcess, ws: Path) -> None:
    async def go() -> None:
        async with in_process(served.target) as client:
            await scenario.every_tool_succeeds(client, ws)

    run(go)


def test_escapes_and_protected_paths_are_tool_errors_in_process(served: ServerProcess,
                                                                ws: Path) -> None:
    async def go() -> None:
        async with in_process(served.target) as client:
            await scenario.every_failure_is_refused(client, ws, served.root.parent)

    run(go)
