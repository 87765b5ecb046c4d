"""``fsgate grep`` and ``fsgate glob``.

``grep PATTERN [PATH]`` prints like ``grep -n``/``rg``: ``path:line:text`` per match;
``-C N`` adds context lines as ``path-line-text``, with ``--`` between groups that are not
adjacent; ``-l`` prints each matching file once. Exit 0 when something matched, 1 when
nothing did, 2 for an invalid pattern (as grep); other errors as every command. A summary
that says the search stopped early (``--max-matches``, a server bound) is noted on stderr.

``glob PATTERN [PATH]`` prints one absolute path per line (directories with a trailing
``/``), exit 0 even when nothing matched (as ``find``).

PATH defaults to ``.``, which is relative: it needs ``--cwd DIR`` (the server-side
directory; the local working directory is never sent).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from fsgate._cli_json import entry_json, match_json, print_json, summary_json
from fsgate._cli_run import EXIT_ERROR, EXIT_OK, policy_for, positive_int, report
from fsgate._client import Client
from fsgate._search import GlobSort, Match
from fsgate._types import FileType

__all__ = ["add_commands"]

EXIT_NO_MATCH = 1


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                 common: argparse.ArgumentParser) -> None:
    grep = subparsers.add_parser(
        "grep", parents=[common], help="search file contents (RE2 regex)",
        description="Print the lines below PATH that match PATTERN (RE2/Rust syntax), as "
        "path:line:text. Hidden and .gitignore'd files are skipped unless asked for.",
    )
    grep.add_argument("pattern", metavar="PATTERN")
    grep.add_argument("path", metavar="PATH", nargs="?", default=".",
                      help="directory or file to search (default: ., relative to --cwd)")
    grep.add_argument("-F", "--fixed-strings", action="store_true",
                      help="PATTERN is a literal string, not a regex")
    grep.add_argument("-i", "--ignore-case", action="store_true", help="match case-insensitively")
    grep.add_argument("-C", "--context", type=int, default=0, metavar="N",
                      help="print N lines of context around each match (at most 100)")
    grep.add_argument("-l", "--files-with-matches", action="store_true",
                      help="print only the names of files with a match")
    grep.add_argument("-g", "--glob", action="append", default=[], metavar="GLOB",
                      help="search only files matching GLOB; !GLOB excludes (repeatable)")
    grep.add_argument("--hidden", action="store_true", help="search names starting with .")
    grep.add_argument("--no-ignore", action="store_true",
                      help="search what .gitignore/.ignore files exclude")
    grep.add_argument("--max-matches", type=positive_int, default=0, metavar="N",
                      help="stop after N matches (default: the server's 1000)")
    grep.add_argument("--json", action="store_true",
                      help="one JSON object per match, then {\"summary\": ...} (JSON Lines)")
    grep.set_defaults(func=_cmd_grep)

    glob = subparsers.add_parser(
        "glob", parents=[common], help="find paths by glob",
        description="Print the paths below PATH matching PATTERN, a gitignore-style glob "
        "(** any depth; no / a name at any depth; a / anchors at PATH).",
    )
    glob.add_argument("pattern", metavar="PATTERN")
    glob.add_argument("path", metavar="PATH", nargs="?", default=".",
                      help="the directory to search below (default: ., relative to --cwd)")
    glob.add_argument("--sort", choices=("path", "modified"), default="path",
                      help="bytewise by path (default) or newest first")
    glob.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                      help="skip paths (and whole directories) matching GLOB (repeatable)")
    glob.add_argument("--hidden", action="store_true", help="include names starting with .")
    glob.add_argument("--no-ignore", action="store_true",
                      help="include what .gitignore/.ignore files exclude")
    glob.add_argument("--max-results", type=positive_int, default=0, metavar="N",
                      help="at most N paths (default: the server's 1000)")
    glob.add_argument("--json", action="store_true",
                      help="one JSON object per entry and line (JSON Lines)")
    glob.set_defaults(func=_cmd_glob)


def _split_globs(globs: Iterable[str]) -> tuple[list[str], list[str]]:
    include: list[str] = []
    exclude: list[str] = []
    for g in globs:
        (exclude if g.startswith("!") else include).append(g.removeprefix("!"))
    return include, exclude


def _cmd_grep(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        include, exclude = _split_globs(args.glob)
        result = client.search(
            args.path, args.pattern, fixed_strings=args.fixed_strings,
            ignore_case=args.ignore_case, include_globs=include, exclude_globs=exclude,
            include_hidden=args.hidden, include_ignored=args.no_ignore,
            context_lines=max(args.context, 0), max_matches=args.max_matches,
            files_only=args.files_with_matches, policy=policy_for(args), timeout=args.timeout)
        with result:
            if args.json:
                for match in result:
                    print_json(match_json(match))
            elif args.files_with_matches:
                for match in result:
                    sys.stdout.write(match.path + "\n")
            elif args.context > 0:
                context = _Context()
                for match in result:
                    context.add(match)
                context.flush()
            else:
                for match in result:
                    sys.stdout.write(f"{match.path}:{match.line_number}:{match.line}\n")
            summary = result.summary
        if summary is None:  # cannot happen: an exhausted result has its summary
            return EXIT_ERROR
        if args.json:
            print_json(summary_json(summary))
        elif summary.truncated:
            print(f"fsgate: stopped early after {summary.matches} matches in "
                  f"{summary.files_searched} files (--max-matches or a server bound)",
                  file=sys.stderr)
        sys.stdout.flush()
        return EXIT_OK if summary.matches else EXIT_NO_MATCH

    return report(args, run)


class _Context:
    """Prints one file's matches and context lines once each, in line order, with ``--``
    between groups that do not touch (as grep -C does)."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.lines: dict[int, tuple[str, bool]] = {}
        self.printed_any = False

    def add(self, m: Match) -> None:
        if m.path != self.path:
            self.flush()
            self.path = m.path
        first = m.line_number - len(m.before)
        for i, text in enumerate(m.before):
            self.lines.setdefault(first + i, (text, False))
        self.lines[m.line_number] = (m.line, True)
        for i, text in enumerate(m.after, start=1):
            self.lines.setdefault(m.line_number + i, (text, False))

    def flush(self) -> None:
        last = None
        out = sys.stdout
        for number in sorted(self.lines):
            text, is_match = self.lines[number]
            if self.printed_any and (last is None or number > last + 1):
                out.write("--\n")
            sep = ":" if is_match else "-"
            out.write(f"{self.path}{sep}{number}{sep}{text}\n")
            self.printed_any = True
            last = number
        self.lines.clear()


def _cmd_glob(args: argparse.Namespace) -> int:
    def run(client: Client) -> int:
        sort = GlobSort.MODIFIED if args.sort == "modified" else GlobSort.PATH
        result = client.glob(args.path, args.pattern, exclude_globs=args.exclude,
                             include_hidden=args.hidden, include_ignored=args.no_ignore,
                             sort=sort, max_results=args.max_results,
                             policy=policy_for(args), timeout=args.timeout)
        for entry in result.entries:
            if args.json:
                print_json(entry_json(entry))
            else:
                slash = "/" if entry.info.type is FileType.DIRECTORY else ""
                sys.stdout.write(entry.info.path + slash + "\n")
        sys.stdout.flush()
        if result.truncated:
            print(f"fsgate: {len(result.entries)} paths shown, more matched "
                  f"(--max-results or a server bound)", file=sys.stderr)
        return EXIT_OK

    return report(args, run)
