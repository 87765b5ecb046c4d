"""The ``fsgate`` command: ``serve`` runs the server, the client commands talk to one."""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys

from fsgate import cli as client_cli
from fsgate._cli_run import options_after_command

from fsgate_server import config as config_mod


def _serve(args: argparse.Namespace) -> int:
    from fsgate_server.backends import BackendUnavailable
    from fsgate_server.operability import logs
    from fsgate_server.transport import server

    try:
        cfg = config_mod.load(args)
        if args.print_config:
            print(json.dumps(cfg.describe(), indent=2))
            return 0
        config_mod.validate(cfg)
        logs.configure(cfg.log_format, cfg.log_level)
        running = server.start(cfg)
    except (config_mod.ConfigError, BackendUnavailable) as exc:
        print(f"fsgate serve: {exc}", file=sys.stderr)
        return 2
    server.serve_forever(running, cfg.shutdown_grace)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from fsgate_server.operability import doctor

    return doctor.main(args)


def version() -> str:
    """The installed package's version (the source tree's when run uninstalled)."""
    try:
        return importlib.metadata.version("fsgate")
    except importlib.metadata.PackageNotFoundError:
        from fsgate import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsgate", description="Sandboxed file operations "
                                     "over gRPC.")
    parser.add_argument("--version", action="version", version=f"fsgate {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server", description="Run the server. "
                           "Every option is also read from its FSGATE_* variable and, by its "
                           "name with underscores, from a TOML --config file; precedence is "
                           "flag > environment > file > default.")
    serve.add_argument("--version", action="version", version=f"fsgate {version()}")
    config_mod.add_arguments(serve)
    serve.set_defaults(func=_serve)
    doctor = sub.add_parser("doctor", help="check which sandbox backends work on this host "
                            "(exit status 0 when at least one does)")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--log-level", default="warning",
                        choices=("debug", "info", "warning", "error"),
                        help="level of the trial helpers' log lines, on stderr")
    doctor.set_defaults(func=_doctor)
    from fsgate_server.transport.health import add_health_command  # grpc and the health stubs only

    add_health_command(sub)
    # Listed for --help only: fsgate._main runs `fsgate mcp` (fsgate.mcp.cli) before this.
    sub.add_parser("mcp", help="serve the MCP filesystem tools in front of a fsgate server "
                   "(needs fsgate[mcp]; see `fsgate mcp --help`)")
    client_cli.add_client_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(
        options_after_command(list(sys.argv[1:] if argv is None else argv)))
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
