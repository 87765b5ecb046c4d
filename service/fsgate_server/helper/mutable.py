"""Whether an entry may be created or removed (MakeDir, Remove), judged on where it really
is and on every other name the resolution reached it by.

An entry may change when its real location is writable (inside the writable set, not
denied, not protected), no other name of it is protected or denied, it is no served root,
and the directory that holds it is writable too: creating or removing an entry changes
that directory, and the kernel sandbox judges exactly that (Landlock's MAKE_DIR and
REMOVE_* rights are rights on the directory, bwrap's writable binds are directories), so
the helper says SANDBOX_DENIED before the kernel would, on every backend alike.

Refusals name only the request path (and, for a protected entry below it, that entry's
path relative to it: protected paths are readable, so their names are no secret).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.policy import EffectivePolicy, is_within

__all__ = ["EntryJudge", "Judge"]

EntryJudge = Callable[[str, str], "Failure | None"]
"""refusal(name, below) for the entries of one directory (Judge.entries_of)."""


class Judge:
    """The refusals of one request. ``served`` is every served root, each alias too."""

    def __init__(self, policy: EffectivePolicy, path: str, served: Sequence[str] = ()) -> None:
        self.policy = policy
        self.path = path  # the caller's path: the only one a message names unasked
        self.served = frozenset(served)

    def refusal(self, where: str, aliases: Sequence[str] = (), below: str = ""
                ) -> Failure | None:
        """Why the entry at ``where`` (also named ``aliases``) may not change, or None.
        ``below`` is its path relative to the request path, for an entry inside the tree."""
        names = (where, *aliases)
        if any(name in self.served for name in names):
            what = f"{below} is a served root" if below else "is a served root"
            return Failure(Reason.PROTECTED_PATH,
                           f"{self.path}: {what}: never removed, moved or replaced")
        if any(self.policy.is_protected(name) for name in names):
            what = f"{below} below it is" if below else "leads to"
            return Failure(Reason.PROTECTED_PATH,
                           f"{self.path}: {what} a protected path: readable, never writable")
        if not self.policy.can_write(where) or any(self.policy.is_denied(a) for a in aliases):
            what = ": an entry below it is not writable" if below else ""
            return Failure(Reason.SANDBOX_DENIED, f"{self.path}{what}: access denied by the "
                                                  "sandbox")
        return None

    def entries_of(self, directory: str, aliases: Sequence[str] = ()) -> EntryJudge:
        """``refusal`` for the entries of ``directory`` (itself already judged writable),
        with what is the same for all of them done once: a walk judges thousands."""
        dirs = (directory, *aliases)
        policy = self.policy
        if not all(policy.can_write(d) for d in dirs) or any(
                is_within(denied.casefold(), d.casefold())
                for denied in policy.denied for d in dirs):
            # a denied path below (or a directory outside the writable set): entry by entry
            return lambda name, below: self.refusal(
                _join(directory, name), tuple(_join(a, name) for a in aliases), below)
        served = {root.rsplit("/", 1)[1] for root in self.served if _parent(root) in dirs}
        protected = [policy.protected_in(d) for d in dirs]

        def refusal(name: str, below: str) -> Failure | None:
            if name in served or any(p(name) for p in protected):
                return self.refusal(_join(directory, name),
                                    tuple(_join(a, name) for a in aliases), below)
            return None

        return refusal

    def require(self, where: str, aliases: Sequence[str] = ()) -> None:
        """The request's own entry (and the directory holding it) may change, or raise."""
        refusal = self.refusal(where, aliases)
        if refusal is not None:
            raise refusal
        if any(is_within(root, name) for root in self.served for name in (where, *aliases)):
            raise Failure(Reason.PROTECTED_PATH, f"{self.path}: holds a served root: never "
                                                 "removed, moved or replaced")
        parents = [_parent(name) for name in (where, *aliases)]
        if any(self.policy.is_protected(p) for p in parents):
            raise Failure(Reason.PROTECTED_PATH, f"{self.path}: its directory is a protected "
                                                 "path: readable, never writable")
        if not self.policy.can_write(parents[0]):
            raise Failure(Reason.SANDBOX_DENIED, f"{self.path}: access denied by the sandbox "
                                                 "(its directory is not writable)")


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name
