"""``fsgate edit``, and the line windows of ``fsgate read`` (``--lines A:B``, ``--tail N``).

``fsgate edit PATH --old TEXT --new TEXT [--all] [--dry-run] [--if-version V] [--json]``
prints the unified diff on stdout (nothing when the content did not change) and a summary
on stderr; ``--json`` prints ``{"info", "replacements", "diff", "diff_truncated"}``
instead. ``--old``/``--new`` may be repeated: the pairs apply in order, each to the
result of the one before, all or nothing. A text that does not occur, or occurs more than
once without ``--all``, exits 1 with the ``fsgate: FAILED_PRECONDITION/NO_MATCH: ...``
line; a version mismatch exits 5, as for ``write``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from fsgate._cli_json import info_json, print_json
from fsgate._cli_run import EXIT_OK, UsageError, policy_for, positive_int, report
from fsgate._client import Client
from fsgate._edit import Edit, EditResult
from fsgate._types import FileInfo

__all__ = ["add_commands", "add_line_options", "edit_json", "open_window"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    """``edit``."""
    edit = subparsers.add_parser(
        "edit", parents=[common], help="replace exact text in a file, atomically",
        description="Replace the exact text OLD with NEW in the UTF-8 file PATH and print "
        "the unified diff. OLD must occur exactly once (or at least once with --all); "
        "otherwise nothing changes and the exit code is 1.",
    )
    edit.add_argument("path", metavar="PATH")
    edit.add_argument("--old", action="append", required=True, metavar="TEXT",
                      help="the text to find, exactly (repeatable, paired with --new)")
    edit.add_argument("--new", action="append", required=True, metavar="TEXT",
                      help="what replaces it; '' deletes it (one per --old)")
    edit.add_argument("--all", action="store_true",
                      help="replace every occurrence, not exactly one")
    edit.add_argument("--dry-run", action="store_true",
                      help="print the diff, change nothing")
    edit.add_argument("--if-version", metavar="V", default="",
                      help="edit only if PATH's current version is V (else exit 5)")
    edit.add_argument("--json", action="store_true", help="print the result as JSON")
    edit.set_defaults(func=_cmd_edit)


def edit_json(result: EditResult) -> dict[str, Any]:
    return {"info": info_json(result.info), "replacements": result.replacements,
            "diff": result.diff, "diff_truncated": result.diff_truncated}


def _cmd_edit(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        if len(args.old) != len(args.new):
            raise UsageError(f"{len(args.old)} --old but {len(args.new)} --new: give one "
                             "--new per --old")
        edits = [Edit(old, new, args.all) for old, new in zip(args.old, args.new, strict=True)]
        result = client.edit_file(args.path, edits=edits, if_version=args.if_version,
                                  dry_run=args.dry_run, policy=policy_for(args, write=True),
                                  timeout=args.timeout)
        if args.json:
            print_json(edit_json(result))
            return EXIT_OK
        sys.stdout.write(result.diff)
        sys.stdout.flush()
        done = "would replace" if args.dry_run else "replaced"
        plural = "" if result.replacements == 1 else "s"
        print(f"{done} {result.replacements} occurrence{plural} in {result.info.path} "
              f"(version {result.info.version})"
              + ("; the diff was cut at 1 MiB" if result.diff_truncated else ""),
              file=sys.stderr)
        return EXIT_OK

    return report(args, run)


# --- fsgate read --lines / --tail ---------------------------------------------------------
def line_range(text: str) -> tuple[int, int]:
    """``A:B`` (1-based, both included), ``A:`` (to the end), ``:B`` or ``N`` (one line)
    as ``(line_offset, line_limit)`` for the wire (0-based; limit 0: to the end)."""
    head, sep, tail = text.partition(":")
    try:
        first = int(head) if head else 1
        last = int(tail) if tail else 0
        if not sep:
            last = first
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a line range A:B: {text!r}") from None
    if first < 1 or (last and last < first):
        raise argparse.ArgumentTypeError(f"lines are numbered from 1, and B >= A: {text!r}")
    return first - 1, (last - first + 1 if last else 0)


def add_line_options(read: argparse.ArgumentParser) -> None:
    """``--lines A:B`` and ``--tail N`` for ``fsgate read``."""
    group = read.add_mutually_exclusive_group()
    group.add_argument("--lines", type=line_range, metavar="A:B",
                       help="only lines A to B (1-based, both included; A: to the end); "
                       "the server streams only those")
    group.add_argument("--tail", type=positive_int, metavar="N",
                       help="only the last N lines, read backwards from the end")


def open_window(client: Client, args: argparse.Namespace
                ) -> tuple[FileInfo, Iterator[bytes], int | None]:
    """What ``fsgate read`` prints: the file's info, its chunks and their total size (None
    when unknown: a line window)."""
    policy = policy_for(args)
    if args.lines is None and args.tail is None:
        info, chunks = client.open_read(args.path, policy=policy, timeout=args.timeout)
        return info, chunks, info.size
    offset, limit = args.lines if args.lines is not None else (0, 0)
    rpc = client._prepare_lines(args.path, line_offset=offset, line_limit=limit,
                                tail_lines=args.tail or 0, chunk_size=0, policy=policy,
                                timeout=args.timeout)
    info, chunks = client._open_stream(rpc)
    return info, chunks, None
