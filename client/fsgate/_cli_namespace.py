"""The ``mkdir``, ``rm`` and ``info`` client commands, with the habits of ``mkdir`` and ``rm``:
quiet on success, ``-p`` makes parents and accepts an existing directory, ``-f`` accepts a
missing path (and says nothing about it), ``rm`` refuses a directory without ``-r`` (or
``-d`` for an empty one) and says so. ``--json`` prints the result on stdout, in the form
the Node.js client returns (see :mod:`fsgate._cli_json`): MakeDir a FileInfo, Remove
``{"removed": N}``, GetServerInfo ``{version, backend, landlock_abi, roots: [{path,
writable}], limits: {...}}``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from typing import Any

from fsgate._cli_json import info_json, print_json
from fsgate._cli_run import EXIT_OK, octal_mode, policy_for, report
from fsgate._client import Client
from fsgate._errors import IsADirectory, NotFound
from fsgate._namespace import RemoveResult, ServerInfo
from fsgate._types import FileType
from fsgate.reasons import Reason

__all__ = ["add_commands", "remove_json", "server_info_json"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    """``mkdir``, ``rm`` and ``info``."""
    mkdir = subparsers.add_parser(
        "mkdir", parents=[common], help="create a directory",
        description="Create the directory PATH (exit 5 if something is already there).",
    )
    mkdir.add_argument("path", metavar="PATH")
    mkdir.add_argument("-p", "--parents", action="store_true",
                       help="create missing parents too; an existing directory is no error")
    mkdir.add_argument("-m", "--mode", type=octal_mode, metavar="OCTAL", default=0,
                       help="permission bits of each directory created, set exactly, e.g. "
                       "700 (default: 755)")
    mkdir.add_argument("--json", action="store_true",
                       help="print the directory's FileInfo as JSON")
    mkdir.set_defaults(func=_cmd_mkdir)

    rm = subparsers.add_parser(
        "rm", parents=[common], help="remove a file, a symlink or a directory",
        description="Remove PATH: a file, a symlink (the link, never its target) or, with "
        "-r, a directory and everything below it (checked whole first: an entry that may "
        "not go fails the command with nothing removed).",
    )
    rm.add_argument("path", metavar="PATH")
    rm.add_argument("-r", "-R", "--recursive", action="store_true",
                    help="remove a directory and everything below it")
    rm.add_argument("-d", "--dir", action="store_true",
                    help="remove an empty directory")
    rm.add_argument("-f", "--force", action="store_true",
                    help="a missing PATH is no error, and is not reported")
    rm.add_argument("--if-version", metavar="V", default="",
                    help="remove only if PATH's current version is V (else exit 5)")
    rm.add_argument("-v", "--verbose", action="store_true",
                    help="say on stderr how many entries were removed")
    rm.add_argument("--json", action="store_true", help='print {"removed": N} as JSON')
    rm.set_defaults(func=_cmd_rm)

    info = subparsers.add_parser(
        "info", parents=[common], help="describe the server",
        description="Print the server's version, sandbox backend, Landlock ABI, the roots "
        "this caller may reach and the server's limits.",
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_cmd_info, path="")


# --- JSON ---------------------------------------------------------------------------------
def remove_json(result: RemoveResult) -> dict[str, Any]:
    return {"removed": result.removed}


def server_info_json(info: ServerInfo) -> dict[str, Any]:
    return {
        "version": info.version,
        "backend": info.backend,
        "landlock_abi": info.landlock_abi,
        "roots": [{"path": r.path, "writable": r.writable} for r in info.roots],
        "limits": asdict(info.limits),
    }


# --- commands -----------------------------------------------------------------------------
def _cmd_mkdir(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        info = client.make_dir(args.path, parents=args.parents, exist_ok=args.parents,
                               mode=args.mode, policy=policy_for(args, write=True),
                               timeout=args.timeout)
        if args.json:
            print_json(info_json(info))
        return EXIT_OK

    return report(args, run)


def _cmd_rm(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        policy = policy_for(args, write=True)
        if not (args.recursive or args.dir):
            # rm's habit: a directory needs -r (or -d), even an empty one; the link to one
            # is a link (not followed), removed like a file.
            try:
                found = client.stat(args.path, policy=policy, timeout=args.timeout)
            except NotFound:
                if args.force:
                    return EXIT_OK
                raise
            if found.type is FileType.DIRECTORY:
                raise IsADirectory(
                    f"{found.path}: is a directory; use -r to remove it and everything "
                    "below it (or -d if it is empty)",
                    reason=Reason.IS_A_DIRECTORY, path=found.path)
        result = client.remove(args.path, recursive=args.recursive, missing_ok=args.force,
                               if_version=args.if_version, policy=policy,
                               timeout=args.timeout)
        if args.json:
            print_json(remove_json(result))
        elif args.verbose:
            print(f"removed {args.path} ({result.removed} "
                  f"{'entry' if result.removed == 1 else 'entries'})", file=sys.stderr)
        return EXIT_OK

    return report(args, run)


def _cmd_info(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        info = client.server_info(timeout=args.timeout)
        if args.json:
            print_json(server_info_json(info))
            return EXIT_OK
        print(f"version: {info.version}")
        print(f"backend: {info.backend}")
        print(f"landlock_abi: {info.landlock_abi}")
        for root in info.roots:
            print(f"root: {root.path} ({'read-write' if root.writable else 'read-only'})")
        for key, value in asdict(info.limits).items():
            print(f"{key}: {value}")
        return EXIT_OK

    return report(args, run)
