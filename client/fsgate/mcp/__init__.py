"""``fsgate mcp``: the Model Context Protocol in front of a fsgate server.

A drop-in replacement for the reference MCP filesystem server
(``@modelcontextprotocol/server-filesystem``): the same tool names, argument shapes and
success-path texts, but every tool call is one or more fsgate RPCs, each carried out by a
fresh kernel-confined helper. Needs the ``mcp`` extra (``pip install 'fsgate[mcp]'``);
``--root`` also needs the server extra. See docs/mcp.md.

Modules: :mod:`~fsgate.mcp.cli` (the command), :mod:`~fsgate.mcp.launcher` (the private
server of ``--root``), :mod:`~fsgate.mcp.server` (MCPServer, stdio and HTTP),
:mod:`~fsgate.mcp.tools` (registration and annotations), :mod:`~fsgate.mcp.files` /
:mod:`~fsgate.mcp.finding` (what each tool does), :mod:`~fsgate.mcp.formats` (the reference
server's output texts), :mod:`~fsgate.mcp.globs` (its glob dialect), :mod:`~fsgate.mcp.paths`
(relative paths), :mod:`~fsgate.mcp.errors` (tool errors).
"""
