"""``fsgate mv`` and ``fsgate cp``: Move and Copy from the shell, with the habits of
``mv`` and ``cp`` -- quiet on success, one error line on stderr, the shared exit codes
(5 when the destination exists and ``--overwrite`` was not given) -- except that an
existing destination is never clobbered unless asked (``mv -n`` is the default) and a
directory destination is the new name, never a directory to move into.

``--json`` prints the result on stdout: ``{"info": FileInfo}`` for ``mv``, ``{"info",
"bytes_copied", "entries_copied"}`` for ``cp`` (the Node.js client prints the same).
"""

from __future__ import annotations

import argparse

from fsgate._cli_json import info_json, print_json
from fsgate._cli_run import EXIT_OK, report
from fsgate._client import Client
from fsgate._types import Policy, is_relative

__all__ = ["add_commands"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    """``mv`` and ``cp``."""
    mv = subparsers.add_parser(
        "mv", parents=[common], help="move or rename a file, directory or symlink",
        description="Rename SRC to DST on the server (a symlink moves as the link). An "
        "existing DST fails (exit 5) unless --overwrite; across file systems the server "
        "copies, then removes SRC.",
    )
    _paths(mv)
    mv.add_argument("--overwrite", action="store_true",
                    help="replace an existing DST (a directory only an empty one)")
    mv.add_argument("--parents", action="store_true",
                    help="create missing parent directories of DST")
    mv.add_argument("--json", action="store_true", help="print the result as JSON")
    mv.set_defaults(func=_cmd_mv)

    cp = subparsers.add_parser(
        "cp", parents=[common], help="copy a file, symlink or directory tree on the server",
        description="Copy SRC to DST without the data leaving the server; each copy "
        "appears at DST at once. Symlinks are copied as links. An existing DST fails "
        "(exit 5) unless --overwrite.",
    )
    _paths(cp)
    cp.add_argument("-r", "-R", "--recursive", action="store_true",
                    help="copy a directory and everything below it")
    cp.add_argument("--overwrite", action="store_true",
                    help="replace an existing DST file or symlink (or an empty directory)")
    cp.add_argument("--json", action="store_true", help="print the result as JSON")
    cp.set_defaults(func=_cmd_cp)


def _paths(parser: argparse.ArgumentParser) -> None:
    # dest="path": the shared error reporting (a relative path without --cwd) names SRC.
    parser.add_argument("path", metavar="SRC")
    parser.add_argument("destination", metavar="DST")


def _policy(args: argparse.Namespace) -> Policy | None:
    """As for ``write``: a relative SRC or DST with --cwd DIR writes only inside DIR."""
    if args.cwd is None or not (is_relative(args.path) or is_relative(args.destination)):
        return None
    return Policy(writable_roots=(args.cwd,), cwd=args.cwd)


def _cmd_mv(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        result = client.move(args.path, args.destination, overwrite=args.overwrite,
                             create_parents=args.parents, policy=_policy(args),
                             timeout=args.timeout)
        if args.json:
            print_json({"info": info_json(result.info)})
        return EXIT_OK

    return report(args, run)


def _cmd_cp(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        result = client.copy(args.path, args.destination, recursive=args.recursive,
                             overwrite=args.overwrite, policy=_policy(args),
                             timeout=args.timeout)
        if args.json:
            print_json({"info": info_json(result.info), "bytes_copied": result.bytes_copied,
                        "entries_copied": result.entries_copied})
        return EXIT_OK

    return report(args, run)
