"""The MCP server (the official SDK's MCPServer) and its two transports: stdio, and
streamable HTTP (uvicorn) behind an optional bearer-token check."""
from __future__ import annotations

import hmac
import json
from collections.abc import Sequence

from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

from fsgate import __version__
from fsgate.mcp.gate import Gate
from fsgate.mcp.tools import register

__all__ = ["BearerAuth", "build", "serve_http", "serve_stdio"]

INSTRUCTIONS = (
    "File access through fsgate: every tool call is carried out by a fresh helper process "
    "confined by the kernel to the allowed directories (list_allowed_directories). Paths "
    "are absolute, or relative to the first allowed directory they stay inside. Errors "
    "read CODE/REASON: message, e.g. PERMISSION_DENIED/OUTSIDE_POLICY.")


def build(gate: Gate) -> MCPServer:
    server: MCPServer = MCPServer(name="fsgate", version=__version__,
                                  instructions=INSTRUCTIONS, log_level="WARNING")
    register(server, gate)
    return server


async def serve_stdio(server: MCPServer) -> None:
    """Until the client closes stdin. stdout carries only protocol messages."""
    await server.run_stdio_async()


class BearerAuth:
    """An ASGI wrapper: every HTTP request needs ``Authorization: Bearer <token>`` with one
    of ``tokens`` (compared in constant time), else 401 before the MCP app sees it."""

    def __init__(self, app: ASGIApp, tokens: Sequence[bytes]) -> None:
        self.app = app
        self.tokens = tuple(tokens)

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
                return any(hmac.compare_digest(given, t) for t in self.tokens)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": "UNAUTHENTICATED",
                           "message": "missing or wrong bearer token"}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})


async def serve_http(server: MCPServer, host: str, port: int, *,
                     tokens: Sequence[bytes] = (), tls_cert: str | None = None,
                     tls_key: str | None = None) -> None:
    """Streamable HTTP at ``http(s)://HOST:PORT/mcp`` until cancelled. On a loopback host
    the SDK also checks Host/Origin headers (DNS-rebinding protection)."""
    import uvicorn

    app: ASGIApp = server.streamable_http_app(host=host)
    if tokens:
        app = BearerAuth(app, tokens)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key)
    await uvicorn.Server(config).serve()
