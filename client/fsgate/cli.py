"""The client subcommands of the ``fsgate`` command: read, write, ls, stat (here) and each
family's (``COMMAND_FAMILIES``: edit is :mod:`fsgate._cli_edit`).

``fsgate_server.cli`` builds the full ``fsgate`` parser and calls
:func:`add_client_commands`; :func:`main` here builds a parser with only these commands.

``read`` and ``write`` draw a progress bar on stderr for large transfers on a terminal
(``--progress`` / ``--no-progress`` to choose).

Exit codes (see :data:`EXIT_CODES`): 0 ok, 2 usage or invalid argument, 3 not found,
4 permission denied or unauthenticated, 5 already exists or version mismatch, 1 anything
else. Errors go to stderr as ``fsgate: <CODE>/<REASON>: <message>`` (``fsgate: <CODE>:
<message>`` when the server sent no reason, e.g. nothing listens at the target); local file
errors as ``fsgate: LOCAL/<REASON>: <file>: <what>`` (see :mod:`fsgate._cli_local`).

stdout carries only content (``read``), listings (``ls``, ``stat``) or JSON (``--json``);
``write`` without ``--json`` reports its result on stderr. A reader that goes away
(``fsgate read f | head``) is a normal end: exit 0, quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from fsgate import _cli_namespace, _cli_search, _cli_watch
from fsgate._cli_edit import add_commands as add_edit_commands
from fsgate._cli_edit import add_line_options, open_window
from fsgate._cli_json import entry_json, info_json, print_json, write_json
from fsgate._cli_local import open_input, open_output
from fsgate._cli_run import (
    DEFAULT_TARGET,
    EXIT_CODES,
    EXIT_OK,
    EXIT_USAGE,
    common_options,
    exit_code_for,
    octal_mode,
    options_after_command,
    policy_for,
    positive_int,
    progress_option,
    report,
)
from fsgate._cli_transfer import add_commands as add_transfer_commands
from fsgate._client import Client
from fsgate._progress import CountingReader, file_size, progress, wants_progress
from fsgate._types import FileType, WriteMode

__all__ = ["DEFAULT_TARGET", "EXIT_CODES", "add_client_commands", "exit_code_for", "main"]

def add_client_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register every client command; each sets ``func(args) -> int``."""
    common = common_options()
    for family in COMMAND_FAMILIES:
        family(subparsers, common)


def _add_file_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                       common: argparse.ArgumentParser) -> None:
    """``read``, ``write``, ``ls`` and ``stat``."""

    read = subparsers.add_parser(
        "read", parents=[common], help="print a file's content",
        description="Stream a regular file to stdout or to OUT.",
    )
    read.add_argument("path", metavar="PATH")
    read.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    add_line_options(read)
    progress_option(read)
    read.set_defaults(func=_cmd_read)

    write = subparsers.add_parser(
        "write", parents=[common], help="create or atomically replace a file",
        description="Write SRC (default: stdin) to PATH; PATH changes only if all of it "
        "arrives.",
    )
    write.add_argument("path", metavar="PATH")
    write.add_argument("source", metavar="SRC", nargs="?", default="-",
                       help="local file to send, or - for stdin (default)")
    write.add_argument("--create-new", action="store_true",
                       help="fail (exit 5) if anything exists at PATH")
    write.add_argument("--parents", action="store_true",
                       help="create missing parent directories")
    write.add_argument("--if-version", metavar="V", default="",
                       help="replace only if PATH's current version is V (else exit 5)")
    write.add_argument("--mode", type=octal_mode, metavar="OCTAL", default=0,
                       help="permission bits, e.g. 644 (default: 644 new, kept on replace)")
    write.add_argument("--json", action="store_true", help="print the result as JSON")
    progress_option(write)
    write.set_defaults(func=_cmd_write)

    ls = subparsers.add_parser(
        "ls", parents=[common], help="list a directory",
        description="List a directory's entries, sorted bytewise by relative path.",
    )
    ls.add_argument("path", metavar="PATH")
    ls.add_argument("--depth", type=positive_int, default=1, metavar="N",
                    help="1 = direct children (default), more descends")
    ls.add_argument("--json", action="store_true",
                    help="one JSON object per entry and line (JSON Lines)")
    ls.set_defaults(func=_cmd_ls)

    stat = subparsers.add_parser(
        "stat", parents=[common], help="describe a path",
        description="Print a path's type, size, mode, modification time and version.",
    )
    stat.add_argument("path", metavar="PATH")
    stat.add_argument("--follow", action="store_true",
                      help="describe a symlink's target instead of the link")
    stat.add_argument("--json", action="store_true", help="print one JSON object")
    stat.set_defaults(func=_cmd_stat)



#: Each family registers its commands: ``family(subparsers, common)``. New command
#: families (``_cli_*.py``) add their ``add_commands`` here.
COMMAND_FAMILIES: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser],
                                  argparse.ArgumentParser], None], ...] = (
    _add_file_commands,
    _cli_namespace.add_commands,
    add_transfer_commands,
    add_edit_commands,
    _cli_search.add_commands,
    _cli_watch.add_commands,
)


def main(argv: Sequence[str] | None = None) -> int:
    """``fsgate`` with only the client commands; returns the exit code."""
    parser = argparse.ArgumentParser(prog="fsgate", description="fsgate client")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_client_commands(subparsers)
    try:
        args = parser.parse_args(options_after_command(
            list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    result: int = args.func(args)
    return result


# --- commands -----------------------------------------------------------------------------
def _cmd_read(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        _, chunks, total = open_window(client, args)  # the file, or --lines / --tail
        show = wants_progress(args.progress, sys.stderr, total)
        # The output is opened only once the file is known to be readable, so a failed
        # read leaves no empty OUT behind.
        with open_output(args.output) as out, \
                progress(show, sys.stderr, total, _label(args.path)) as update:
            for chunk in chunks:
                out.write(chunk)
                update(len(chunk))
        return EXIT_OK

    return report(args, run)


def _label(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _cmd_write(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        mode = WriteMode.CREATE_NEW if args.create_new else WriteMode.REPLACE
        with open_input(args.source) as source:
            total = file_size(source)
            show = wants_progress(args.progress, sys.stderr, total)
            with progress(show, sys.stderr, total, _label(args.path)) as update:
                result = client.write_file(
                    args.path, CountingReader(source, update), mode=mode,
                    create_parents=args.parents, if_version=args.if_version,
                    file_mode=args.mode, policy=policy_for(args, write=True),
                    timeout=args.timeout,
                )
        if args.json:
            print_json(write_json(result))
        else:  # stdout stays for content and JSON
            print(f"{result.bytes_written} bytes written to {result.info.path} "
                  f"(version {result.info.version})", file=sys.stderr)
        return EXIT_OK

    return report(args, run)


def _cmd_ls(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        entries = client.list_dir(
            args.path, depth=args.depth, policy=policy_for(args), timeout=args.timeout
        )
        if args.json:
            for entry in entries:
                print_json(entry_json(entry))
            return EXIT_OK
        # Bytes, so a non-UTF-8 name prints exactly as it is on disk.
        out = sys.stdout.buffer
        sys.stdout.flush()
        for entry in entries:
            name = entry.raw_name if entry.raw_name is not None else entry.name.encode()
            if entry.info.type is FileType.DIRECTORY:
                name += b"/"
            elif entry.info.symlink_target is not None:
                name += b" -> " + os.fsencode(entry.info.symlink_target)
            out.write(name + b"\n")
        out.flush()
        return EXIT_OK

    return report(args, run)


def _cmd_stat(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        info = client.stat(
            args.path, follow_symlinks=args.follow, policy=policy_for(args), timeout=args.timeout
        )
        fields = info_json(info)
        if args.json:
            print_json(fields)
        else:
            for key, value in fields.items():
                if value is not None:
                    print(f"{key}: {value}")
        return EXIT_OK

    return report(args, run)


if __name__ == "__main__":  # python -m fsgate.cli
    sys.exit(main())
