"""Protected paths: server-side globs, relative to each server root, that stay readable but
are never writable (default: ``.git/hooks/**`` and ``.git/config``).

The roots are the server's own (and every alias of them), never what a request narrows its
writable set to: matched below a request's ``W/.git``, ``.git/config`` would not match
``W/.git/config``. A glob matches at any depth below a root (``.git/config`` protects
``/ws/.git/config`` and ``/ws/vendor/lib/.git/config``), case-insensitively (a
case-insensitive file system must not turn ``.GIT/Config`` into a way around it). ``**``
matches any number of components, and ``dir/**`` also matches ``dir`` itself, so the
directory cannot be created or replaced either. ``*`` and ``?`` stay within a component.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

DEFAULT_PROTECTED = (".git/hooks/**", ".git/config")


@lru_cache(maxsize=64)
def _compile(glob: str) -> re.Pattern[str]:
    glob = glob.strip("/")
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("(?:/.*)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("(?:^|.*/)" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def validate(globs: Iterable[str]) -> tuple[str, ...]:
    out = []
    for glob in globs:
        if not glob.strip("/"):
            raise ValueError("an empty protected-path glob would protect everything")
        _compile(glob)
        out.append(glob)
    return tuple(out)


def is_protected(path: str, roots: Sequence[str], globs: Sequence[str]) -> bool:
    """Whether absolute ``path`` matches a glob below one of ``roots``."""
    for root in roots:
        prefix = root.rstrip("/") + "/"
        if not path.startswith(prefix):
            continue
        rel = path[len(prefix):]
        if any(_compile(g).match(rel) for g in globs):
            return True
    return False


def matcher_in(directory: str, roots: Sequence[str], globs: Sequence[str]
               ) -> Callable[[str], bool]:
    """``is_protected`` for the names in one directory (absolute), with the directory's
    share done once: a walk asks it for every entry. Takes a name, not a path."""
    here = directory.rstrip("/") + "/"
    prefixes = [here[len(p):] for p in (r.rstrip("/") + "/" for r in roots)
                if here.startswith(p)]
    if not prefixes or not globs:
        return lambda _name: False
    either = re.compile("|".join(f"(?:{_compile(g).pattern})" for g in globs),
                        re.IGNORECASE | re.DOTALL)
    if len(prefixes) == 1:
        rel = prefixes[0]
        return lambda name: either.match(rel + name) is not None
    return lambda name: any(either.match(rel + name) for rel in prefixes)
