"""The client subcommands of the ``fsgate`` command: read, write, ls, stat.

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
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from fsgate._cli_json import entry_json, info_json, print_json, write_json
from fsgate._cli_local import local_error, open_input, open_output
from fsgate._client import DEFAULT_TIMEOUTS, Client
from fsgate._errors import (
    AlreadyExists,
    FsgateError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    VersionMismatch,
)
from fsgate._progress import (
    PROGRESS_MIN_BYTES,
    CountingReader,
    file_size,
    progress,
    wants_progress,
)
from fsgate._types import (
    FileType,
    Policy,
    Timeouts,
    WriteMode,
    is_relative,
)
from fsgate.reasons import Reason

__all__ = ["DEFAULT_TARGET", "EXIT_CODES", "add_client_commands", "exit_code_for", "main"]

DEFAULT_TARGET = "127.0.0.1:50051"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_DENIED = 4
EXIT_CONFLICT = 5

#: Exit code per exception class, first match wins; any other error exits EXIT_ERROR.
#: Local file errors (the -o file, the write source) use the same categories.
EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidArgument, EXIT_USAGE),
    (NotFound, EXIT_NOT_FOUND),
    (PermissionDenied, EXIT_DENIED),
    (Unauthenticated, EXIT_DENIED),
    (AlreadyExists, EXIT_CONFLICT),
    (VersionMismatch, EXIT_CONFLICT),
    (FileNotFoundError, EXIT_NOT_FOUND),
    (PermissionError, EXIT_DENIED),
    (FileExistsError, EXIT_CONFLICT),
)


def exit_code_for(error: BaseException) -> int:
    """The process exit code for an error (see :data:`EXIT_CODES`)."""
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR


class _UsageError(Exception):
    """A bad option value found after parsing (e.g. an unreadable token file)."""


# --- argument types -----------------------------------------------------------------------
def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _octal_mode(text: str) -> int:
    try:
        value = int(text.removeprefix("0o"), 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= value <= 0o7777:
        raise argparse.ArgumentTypeError(f"mode out of range: {text!r}")
    return value


# --- parser -------------------------------------------------------------------------------
def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--target",
        metavar="ADDR",
        help=f"server address, HOST:PORT or unix:PATH "
        f"(default: $FSGATE_TARGET or {DEFAULT_TARGET})",
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="file holding the bearer token (default: $FSGATE_TOKEN_FILE; none if unset)",
    )
    group.add_argument(
        "--cwd",
        metavar="DIR",
        help="server-side absolute base for a relative PATH; sent only when PATH is "
        "relative (the local cwd is never sent). A relative write is confined to DIR.",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="deadline of the call, and the most to wait to connect "
        "(default: 30 for ls/stat pages, 300 for read/write; 5 to connect)",
    )
    return common


def _progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help=f"draw a progress bar on stderr (default: only on a terminal, for transfers of "
        f"a known size of at least {PROGRESS_MIN_BYTES >> 20} MiB)",
    )


def add_client_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``read``, ``write``, ``ls`` and ``stat``; each sets ``func(args) -> int``."""
    common = _common_options()

    read = subparsers.add_parser(
        "read", parents=[common], help="print a file's content",
        description="Stream a regular file to stdout or to OUT.",
    )
    read.add_argument("path", metavar="PATH")
    read.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    _progress_option(read)
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
    write.add_argument("--mode", type=_octal_mode, metavar="OCTAL", default=0,
                       help="permission bits, e.g. 644 (default: 644 new, kept on replace)")
    write.add_argument("--json", action="store_true", help="print the result as JSON")
    _progress_option(write)
    write.set_defaults(func=_cmd_write)

    ls = subparsers.add_parser(
        "ls", parents=[common], help="list a directory",
        description="List a directory's entries, sorted bytewise by relative path.",
    )
    ls.add_argument("path", metavar="PATH")
    ls.add_argument("--depth", type=_positive_int, default=1, metavar="N",
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


def main(argv: Sequence[str] | None = None) -> int:
    """``fsgate`` with only the client commands; returns the exit code."""
    parser = argparse.ArgumentParser(prog="fsgate", description="fsgate client")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_client_commands(subparsers)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    result: int = args.func(args)
    return result


# --- running a command --------------------------------------------------------------------
def _error_label(error: FsgateError) -> str:
    if error.reason is None:
        return error.code.name
    return f"{error.code.name}/{error.reason.value}"


def _error_message(args: argparse.Namespace, error: FsgateError) -> str:
    """The server's message, or a hint in the CLI's own terms where the server names a
    wire field the user never typed."""
    if error.reason is not Reason.CWD_REQUIRED:
        return error.message
    if is_relative(args.path):
        return (f"relative PATH {args.path!r} needs --cwd DIR, the server-side directory "
                f"it is relative to (the local working directory is never sent)")
    return f"{error.message} (pass --cwd DIR)"


def _report(args: argparse.Namespace, run: Callable[[Client], int]) -> int:
    """Run ``run(client)`` with a connected Client; map every error to an exit code."""
    try:
        with _connect(args) as client:
            return run(client)
    except FsgateError as exc:
        print(f"fsgate: {_error_label(exc)}: {_error_message(args, exc)}", file=sys.stderr)
        return exit_code_for(exc)
    except _UsageError as exc:
        print(f"fsgate: LOCAL/INVALID_ARGUMENT: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (`fsgate read f | head`): a normal end, like `cat`. No
        # traceback, and no second error when the interpreter flushes stdout at exit.
        _silence_stdout()
        return EXIT_OK
    except OSError as exc:  # the local side: the -o file, the write source
        line, code = local_error(exc)
        print(line, file=sys.stderr)
        return code
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _read_token(args: argparse.Namespace) -> str | None:
    token_file = args.token_file or os.environ.get("FSGATE_TOKEN_FILE") or None
    if token_file is None:
        return None
    try:
        with open(token_file, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as exc:
        raise _UsageError(f"cannot read token file {token_file}: "
                          f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise _UsageError(f"token file {token_file} is not UTF-8 text") from exc
    if not token:
        raise _UsageError(f"token file {token_file} is empty")
    return token


@contextlib.contextmanager
def _connect(args: argparse.Namespace) -> Iterator[Client]:
    target = args.target or os.environ.get("FSGATE_TARGET") or DEFAULT_TARGET
    token = _read_token(args)
    timeouts = DEFAULT_TIMEOUTS
    if args.timeout is not None:  # --timeout also bounds the wait to connect
        timeouts = Timeouts(connect=min(timeouts.connect, args.timeout))
    try:
        client = Client(target, token=token, timeouts=timeouts)
    except ValueError as exc:  # a token with whitespace inside, an empty target
        raise _UsageError(str(exc)) from exc
    with client:
        yield client


def _policy(args: argparse.Namespace, *, write: bool = False) -> Policy | None:
    """The request policy: only when PATH is relative and --cwd was given.

    Any policy with an empty writable_roots makes nothing writable, so a relative write
    names --cwd as its writable root: the write lands inside DIR or is refused.
    """
    if args.cwd is None or not is_relative(args.path):
        return None
    return Policy(writable_roots=(args.cwd,) if write else (), cwd=args.cwd)


# --- commands -----------------------------------------------------------------------------
def _cmd_read(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        info, chunks = client.open_read(args.path, policy=_policy(args), timeout=args.timeout)
        show = wants_progress(args.progress, sys.stderr, info.size)
        # The output is opened only once the file is known to be readable, so a failed
        # read leaves no empty OUT behind.
        with open_output(args.output) as out, \
                progress(show, sys.stderr, info.size, _label(args.path)) as update:
            for chunk in chunks:
                out.write(chunk)
                update(len(chunk))
        return EXIT_OK

    return _report(args, run)


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
                    file_mode=args.mode, policy=_policy(args, write=True),
                    timeout=args.timeout,
                )
        if args.json:
            print_json(write_json(result))
        else:  # stdout stays for content and JSON
            print(f"{result.bytes_written} bytes written to {result.info.path} "
                  f"(version {result.info.version})", file=sys.stderr)
        return EXIT_OK

    return _report(args, run)


def _cmd_ls(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        entries = client.list_dir(
            args.path, depth=args.depth, policy=_policy(args), timeout=args.timeout
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

    return _report(args, run)


def _cmd_stat(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        info = client.stat(
            args.path, follow_symlinks=args.follow, policy=_policy(args), timeout=args.timeout
        )
        fields = info_json(info)
        if args.json:
            print_json(fields)
        else:
            for key, value in fields.items():
                if value is not None:
                    print(f"{key}: {value}")
        return EXIT_OK

    return _report(args, run)


if __name__ == "__main__":  # python -m fsgate.cli
    sys.exit(main())
