"""What every ``fsgate`` client command shares: exit codes, argument types, the common
connection options, and running a command against a connected Client (:func:`report`),
which maps every error to its exit code and one ``fsgate: CODE/REASON: message`` line.

Commands live in cli.py (read, write, ls, stat) and one module per family
(``_cli_*.py``); each registers its parsers with ``add_commands(subparsers, common)``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator

from fsgate._cli_local import local_error
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
from fsgate._progress import PROGRESS_MIN_BYTES
from fsgate._types import Policy, Timeouts, is_relative
from fsgate.reasons import Reason

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


class UsageError(Exception):
    """A bad option value found after parsing (e.g. an unreadable token file)."""


# --- argument types -----------------------------------------------------------------------
def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def octal_mode(text: str) -> int:
    try:
        value = int(text.removeprefix("0o"), 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= value <= 0o7777:
        raise argparse.ArgumentTypeError(f"mode out of range: {text!r}")
    return value


# --- parser -------------------------------------------------------------------------------
#: The connection options every client command takes, which people also write before the
#: command (``fsgate --target ADDR ls /ws``, as with kubectl or docker -H).
LEADING_OPTIONS = frozenset({"--target", "--token-file", "--cwd", "--timeout"})


def options_after_command(argv: list[str]) -> list[str]:
    """``argv`` with connection options that come before the command moved right after it,
    where the command's parser reads them; anything else is left as it is, for the parser
    to judge (``fsgate --target ADDR`` with no command is still a usage error)."""
    moved: list[str] = []
    i = 0
    while i < len(argv) and argv[i].split("=", 1)[0] in LEADING_OPTIONS:
        step = 1 if "=" in argv[i] else 2
        moved += argv[i:i + step]
        i += step
    if not moved or i >= len(argv):
        return argv
    return [argv[i], *moved, *argv[i + 1:]]


def common_options() -> argparse.ArgumentParser:
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
        type=positive_float,
        metavar="SECONDS",
        help="deadline of the call, and the most to wait to connect "
        "(default: 30 for ls/stat pages, 300 for read/write; 5 to connect)",
    )
    return common


def progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help=f"draw a progress bar on stderr (default: only on a terminal, for transfers of "
        f"a known size of at least {PROGRESS_MIN_BYTES >> 20} MiB)",
    )


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


def report(args: argparse.Namespace, run: Callable[[Client], int]) -> int:
    """Run ``run(client)`` with a connected Client; map every error to an exit code."""
    try:
        with _connect(args) as client:
            return run(client)
    except FsgateError as exc:
        print(f"fsgate: {_error_label(exc)}: {_error_message(args, exc)}", file=sys.stderr)
        return exit_code_for(exc)
    except UsageError as exc:
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
        raise UsageError(f"cannot read token file {token_file}: "
                          f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"token file {token_file} is not UTF-8 text") from exc
    if not token:
        raise UsageError(f"token file {token_file} is empty")
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
        raise UsageError(str(exc)) from exc
    with client:
        yield client


def policy_for(args: argparse.Namespace, *, write: bool = False) -> Policy | None:
    """The request policy: only when PATH is relative and --cwd was given.

    Any policy with an empty writable_roots makes nothing writable, so a relative write
    names --cwd as its writable root: the write lands inside DIR or is refused.
    """
    if args.cwd is None or not is_relative(args.path):
        return None
    return Policy(writable_roots=(args.cwd,) if write else (), cwd=args.cwd)
