"""Which changes a watch reports: the effective policy (never a denied path), then the
request's include and exclude globs. Pure: the server validates globs with it too.

Globs are gitignore-style and matched against the path relative to the watched directory:

- a glob without a ``/`` (other than a trailing one) matches a name at any depth
  (``*.py``, ``node_modules``); one with a ``/`` is anchored at the watched directory
  (``src/*.c``, ``/build``);
- ``*`` and ``?`` stay within one component, ``[abc]``/``[!a-z]`` is a character class,
  ``\\`` escapes the next character; ``**`` is any number of components
  (``**/test``, ``src/**``, ``a/**/b``);
- a trailing ``/`` matches directories only;
- a glob matching a directory matches everything below it too (``build`` excludes
  ``build/out/a.o``; ``src`` includes all of ``src``). No ``!`` negation: use an exclude.

An event is reported when its path is readable under the policy, matches no exclude, and
matches an include (or there are none). fsgate's own temporaries (``.fsgate-tmp-*``, a
WriteFile's content before its rename) are never reported: a WriteFile shows up as the
CREATED of its target (also when it replaced one, as any save by rename does). A
directory matching an exclude is not watched at all; includes do not prune watching
(``*.py`` still needs every directory watched).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.temps import TEMP_PREFIX
from fsgate_server.helper.walk import join
from fsgate_server.policy import EffectivePolicy

__all__ = ["MAX_GLOBS", "MAX_GLOB_BYTES", "Glob", "Selection", "compile_globs"]

MAX_GLOBS = 256  # include and exclude globs, each
MAX_GLOB_BYTES = 4096


class Glob:
    """One compiled glob; :meth:`matches` a relative path (or any directory above it)."""

    def __init__(self, text: str) -> None:
        self.text = text
        body = text.rstrip("/")
        self.dirs_only = body != text
        anchored = "/" in body
        body = body.lstrip("/")
        if not body or "\0" in body or len(text.encode("utf-8", "surrogateescape")) > \
                MAX_GLOB_BYTES:
            raise ValueError("empty, too long, or holds a NUL byte")
        self.regex = re.compile(("" if anchored else "(?:.*/)?") + _translate(body) + r"\Z",
                                re.DOTALL)

    def matches(self, rel: str, is_dir: bool) -> bool:
        if (is_dir or not self.dirs_only) and self.regex.match(rel):
            return True
        # A directory above it that matches covers everything below.
        cut = rel.rfind("/")
        while cut > 0:
            if self.regex.match(rel, 0, cut):
                return True
            cut = rel.rfind("/", 0, cut)
        return False


def _translate(body: str) -> str:
    parts = body.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            out.append(".*" if last else "(?:[^/]*/)*")
            continue
        out.append(_component(part) + ("" if last else "/"))
    return "".join(out)


def _component(part: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "\\" and i + 1 < len(part):
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = part.find("]", i + 2 if part[i + 1:i + 2] in ("!", "^") else i + 1)
            if end < 0:
                raise ValueError("an unclosed [ character class")
            inner = part[i + 1:end]
            negate = inner[:1] in ("!", "^")
            inner = inner[1:] if negate else inner
            out.append("[" + ("^/" if negate else "") + inner.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def compile_globs(globs: Sequence[str], what: str) -> tuple[Glob, ...]:
    """Compiled globs; INVALID_REQUEST past MAX_GLOBS, INVALID_PATTERN for a bad one."""
    if len(globs) > MAX_GLOBS:
        raise Failure(Reason.INVALID_REQUEST, f"{what}: {len(globs)} globs; at most {MAX_GLOBS}")
    out = []
    for i, text in enumerate(globs):
        try:
            out.append(Glob(text))
        except (ValueError, re.error) as exc:
            raise Failure(Reason.INVALID_PATTERN, f"{what}[{i}] {text[:100]!r}: {exc}") from exc
    return tuple(out)


class Selection:
    """What one watch may watch and report, by path relative to the watched directory."""

    def __init__(self, policy: EffectivePolicy, real: str, shown: str,
                 include: Sequence[str], exclude: Sequence[str]) -> None:
        self.policy = policy
        self.real = real  # where the watched directory really is
        self.shown = shown  # the caller's spelling of it
        self.include = compile_globs(include, "include_globs")
        self.exclude = compile_globs(exclude, "exclude_globs")
        # The watched directory was found readable, and readable roots are whole subtrees:
        # only a denied path below it (by either name) can hide something. Without one,
        # nothing needs checking per event.
        below = tuple(p.rstrip("/").casefold() + "/" for p in (real, shown))
        self.hidden = any(d.casefold().startswith(below) for d in policy.denied)

    def visible(self, rel: str) -> bool:
        """Readable under the policy, under its real name and the caller's: a denied path
        is never watched or named."""
        if not self.hidden:
            return True
        return (self.policy.can_read(join(self.real, rel) if rel else self.real)
                and self.policy.can_read(self.path(rel)))

    def path(self, rel: str) -> str:
        return join(self.shown, rel) if rel else self.shown

    def watchable(self, rel: str) -> bool:
        return self.visible(rel) and not any(g.matches(rel, True) for g in self.exclude)

    def reported(self, rel: str, is_dir: bool) -> bool:
        if not rel:  # the watched directory itself: only without includes
            return not self.include and self.visible(rel)
        if rel.rpartition("/")[2].startswith(TEMP_PREFIX):
            return False  # a WriteFile's temporary: its rename onto the target is CREATED
        if any(g.matches(rel, is_dir) for g in self.exclude):
            return False
        if self.include and not any(g.matches(rel, is_dir) for g in self.include):
            return False
        return self.visible(rel)
