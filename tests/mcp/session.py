"""What the fsgate mcp tests share: an MCP session (the SDK's own client) in process or
over stdio, and calling a tool for its text."""
from __future__ import annotations

import asyncio
import base64
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fsgate._async_client import AsyncClient
from fsgate.mcp.gate import Gate
from fsgate.mcp.server import build
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from tests.conftest import SRC_PATH, server_env

T = TypeVar("T")
NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
#: A 1x1 PNG, for read_media_file.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYA"
                       "AjCB0C8AAAAASUVORK5CYII=")


@asynccontextmanager
async def in_process(target: str) -> AsyncIterator[Client]:
    """fsgate mcp's MCPServer in this process, in front of the fsgate server at target."""
    async with AsyncClient(target) as fs, Client(build(Gate(fs))) as client:
        yield client


def fsgate_mcp(*args: str) -> StdioServerParameters:
    """``fsgate mcp ARGS`` as a stdio server, run from this source tree."""
    return StdioServerParameters(command=sys.executable,
                                 args=["-c", "import sys; from fsgate._main import main; "
                                       "sys.exit(main())", "mcp", *args],
                                 env=server_env({"PYTHONPATH": SRC_PATH}))


@asynccontextmanager
async def over_stdio(params: StdioServerParameters) -> AsyncIterator[Client]:
    async with Client(params, read_timeout_seconds=60) as client:
        yield client


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), 240))


def text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


async def ok(client: Client, name: str, **args: Any) -> str:
    """The text of a successful call (fails the test on a tool error)."""
    result = await client.call_tool(name, args)
    assert isinstance(result, CallToolResult)
    assert not result.is_error, f"{name}({args}): {text(result)}"
    return text(result)


async def refused(client: Client, name: str, **args: Any) -> str:
    """The text of a tool error (fails the test on a success)."""
    result = await client.call_tool(name, args)
    assert isinstance(result, CallToolResult)
    assert result.is_error, f"{name}({args}) succeeded: {text(result)}"
    return text(result)
