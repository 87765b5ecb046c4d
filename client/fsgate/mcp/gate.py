"""The fsgate server behind the MCP tools: one AsyncClient, and the roots it may reach."""
from __future__ import annotations

from collections.abc import Sequence

from fsgate._async_client import AsyncClient
from fsgate._namespace import ServerInfo
from fsgate.mcp.paths import resolve

__all__ = ["Gate"]


class Gate:
    """What every tool calls through. Tools run on the MCP server's event loop, which is
    the one the AsyncClient binds its channel to on the first call."""

    def __init__(self, client: AsyncClient, bases: Sequence[str] = ()) -> None:
        """``bases``: the roots relative paths are resolved against, in order (``--root``'s
        order); empty: the server's roots as GetServerInfo lists them (sorted by path)."""
        self.client = client
        self.bases = tuple(bases)
        self._info: ServerInfo | None = None

    async def info(self, *, fresh: bool = False) -> ServerInfo:
        """GetServerInfo, kept after the first call (``fresh``: ask again)."""
        if self._info is None or fresh:
            self._info = await self.client.server_info()
        return self._info

    async def path(self, path: str) -> str:
        """A tool's path argument as the request's path: relative ones against the roots."""
        if path.startswith("/"):
            return path
        bases = self.bases or tuple(root.path for root in (await self.info()).roots)
        return resolve(path, bases)
