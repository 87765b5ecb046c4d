"""The bounded, descriptor-relative tree walk Search and Glob share.

Every directory is read through a descriptor the walk holds, and every entry is named to
the kernel by its single name relative to it: a subdirectory is entered with
``openat(parent, name, O_DIRECTORY | O_NOFOLLOW)``, and only if the kernel reports it
where the walk expects it (a directory moved under us is skipped, its inside unseen); a
symlink is an entry of its own, never followed. Landlock cannot carve a denied subtree out
of a readable root, so denied paths are judged here, by name, before anything below them is
opened or named: a denied entry is skipped as if it did not exist, and the rules of an
ignore file can only hide more, never bring a denied path back.

Entries come in bytewise order of their relative paths, files exactly so (a directory's
own entry comes where ``name/`` sorts, its contents right after). What is skipped:
names starting with ``.`` unless ``include_hidden``; what the ``exclude`` globs match
(a directory with everything below it); what ``.gitignore``/``.ignore`` files inside the
tree exclude, unless ``include_ignored`` (git's rules: the deepest file with a matching
rule decides, ``.ignore`` over ``.gitignore`` in one directory, a negation cannot
re-include below an excluded directory, since the walk never enters it).

Bounds: ``max_entries`` names read (hidden and ignored ones count: they cost the same),
the time budget, and the depth the helper's descriptor limit allows (one descriptor per
level); reaching any of them ends the walk early with ``truncated`` set.
"""
from __future__ import annotations

import os
import resource
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass

from fsgate_server.helper.patterns import GitRules, ignore_file_spec, matchable
from fsgate_server.helper.resolve import closing_fd, kernel_path
from fsgate_server.helper.walk import join
from fsgate_server.policy import EffectivePolicy

__all__ = ["DIRECTORY", "FILE", "LINK", "OTHER", "Budget", "Item", "TreeWalk", "WalkRules",
           "open_regular"]

FILE, DIRECTORY, LINK, OTHER = range(4)
IGNORE_FILES = (".gitignore", ".ignore")  # in this order: the later one wins
MAX_IGNORE_FILE_BYTES = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LOOKUP = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
# Descriptors a helper keeps for itself and needs besides the walk's one per level: stdio,
# its channel, a file being searched (its O_PATH and its open), a scandir, an ignore file.
_RESERVED_FDS = 24
_CLOCK_EVERY = 64  # entries between two looks at the clock


@dataclass(frozen=True)
class WalkRules:
    include_hidden: bool = False
    include_ignored: bool = False
    exclude: GitRules | None = None  # gitignore-style, relative to the base


class Budget:
    """What one request may still spend: entries read, and time (a monotonic deadline)."""

    def __init__(self, max_entries: int, budget_ms: int) -> None:
        self.left = max_entries
        self.deadline = time.monotonic() + budget_ms / 1000 if budget_ms else None
        self.exhausted = False
        self._tick = 0

    def spend(self, entries: int = 1) -> bool:
        """Whether ``entries`` more may be read (False, for ever, once a bound is hit)."""
        if self.exhausted:
            return False
        self.left -= entries
        self._tick += entries
        if self.left < 0:
            self.exhausted = True
        elif self._tick >= _CLOCK_EVERY:
            self._tick = 0
            self.exhausted = self.out_of_time()
        return not self.exhausted

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass(slots=True)
class Item:
    """One entry. ``dir_fd`` (its directory) is open only until the walk moves on."""

    rel: str  # relative to the base; names may hold surrogate-escaped bytes
    name: str
    dir_fd: int
    kind: int  # FILE, DIRECTORY, LINK or OTHER (from the directory entry, never followed)


def _kind(entry: os.DirEntry[str]) -> int:
    if entry.is_symlink():
        return LINK
    if entry.is_dir(follow_symlinks=False):
        return DIRECTORY
    if entry.is_file(follow_symlinks=False):
        return FILE
    return OTHER


def _max_depth() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(soft - _RESERVED_FDS, 1) if soft != resource.RLIM_INFINITY else 1 << 16


def open_regular(dir_fd: int, name: str) -> tuple[int, int] | None:
    """A read descriptor for the regular file ``name`` in ``dir_fd`` and its size, or None
    (gone, a link, not regular, refused). Opened ``O_PATH`` first and checked, so a FIFO or
    device swapped in is never really opened; then the same inode is reopened, which the
    kernel sandbox judges."""
    try:
        pfd = os.open(name, _LOOKUP, dir_fd=dir_fd)
    except OSError:
        return None
    try:  # not closing_fd: this runs once per file, and a generator costs more than it
        st = os.fstat(pfd)
        if not stat.S_ISREG(st.st_mode):
            return None
        return os.open(f"/proc/self/fd/{pfd}", _READ), st.st_size
    except OSError:
        return None
    finally:
        os.close(pfd)


class TreeWalk:
    """The entries below an open directory (``fd``, really at ``real``), once."""

    def __init__(self, fd: int, real: str, policy: EffectivePolicy, rules: WalkRules,
                 budget: Budget) -> None:
        self.fd = fd
        self.real = real
        self.policy = policy
        self.rules = rules
        self.budget = budget
        self.truncated = False  # a bound (entries, time, depth) ended the walk early
        self.max_depth = _max_depth()
        # Readable roots are whole subtrees and the base was checked readable: only denied
        # paths below it can hide an entry. Judge names only when there are some.
        base = real.rstrip("/").casefold() + "/"
        self.judged = any(d.casefold().startswith(base) for d in policy.denied)

    def items(self) -> Iterator[Item]:
        yield from self._visit(self.fd, self.real, "", (), 1)

    def stop(self) -> None:
        """The caller's own bound was hit: the walk ends as truncated."""
        self.truncated = True
        self.budget.exhausted = True

    def _read(self, fd: int) -> list[tuple[bytes, str, int]]:
        """The directory's entries as (sort key, name, kind), sorted; bounded by the budget."""
        out: list[tuple[bytes, str, int]] = []
        with os.scandir(fd) as it:
            for entry in it:
                if not self.budget.spend():
                    self.truncated = True
                    break
                kind = _kind(entry)
                key = os.fsencode(entry.name)
                # A directory sorts as "name/": its contents come before "name0" and after
                # "name-x", as they do bytewise.
                out.append((key + b"/" if kind == DIRECTORY else key, entry.name, kind))
        out.sort()
        return out

    def _visible(self, real: str, name: str) -> bool:
        return not self.judged or self.policy.can_read(join(real, name))

    def _visit(self, fd: int, real: str, prefix: str, ignores: tuple[tuple[str, GitRules], ...],
               depth: int) -> Iterator[Item]:
        entries = self._read(fd)
        if not self.rules.include_ignored:
            spec = self._ignore_spec(fd, real, {name for _, name, _ in entries})
            if spec is not None:
                ignores = (*ignores, (prefix, spec))
        hidden = not self.rules.include_hidden
        for _, name, kind in entries:
            if self.budget.exhausted:
                self.truncated = True
                return
            if (hidden and name.startswith(".")) or not self._visible(real, name):
                continue
            rel = prefix + name
            is_dir = kind == DIRECTORY
            if self._skipped(rel, is_dir, ignores):
                continue
            yield Item(rel, name, fd, kind)
            if is_dir:
                if depth >= self.max_depth:
                    self.truncated = True
                    continue
                yield from self._enter(fd, real, name, rel, ignores, depth)

    def _enter(self, fd: int, real: str, name: str, rel: str,
               ignores: tuple[tuple[str, GitRules], ...], depth: int) -> Iterator[Item]:
        try:
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError:
            return  # vanished, swapped for a link, or refused: its inside is not listed
        with closing_fd(child):
            where = join(real, name)
            kernel = kernel_path(child)  # None past PATH_MAX: opened by one name anyway
            if kernel is not None and kernel != where:
                return  # moved under us: what is inside is not at rel any more
            yield from self._visit(child, where, rel + "/", ignores, depth + 1)

    def _skipped(self, rel: str, is_dir: bool, ignores: tuple[tuple[str, GitRules], ...]) -> bool:
        exclude = self.rules.exclude
        if exclude is None and not ignores:
            return False
        probe = matchable(rel) + ("/" if is_dir else "")
        if exclude is not None and exclude.matches(probe):
            return True
        for prefix, spec in reversed(ignores):  # the deepest ignore file with a rule decides
            decided = spec.decide(probe[len(prefix):])
            if decided is not None:
                return decided
        return False

    def _ignore_spec(self, fd: int, real: str, names: set[str]) -> GitRules | None:
        texts = []
        for name in IGNORE_FILES:
            if name in names and self._visible(real, name):
                text = _read_small(fd, name)
                if text:
                    texts.append(text)
        return ignore_file_spec("\n".join(texts)) if texts else None


def _read_small(dir_fd: int, name: str) -> str:
    """An ignore file's text (its first MiB), or "" when it cannot be read as one."""
    opened = open_regular(dir_fd, name)
    if opened is None:
        return ""
    with closing_fd(opened[0]) as fd:
        try:
            data = os.read(fd, MAX_IGNORE_FILE_BYTES)
        except OSError:
            return ""
    return data.decode("utf-8", "replace")
