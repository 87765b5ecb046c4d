"""The glob dialect of the reference server's ``excludePatterns`` (minimatch with
``dot: true``), for ``directory_tree``: ``*`` and ``?`` within one path component, ``**`` as
a whole component for any number of components, ``[...]`` classes, ``{a,b}`` alternatives.
Matched against the path relative to the tool's ``path``.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence

__all__ = ["braces", "excluded", "matches"]


def braces(pattern: str) -> list[str]:
    """``a{b,c}d`` → ``abd``, ``acd`` (nested braces expand from the inside out)."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match is None or "," not in match.group(1):
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [x for alt in match.group(1).split(",") for x in braces(head + alt + tail)]


def _component(part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and (end := part.find("]", i + 2)) != -1:
            body = part[i + 1:end]
            if body[0] in "!^":
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _regex(pattern: str) -> str:
    parts = pattern.split("/")
    out = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**" and last:  # "a/**": a itself and anything below it
            out = out[:-1] + "(?:/.*)?" if out else ".*"
        elif part == "**":  # any number of whole components
            out += "(?:[^/]+/)*"
        else:
            out += _component(part) + ("" if last else "/")
    return out


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_regex(p)})" for p in braces(pattern)), re.DOTALL)


def matches(path: str, pattern: str) -> bool:
    """minimatch(path, pattern, {dot: true})."""
    return _compiled(pattern).fullmatch(path) is not None


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """Whether ``directory_tree`` leaves ``path`` out, as the reference decides it: a
    pattern with ``*`` is matched as is; one without also as ``**/P`` and ``**/P/**``."""
    for pattern in patterns:
        if "*" in pattern:
            if matches(path, pattern):
                return True
        elif any(matches(path, p) for p in (pattern, f"**/{pattern}", f"**/{pattern}/**")):
            return True
    return False
