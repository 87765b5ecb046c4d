"""Where a Move or Copy acts, and whether it may: the directory that holds each path and
the path's own last name, which is never followed (a symlink is moved, replaced or
created as a link), judged by where it really is and by every name it was reached by.

A place is changeable (moved away, replaced, created) only if all of these hold, in order:

- it is no served root and holds none (PROTECTED_PATH): the roots stay where they are;
- it is no protected path under any of its names (PROTECTED_PATH);
- it is writable, in a writable directory, and no denied path lies at or below it
  (SANDBOX_DENIED): renaming a directory renames what is inside, and a denied path must
  neither move nor be reached by a new name. This is judged on the names alone, so the
  answer says nothing about what exists under a denied path.

A tree that is moved has each of its entries judged too (``require_no_protected_below``):
a moved ``.git`` directory moves ``.git/config`` with it.
"""
from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.resolve import classify, closing_fd, reopen
from fsgate_server.helper.trees import Budget, names_below
from fsgate_server.helper.walk import join, resolve_dir
from fsgate_server.policy import EffectivePolicy


@dataclass
class Place:
    """``name`` in the directory ``dfd`` (a real descriptor the kernel judged, at
    ``real``). ``path`` is the caller's: the only one messages name."""

    path: str
    dfd: int
    real: str
    name: str
    aliases: tuple[str, ...]  # other names the way to it passed (walk._Walk.aliases)
    facts: dict[str, str]  # ErrorInfo metadata naming this place

    @property
    def where(self) -> str:
        return join(self.real, self.name)

    def names(self) -> tuple[str, ...]:
        return (self.where, self.path, *self.aliases)

    def lstat(self) -> os.stat_result | None:
        try:
            return os.stat(self.name, dir_fd=self.dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.failure(exc) from exc

    def failure(self, exc: OSError) -> Failure:
        failure = classify(exc, self.path, True)
        failure.metadata.update(self.facts)
        return failure

    def close(self) -> None:
        if self.dfd >= 0:
            os.close(self.dfd)
            self.dfd = -1


def open_place(path: str, policy: EffectivePolicy, *, destination: bool = False,
               parents: bool = False) -> Place:
    """The place ``path`` names: its directory resolved (every link followed; with
    ``parents``, missing components made where each may be created), its last name as it
    is. ``destination``: its errors name it (ErrorInfo ``path``)."""
    facts = {"path": path} if destination else {}
    parent, name = posixpath.split(path)
    if not name:  # "/" itself: above every root
        raise Failure(Reason.PROTECTED_PATH, f"{path}: contains the served roots",
                      metadata=facts)
    aliases: list[str] = []

    def create(where: str) -> None:
        if any(policy.is_protected(n) for n in (where, *aliases)):
            raise Failure(Reason.PROTECTED_PATH,
                          f"{path}: leads to a protected path: readable, never writable")
        if not policy.can_write(where):
            raise Failure(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")

    try:
        found = resolve_dir(parent, policy.can_read, policy.readable,
                            create if parents else None, aliases)
        with closing_fd(found.fd):
            if not stat.S_ISDIR(found.st.st_mode):
                raise Failure(Reason.NOT_A_DIRECTORY,
                              f"{path}: a path component is not a directory")
            dfd = reopen(found.fd, os.O_RDONLY | os.O_DIRECTORY, path)
    except Failure as exc:
        exc.metadata.update(facts)
        raise
    place = Place(path, dfd, found.real, name, tuple(join(a, name) for a in aliases), facts)
    if not policy.can_read(place.where):
        place.close()
        raise Failure(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox",
                      metadata=facts)
    return place


def under(path: str, top: str) -> bool:
    """Whether ``path`` is ``top`` or below it, for paths already normalized (the kernel's
    real paths, the server's normalized ones, a walk's lexical aliases): a prefix test by
    component, without paths.is_within's normalizing (tens of microseconds a call)."""
    return path == top or top == "/" or path.startswith(top + "/")


def require_changeable(place: Place, policy: EffectivePolicy, served_roots: Iterable[str]
                       ) -> None:
    """Refuse, saying why, unless ``place`` may be renamed away, replaced or created."""
    names = place.names()
    for root in served_roots:
        for name in names:
            if under(root, name):
                what = "is a served root" if root == name else "contains a served root"
                raise Failure(Reason.PROTECTED_PATH, f"{place.path}: {what}; it is never "
                              "moved, replaced or removed", metadata=place.facts)
    if any(policy.is_protected(name) for name in names):
        raise Failure(Reason.PROTECTED_PATH, f"{place.path}: is a protected path: readable, "
                      "never written, created, removed or renamed", metadata=place.facts)
    if not (policy.can_write(place.where) and in_writable(place.real, policy)
            and not any(holds_denied(name, policy) for name in names)):
        raise Failure(Reason.SANDBOX_DENIED, f"{place.path}: access denied by the sandbox",
                      metadata=place.facts)


def in_writable(directory: str, policy: EffectivePolicy) -> bool:
    """Whether names may be added to or removed from ``directory`` (protection is about
    the names themselves, judged on each)."""
    return (any(under(directory, w) for w in policy.writable)
            and not policy.is_denied(directory))


def holds_denied(path: str, policy: EffectivePolicy) -> bool:
    """Whether a denied path is ``path`` or lies below it (case-insensitively, as denied
    paths are matched)."""
    folded = path.casefold()
    return policy.is_denied(path) or any(under(d.casefold(), folded) for d in policy.denied)


def require_no_protected_below(top: int, bases: Iterable[str], policy: EffectivePolicy,
                               budget: Budget, path: str, facts: dict[str, str]) -> None:
    """Refuse a tree (the directory ``top``) of which an entry, named below any of
    ``bases`` (where it is, and where it would be), is protected."""
    if not policy.protected:
        return
    bases = tuple(b.rstrip("/") + "/" for b in bases)
    for rel in names_below(top, budget, path):
        if any(policy.is_protected(base + rel) for base in bases):
            raise Failure(Reason.PROTECTED_PATH, f"{path}: holds a protected path: readable, "
                          "never written, created, removed or renamed", metadata=facts)

