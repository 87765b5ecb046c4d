"""``fsgate watch PATH [-r] [--json] [--include GLOB] [--exclude GLOB]``: one line per change,
flushed as it happens, until Ctrl-C (exit 130, quietly), the reader goes away
(``fsgate watch /ws | head -1``: exit 0), or the server ends the watch (its error, with the
usual exit code).

Lines: ``CREATED /ws/a.txt``, ``CREATED /ws/sub/`` (a directory ends in ``/``),
``MOVED /ws/a.txt -> /ws/b.txt``, ``OVERFLOW 12`` (events were dropped, 12 that the server
counted, 0 when unknown: list the tree again). Once the watch is in place, ``watching PATH
(N directories)`` goes to stderr.

With ``--json`` (JSON Lines, the same objects the Node client prints): first
``{"type":"started","watched_directories":N}``, then per change
``{"type":"created","path":...,"old_path":null,"is_dir":false}`` (type ``created``,
``modified``, ``deleted``, ``moved``, ``attributes_changed``) or
``{"type":"overflow","dropped":N}``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fsgate._cli_run import EXIT_OK, policy_for, report
from fsgate._client import Client
from fsgate._watch import FileEvent, FileEventType, WatchItem, WatchOverflow

__all__ = ["add_commands", "event_json", "event_line"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    watch = subparsers.add_parser(
        "watch", parents=[common], help="print changes below a directory as they happen",
        description="Print one line per change below PATH until interrupted (--timeout "
        "defaults to a day; the server may end it sooner). Globs are gitignore-style, "
        "relative to PATH.",
    )
    watch.add_argument("path", metavar="PATH")
    watch.add_argument("-r", "--recursive", action="store_true",
                       help="watch every directory below PATH too, also ones created later")
    watch.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="report only paths matching GLOB (repeatable)")
    watch.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="never report paths matching GLOB (repeatable)")
    watch.add_argument("--json", action="store_true",
                       help="one JSON object per line (JSON Lines), starting with 'started'")
    watch.set_defaults(func=_cmd_watch)


def event_json(item: WatchItem) -> dict[str, Any]:
    if isinstance(item, WatchOverflow):
        return {"type": "overflow", "dropped": item.dropped}
    return {"type": item.type.name.lower(), "path": item.path, "old_path": item.old_path,
            "is_dir": item.is_dir}


def event_line(item: WatchItem) -> str:
    if isinstance(item, WatchOverflow):
        return f"OVERFLOW {item.dropped}"
    return f"{item.type.name} {_shown(item)}"


def _shown(event: FileEvent) -> str:
    slash = "/" if event.is_dir else ""
    if event.type is FileEventType.MOVED and event.old_path is not None:
        return f"{event.old_path}{slash} -> {event.path}{slash}"
    return f"{event.path}{slash}"


def _cmd_watch(args: argparse.Namespace) -> int:
    import json

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()  # a line as soon as it happens, also into a pipe

    def as_json(obj: dict[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def run(client: Client) -> int:
        with client.watch(args.path, recursive=args.recursive, include=args.include,
                          exclude=args.exclude, policy=policy_for(args),
                          timeout=args.timeout) as watch:
            if args.json:
                emit(as_json({"type": "started",
                              "watched_directories": watch.watched_directories}))
            else:
                print(f"watching {watch.path} ({watch.watched_directories} "
                      f"director{'y' if watch.watched_directories == 1 else 'ies'})",
                      file=sys.stderr, flush=True)
            for item in watch:
                emit(as_json(event_json(item)) if args.json else event_line(item))
        return EXIT_OK

    return report(args, run)
