"""The caller's patterns as matchers, or INVALID_PATTERN: the Search regex (RE2: linear time,
so no pattern can make a helper backtrack for ever), Glob's globs, and the gitignore-style
include/exclude globs and ignore files (pathspec).

The gRPC handler compiles every pattern once before it starts a helper (an invalid one
never costs a helper or a walk); the helper compiles them again for itself.

Glob ``patterns`` match an entry's own relative path: ``src`` reports ``src`` and any
``*/src``, not what is inside them (``src/**`` does). Exclude and include globs, and
``.gitignore``/``.ignore`` files, have git's semantics instead (pathspec's GitIgnoreSpec):
excluding a directory excludes everything below it.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import pathspec
import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
from fsgate.reasons import Reason

from fsgate_server.errors import Failure, shorten

__all__ = ["MAX_GLOBS", "MAX_PATTERN_BYTES", "GitRules", "GlobMatcher", "Regex", "glob_regex",
           "ignore_file_spec", "matchable", "search_regex", "user_spec"]

MAX_PATTERN_BYTES = 64 << 10  # one regex or glob; RE2's own 8 MiB program bound comes after
MAX_GLOBS = 256  # per list
# The compiled form's private method: the module's Python wrapper builds a match object per
# call, which costs more than the search of a small file.
_UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED

_Spec = pathspec.GitIgnoreSpec


def _invalid(what: str, pattern: str, why: str) -> Failure:
    return Failure(Reason.INVALID_PATTERN, f"invalid {what} {shorten(pattern, 200)!r}: "
                                           f"{shorten(why, 200)}")


def _options(**values: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is the caller's answer, not a line on stderr
    options.never_capture = True
    for name, value in values.items():
        setattr(options, name, value)
    return options


_MULTILINE = b"(?m)"  # Search: ^ and $ at line boundaries


def _compile(what: str, shown: str, regex: bytes, options: Any) -> Any:
    compiled = re2._re2.RE2(regex, options)
    if not compiled.ok():
        raw = compiled.error()
        error = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise _invalid(what, shown, error.replace(_MULTILINE.decode(), "", 1))
    return compiled


def _check_size(what: str, pattern: str) -> None:
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_PATTERN_BYTES:
        raise _invalid(what, pattern, f"longer than {MAX_PATTERN_BYTES} bytes")


# A case-sensitive literal at least this long is found by bytes.find (a skip search, up to
# 2.5x RE2's scan on text); shorter ones, where skips are short, by RE2.
_FIND_MIN_BYTES = 10


class Regex:
    """A compiled Search pattern, matched within lines: it never matches across a newline
    (RE2's never_nl), and ``^``/``$`` match at line boundaries."""

    __slots__ = ("_literal", "_match")

    def __init__(self, compiled: Any, literal: bytes | None = None) -> None:
        self._match = compiled.Match
        self._literal = literal

    def find(self, buf: bytes, pos: int, end: int) -> tuple[int, int]:
        """(start, end) of the leftmost match in ``buf[pos:end]``, or (-1, -1)."""
        if self._literal is not None:
            at = buf.find(self._literal, pos, end)
            return (at, at + len(self._literal)) if at >= 0 else (-1, -1)
        span: tuple[int, int] = self._match(_UNANCHORED, buf, pos, end)[0]
        return span


def search_regex(pattern: str, *, fixed_strings: bool, ignore_case: bool) -> Regex:
    _check_size("pattern", pattern)
    data = pattern.encode("utf-8", "surrogatepass")
    options = _options(never_nl=True, literal=fixed_strings, case_sensitive=not ignore_case)
    compiled = _compile("pattern", pattern, data if fixed_strings else _MULTILINE + data,
                        options)
    fast = (fixed_strings and not ignore_case and len(data) >= _FIND_MIN_BYTES
            and b"\n" not in data)  # a newline in a literal never matches (never_nl)
    return Regex(compiled, data if fast else None)


# --- Glob patterns ---------------------------------------------------------------------------

_SPECIAL = frozenset(".^$*+?()[]{}|\\")


def _class(seg: str, i: int, pattern: str) -> tuple[str, int]:
    """The character class starting at ``seg[i] == "["``, as RE2, and the index after it."""
    j = i + 1
    negate = j < len(seg) and seg[j] in "!^"
    if negate:
        j += 1
    out: list[str] = []
    first = True
    while j < len(seg) and (seg[j] != "]" or first):
        c = seg[j]
        if c == "\\":
            j += 1
            if j == len(seg):
                raise _invalid("glob", pattern, "a trailing backslash")
            c = seg[j]
            out.append("\\" + c if c in _SPECIAL or c == "-" else c)
        elif c == "[" and seg.startswith("[:", j):  # [[:alpha:]]: RE2 has them too
            end = seg.find(":]", j + 2)
            if end < 0:
                raise _invalid("glob", pattern, "an unclosed [: class")
            out.append(seg[j:end + 2])
            j = end + 1
        else:
            out.append("\\" + c if c in "[]\\^" else c)
        first = False
        j += 1
    if j >= len(seg):
        raise _invalid("glob", pattern, "an unclosed [")
    body = "".join(out)
    return ("[^/" + body + "]" if negate else "[" + body + "]"), j + 1


def _segment(seg: str, pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "\\":
            i += 1
            if i == len(seg):
                raise _invalid("glob", pattern, "a trailing backslash")
            c = seg[i]
            out.append("\\" + c if c in _SPECIAL else c)
        elif c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1  # "a**b" is "a*b", as in git
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            cls, i = _class(seg, i, pattern)
            out.append(cls)
            continue
        else:
            out.append("\\" + c if c in _SPECIAL else c)
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> tuple[str, bool]:
    """A gitignore-style glob as an RE2 regex that must match a whole relative path, and
    whether it matches directories only (a trailing ``/``): ``**`` any number of
    directories, ``*``/``?``/``[]`` within one name; without a ``/`` (but a trailing one)
    at any depth, else anchored at the base."""
    _check_size("glob", pattern)
    if not pattern:
        raise _invalid("glob", pattern, "it is empty")
    if pattern.startswith("!"):
        raise _invalid("glob", pattern, "negation is not supported here (use exclude_globs)")
    body = pattern
    dir_only = body.endswith("/") and not body.endswith("\\/")
    body = body.rstrip("/") if dir_only else body
    anchored = body.startswith("/")
    body = body.lstrip("/")
    if not body:
        raise _invalid("glob", pattern, "it names no entry")
    anchored = anchored or "/" in body
    segs = [s for s in body.split("/") if s]
    out = "" if anchored else "(?:.*/)?"
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if seg == "**":
            out += ".+" if last else "(?:.*/)?"
        else:
            out += _segment(seg, pattern) + ("" if last else "/")
    return out, dir_only


class GlobMatcher:
    """Glob's ``patterns`` as two RE2 programs: every pattern for directories, those
    without a trailing ``/`` for everything else."""

    __slots__ = ("_dirs", "_others")

    def __init__(self, patterns: Sequence[str]) -> None:
        if not patterns:
            raise Failure(Reason.INVALID_REQUEST, "at least one glob pattern is required")
        if len(patterns) > MAX_GLOBS:
            raise Failure(Reason.INVALID_REQUEST, f"more than {MAX_GLOBS} glob patterns")
        parts = [glob_regex(p) for p in patterns]
        shown = ", ".join(patterns)
        self._dirs = self._program(shown, [r for r, _ in parts])
        self._others = self._program(shown, [r for r, dir_only in parts if not dir_only])

    @staticmethod
    def _program(shown: str, regexes: list[str]) -> Any:
        if not regexes:
            return None
        regex = "(?s)\\A(?:" + "|".join(f"(?:{r})" for r in regexes) + ")\\z"
        return _compile("glob", shown, regex.encode(), _options()).Match

    def matches(self, rel: str, is_dir: bool) -> bool:
        match = self._dirs if is_dir else self._others
        if match is None:
            return False
        try:
            data = rel.encode("utf-8")
        except UnicodeEncodeError:  # bad bytes as U+FFFD: "*" matches them
            data = matchable(rel).encode("utf-8")
        return bool(match(_UNANCHORED, data, 0, len(data))[0][0] >= 0)


# --- gitignore semantics (pathspec) ----------------------------------------------------------

def matchable(rel: str) -> str:
    """``rel`` as pathspec can take it: a name that is not UTF-8 (surrogate-escaped bytes)
    with U+FFFD for its bad bytes."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "replace")


def _spec(lines: Iterable[str]) -> _Spec:
    return _Spec.from_lines(list(lines))


class GitRules:
    """Rules with git's semantics (pathspec's GitIgnoreSpec: negations, the last matching
    rule wins, ``dir/`` for directories, probed as ``path/``), behind an RE2 prefilter of
    all their patterns at once: most paths match no rule, and one RE2 call says so for a
    fraction of what pathspec's layers cost per path."""

    __slots__ = ("_any", "_spec")

    def __init__(self, spec: _Spec) -> None:
        self._spec = spec
        regexes = [p.regex.pattern for p in spec.patterns
                   if p.include is not None and p.regex is not None]
        self._any: Any = None
        if regexes and all(isinstance(r, str) for r in regexes):
            joined = "|".join(f"(?:{r.replace('(?P<ps_d>', '(?:')})" for r in regexes)
            compiled = re2._re2.RE2(joined.encode(), _options())
            if compiled.ok():  # else every path goes to pathspec, as it must
                self._any = compiled.Match

    def decide(self, probe: str) -> bool | None:
        """True: a rule includes (ignores/excludes) ``probe``; False: a negation re-includes
        it; None: no rule matches. ``probe`` is a ``matchable`` path, ``/`` after a
        directory's."""
        if self._any is not None and "\n" not in probe:  # Python's $ also takes a "\n"
            data = probe.encode("utf-8")
            if self._any(_UNANCHORED, data, 0, len(data))[0][0] < 0:
                return None
        decided: bool | None = self._spec.check_file(probe).include
        return decided

    def matches(self, probe: str) -> bool:
        return bool(self.decide(probe))


def user_spec(globs: Sequence[str], what: str) -> GitRules | None:
    """The caller's include or exclude globs (git semantics), None for none; every one must
    be a pattern that can match something."""
    if not globs:
        return None
    if len(globs) > MAX_GLOBS:
        raise Failure(Reason.INVALID_REQUEST, f"more than {MAX_GLOBS} {what}")
    for glob in globs:
        _check_size("glob", glob)
        try:
            one = _spec([glob])
        except Exception as exc:  # pathspec raises ValueError, re.error, IndexError...
            raise _invalid("glob", glob, str(exc) or type(exc).__name__) from None
        if not glob.strip() or not one.patterns or one.patterns[0].include is None:
            raise _invalid("glob", glob, "it matches nothing (empty, a comment, or a bad [ ])")
    return GitRules(_spec(globs))


MAX_IGNORE_LINES = 10_000


def ignore_file_spec(text: str) -> GitRules | None:
    """A ``.gitignore``/``.ignore`` file's rules; lines git would not take are skipped, as
    git skips them. None when it has no rule."""
    lines = text.splitlines()[:MAX_IGNORE_LINES]
    try:
        spec = _spec(lines)
    except Exception:
        good = []
        for line in lines:
            try:
                _spec([line])
            except Exception:
                continue
            good.append(line)
        spec = _spec(good)
    return GitRules(spec) if any(p.include is not None for p in spec.patterns) else None
