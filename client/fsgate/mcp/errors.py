"""fsgate failures as MCP tool errors: ``isError`` results whose text carries the reason."""
from __future__ import annotations

from collections.abc import Awaitable

from mcp.types import CallToolResult, TextContent

from fsgate._errors import FsgateError

__all__ = ["describe", "failure", "guard", "text_result"]


def describe(exc: BaseException) -> str:
    """``CODE/REASON: message`` for a fsgate error (as ``fsgate`` CLI errors read);
    ``INVALID_ARGUMENT/INVALID_REQUEST: ...`` for arguments the client library refused."""
    if isinstance(exc, FsgateError):
        reason = exc.reason.value if exc.reason is not None else exc.code.name
        return f"{exc.code.name}/{reason}: {exc.message}"
    return f"INVALID_ARGUMENT/INVALID_REQUEST: {exc}"


def failure(exc: BaseException) -> CallToolResult:
    """The tool error an agent sees: the model reads the text and may try something else."""
    return CallToolResult(content=[TextContent(type="text", text=describe(exc))], is_error=True)


def text_result(text: str) -> CallToolResult:
    """A success as the reference server returns it: one text block, and the same text as
    ``structuredContent.content``."""
    return CallToolResult(content=[TextContent(type="text", text=text)],
                          structured_content={"content": text})


async def guard(work: Awaitable[CallToolResult]) -> CallToolResult:
    """Await a tool's work; a fsgate failure or a refused argument becomes a tool error.
    Anything else is a bug and reaches the SDK, which reports it without its text."""
    try:
        return await work
    except (FsgateError, ValueError, TypeError) as exc:
        return failure(exc)
