"""The ``fsgate`` console script: client commands here, server commands from fsgate_server.

A client-only install (``pip install fsgate``) has what ``read``, ``write``, ``ls`` and
``stat`` need (:mod:`fsgate.cli`); ``serve``, ``doctor`` and ``health`` need the server's
dependencies too (``pip install 'fsgate[server]'``). So this module imports
:mod:`fsgate_server` only for those commands (and for the full ``--help``); when the server
extra is missing, they print one line naming it and exit 2, with no traceback.
``python -m fsgate_server`` still runs :func:`fsgate_server.cli.main` directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fsgate import cli as client_cli
from fsgate._cli_run import options_after_command

__all__ = ["CLIENT_COMMANDS", "MCP_COMMAND", "MCP_MODULES", "SERVER_COMMANDS", "SERVER_MODULES",
           "main", "server_hint"]

#: The commands :mod:`fsgate.cli` runs with the client's dependencies alone.
CLIENT_COMMANDS = frozenset({"read", "write", "ls", "stat", "mv", "cp"})
#: The commands that need the server extra, with their one-line help.
SERVER_COMMANDS = {
    "serve": "run the server",
    "doctor": "check which sandbox backends work on this host",
    "health": "probe a server's gRPC health service",
}
#: Top-level modules that only the server extra installs (and the server package itself).
SERVER_MODULES = frozenset({
    "fsgate_server", "structlog", "prometheus_client", "grpc_health", "grpc_reflection",
})

#: ``fsgate mcp`` (client/fsgate/mcp), which needs the ``mcp`` extra: the modules it brings.
MCP_COMMAND = "mcp"
MCP_MODULES = frozenset({"mcp", "mcp_types", "pydantic", "starlette", "uvicorn", "anyio"})

EXIT_USAGE = 2


def _missing_server_module(exc: ModuleNotFoundError) -> str | None:
    """The server-only module whose absence raised ``exc``; None for any other module."""
    name = exc.name or ""
    if name == "fsgate_server":  # not fsgate_server.x: a missing submodule is a bug
        return name
    top = name.split(".")[0]
    return name if top in SERVER_MODULES - {"fsgate_server"} else None


def server_hint(command: str, module: str) -> str:
    """The one line a server command prints when the server extra is not installed."""
    return (f"fsgate {command}: needs the server's dependencies ({module} is not installed); "
            f"install fsgate[server]: pip install 'fsgate[server]'")


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (the top-level parser has no options but --help)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def _client_only(argv: Sequence[str], module: str) -> int:
    """``fsgate`` without the server extra: the client commands, and the server commands
    listed, each saying what to install."""
    parser = argparse.ArgumentParser(prog="fsgate", description="Sandboxed file operations "
                                     "over gRPC (client only: no server extra installed).")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in SERVER_COMMANDS.items():
        subparsers.add_parser(name, help=f"{help_text} (needs fsgate[server])")
    client_cli.add_client_commands(subparsers)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command in SERVER_COMMANDS:  # only reached with no arguments after it
        print(server_hint(args.command, module), file=sys.stderr)
        return EXIT_USAGE
    code: int = args.func(args)
    return code


def _mcp(args: Sequence[str]) -> int:
    """``fsgate mcp``: needs the ``mcp`` extra (and, for ``--root``, the server's)."""
    try:
        from fsgate.mcp import cli as mcp_cli
        from fsgate.mcp import server as mcp_server  # the SDK and its models, up front
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in MCP_MODULES:
            raise
        print(f"fsgate mcp: needs the MCP SDK ({exc.name} is not installed); install "
              "fsgate[mcp]: pip install 'fsgate[mcp]'", file=sys.stderr)
        return EXIT_USAGE
    del mcp_server
    return mcp_cli.main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fsgate ARGV``; returns the exit code."""
    args = options_after_command(list(sys.argv[1:] if argv is None else argv))
    command = _command_of(args)
    if command in CLIENT_COMMANDS:
        return client_cli.main(args)
    if command == MCP_COMMAND:
        return _mcp(args[1:])
    try:
        from fsgate_server import cli as server_cli

        return server_cli.main(args)
    except ModuleNotFoundError as exc:
        module = _missing_server_module(exc)
        if module is None:
            raise
        if command in SERVER_COMMANDS:
            print(server_hint(command, module), file=sys.stderr)
            return EXIT_USAGE
        return _client_only(args, module)
