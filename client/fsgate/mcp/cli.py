"""``fsgate mcp``: parse the options, find or start the fsgate server, serve MCP."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import ipaddress
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]

EXIT_USAGE = 2
DEFAULT_TARGET = "127.0.0.1:50051"


class UsageError(Exception):
    """A bad option value, reported as one line and exit status 2."""


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--http {text}: must be HOST:PORT, e.g. 127.0.0.1:8808")
    return host.removeprefix("[").removesuffix("]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fsgate mcp", description=(
            "Serve the Model Context Protocol filesystem tools (the reference server's names "
            "and arguments, plus grep/remove/copy_file) in front of a fsgate server: every "
            "tool call runs in a fresh kernel-confined helper. stdio by default."))
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", metavar="ADDR", help="a running fsgate server: HOST:PORT "
                       f"or unix:PATH (default: $FSGATE_TARGET or {DEFAULT_TARGET})")
    where.add_argument("--root", action="append", metavar="PATH[:ro]", default=[],
                       help="start a private fsgate server for this root (repeatable; "
                       "read-write unless :ro) on a private Unix socket, stopped on exit")
    parser.add_argument("--token-file", metavar="FILE", help="bearer token for --target "
                        "(default: $FSGATE_TOKEN_FILE)")
    parser.add_argument("--sandbox", choices=("auto", "landlock", "bwrap"),
                        help="with --root: the private server's sandbox backend")
    parser.add_argument("--protected-path", action="append", metavar="GLOB", default=[],
                        help="with --root: protected paths of the private server (default: "
                        "fsgate serve's, .git/config and .git/hooks/**)")
    parser.add_argument("--http", metavar="HOST:PORT", help="serve streamable HTTP at "
                        "http://HOST:PORT/mcp instead of stdio (loopback unless "
                        "--auth-token-file)")
    parser.add_argument("--auth-token-file", metavar="FILE", help="with --http: accept only "
                        "requests with Authorization: Bearer <a token of FILE> (one a line)")
    parser.add_argument("--tls-cert", metavar="FILE", help="with --http: serve HTTPS")
    parser.add_argument("--tls-key", metavar="FILE", help="with --http: the key of --tls-cert")
    return parser


def _read_token(path: str | None) -> str | None:
    path = path or os.environ.get("FSGATE_TOKEN_FILE") or None
    if path is None:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--token-file {path}: cannot read it ({exc})") from exc
    if not token:
        raise UsageError(f"--token-file {path}: empty")
    return token


def _http_tokens(args: argparse.Namespace) -> tuple[bytes, ...]:
    if not args.auth_token_file:
        return ()
    try:
        text = Path(args.auth_token_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--auth-token-file {args.auth_token_file}: {exc}") from exc
    tokens = tuple(line.strip().encode() for line in text.splitlines()
                   if line.strip() and not line.strip().startswith("#"))
    if not tokens:
        raise UsageError(f"--auth-token-file {args.auth_token_file}: no token in the file")
    return tokens


def _check(args: argparse.Namespace) -> tuple[str, int] | None:
    if (args.sandbox or args.protected_path) and not args.root:
        raise UsageError("--sandbox and --protected-path configure the private server: "
                         "they need --root")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key: give both or neither")
    if args.http is None:
        if args.auth_token_file or args.tls_cert:
            raise UsageError("--auth-token-file and --tls-cert apply to --http")
        return None
    host, port = parse_host_port(args.http)
    if not _installed("uvicorn"):
        raise UsageError("--http needs uvicorn (the mcp SDK's HTTP runner): "
                         "pip install 'fsgate[mcp]'")
    if not is_loopback(host) and not args.auth_token_file:
        raise UsageError(f"--http {args.http}: refusing a non-loopback address without "
                         "--auth-token-file (anyone who can reach it could use every tool)")
    return host, port


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: a None in sys.modules (blocked)
        return False


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[str]:
    if not args.root:
        yield args.target or os.environ.get("FSGATE_TARGET") or DEFAULT_TARGET
        return
    from fsgate.mcp.launcher import LaunchError, private_server

    if not _installed("fsgate_server"):  # the private server is `python -m fsgate_server`
        raise UsageError("--root needs the server's dependencies (fsgate_server is not "
                         "installed): pip install 'fsgate[mcp,server]'")
    serve_args: list[str] = []
    if args.sandbox:
        serve_args += ["--sandbox", args.sandbox]
    for glob in args.protected_path:
        serve_args += ["--protected-path", glob]
    try:
        with private_server(args.root, serve_args) as target:
            yield target
    except LaunchError as exc:
        raise UsageError(f"--root: {exc}") from exc


async def _run(target: str, token: str | None, http: tuple[str, int] | None,
               args: argparse.Namespace) -> None:
    from fsgate._async_client import AsyncClient
    from fsgate.mcp.gate import Gate
    from fsgate.mcp.paths import root_path
    from fsgate.mcp.server import build, serve_http, serve_stdio

    async with AsyncClient(target, token=token) as client:
        server = build(Gate(client, bases=[root_path(r) for r in args.root]))
        if http is None:
            await serve_stdio(server)
        else:
            await serve_http(server, *http, tokens=_http_tokens(args),
                             tls_cert=args.tls_cert, tls_key=args.tls_key)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        http = _check(args)
        token = _read_token(args.token_file)
        _http_tokens(args)  # a bad file fails now, not at the first request
        with _target(args) as target:
            asyncio.run(_run(target, token, http, args))
    except UsageError as exc:
        print(f"fsgate mcp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: the private server is stopped
        return 130
    return 0
