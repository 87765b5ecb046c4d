"""Path resolution on descriptors, one component at a time, the way the kernel would do it
but judged by the policy at every step.

No path string with more than one component ever reaches the kernel: resolution starts
from an ``O_PATH`` descriptor of ``/`` and opens each component with
``openat(parent, name, O_PATH | O_NOFOLLOW)``. Symlinks are followed here (their target is
read from the link's own descriptor; an absolute one restarts at ``/``, a relative one
continues from the link's directory), at most MAX_LINKS of them, like the kernel's ELOOP.

Before a name is looked up, where it would be (the real directory + the name, or the
parent for ``..``) must be inside the visible set or a strict ancestor of a policy root
(the way from ``/`` to the roots). Anything else is SANDBOX_DENIED *before* the lookup,
so no answer ever depends on what exists outside the policy. Each descriptor's real
location, as the kernel reports it, is checked against the location we tracked; a
directory renamed under us is judged by where it really is now. Errors are classified by
where resolution was when it failed: inside, the precise reason; elsewhere, SANDBOX_DENIED.
"""
from __future__ import annotations

import dataclasses
import errno
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.helper.resolve import classify, kernel_path
from fsgate_server.policy import EffectivePolicy, is_within

MAX_LINKS = 40  # the kernel's own bound (ELOOP)
_LOOKUP = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC

Visible = Callable[[str], bool]


@dataclass
class Resolved:
    """An ``O_PATH`` descriptor (the caller closes it) and where it really is.

    In parent mode ``fd``/``real`` are the directory that holds ``leaf``, a name that is
    not a symlink there (``leaf_st`` is its lstat, None when nothing has that name yet);
    ``leaf`` is None when the path ends in a directory of its own (a link to ``..``)."""

    fd: int
    real: str
    st: os.stat_result
    leaf: str | None = None
    leaf_st: os.stat_result | None = None


def join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _where(parts: Sequence[str]) -> str:
    return "/" + "/".join(parts)


def _names(path: str) -> list[str]:
    """The components of a path (or link target), without empty ones and ``.``."""
    return [p for p in path.split("/") if p not in ("", ".")]


def _denied(path: str) -> Failure:
    return Failure(Reason.SANDBOX_DENIED, f"{path}: access denied by the sandbox")


class _Walk:
    def __init__(self, path: str, visible: Visible, roots: Sequence[str]) -> None:
        self.path = path  # the caller's path: the only one any message names
        self.visible = visible
        self.roots = tuple(roots)
        self.links = 0
        self.fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.parts: list[str] = []
        # A stack of (name, from the request path itself) still to resolve, last on top.
        self.todo: list[tuple[str, bool]] = [(n, True) for n in reversed(_names(path))]
        # Every other name the target is reached by: at each link followed, the link's own
        # location plus what is left of the path, spelled lexically. ``cfg -> .git/config``
        # with ``.git -> gitdir`` ends in ``gitdir/config``, but passes through the name
        # ``.git/config``: protected paths are judged on these too (writing.py).
        self.aliases: list[str] = []

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def allowed(self, where: str) -> bool:
        return self.visible(where) or any(
            root != where and is_within(root, where) for root in self.roots)

    def _candidate(self, name: str) -> list[str]:
        return self.parts[:-1] if name == ".." else [*self.parts, name]

    def _lookup(self, name: str) -> tuple[int, os.stat_result, list[str]]:
        """Open one component below the current directory, after judging where it is."""
        cand = self._candidate(name)
        where = _where(cand)
        if not self.allowed(where):
            raise _denied(self.path)
        fd = os.open(name, _LOOKUP, dir_fd=self.fd)  # OSError: the caller classifies
        try:
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode):
                return fd, st, cand  # a link's own location is where we looked it up
            real = kernel_path(fd)
            if real != where:  # moved under us: judge where it really is now
                if real is None or not self.allowed(real):
                    raise _denied(self.path)
                cand = _names(real)
        except BaseException:
            os.close(fd)
            raise
        return fd, st, cand

    def _error(self, exc: OSError, name: str) -> Failure:
        return classify(exc, self.path, self.visible(_where(self._candidate(name))))

    def _follow(self, link_fd: int, where: list[str]) -> None:
        """Replace the link (looked up at ``where``, already off the stack) by its target's
        components."""
        self.links += 1
        if self.links > MAX_LINKS:
            raise Failure(Reason.SYMLINK_LOOP, f"{self.path}: too many levels of symbolic links")
        self.aliases.append(_where(_lexical([*where, *(n for n, _ in reversed(self.todo))])))
        target = os.readlink("", dir_fd=link_fd)
        if target.startswith("/"):
            self.close()
            self.fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            self.parts = []
        self.todo.extend((n, False) for n in reversed(_names(target)))

    def _enter(self, fd: int, cand: list[str]) -> None:
        self.close()
        self.fd, self.parts = fd, cand

    def step(self, *, follow: bool, create: Callable[[str], None] | None = None) -> None:
        """Resolve the component on top of the stack."""
        name, ours = self.todo.pop()
        if name == ".." and not self.parts:
            return  # "/.." is "/"
        last = not self.todo
        try:
            fd, st, cand = self._lookup(name)
        except OSError as exc:
            if not (create and ours and exc.errno == errno.ENOENT and name != ".."):
                raise self._error(exc, name) from exc
            # create_parents: only names of the request path itself, never a link's target.
            create(_where(self._candidate(name)))
            try:
                os.mkdir(name, 0o755, dir_fd=self.fd)
            except FileExistsError:
                pass  # a concurrent writer made it
            except OSError as exc2:
                raise self._error(exc2, name) from exc2
            self.todo.append((name, ours))
            return  # looked up again, as anything else (it may be a link by now)
        if stat.S_ISLNK(st.st_mode) and (follow or not last):
            try:
                self._follow(fd, cand)
            finally:
                os.close(fd)
            return
        self._enter(fd, cand)

    def finish(self) -> Resolved:
        where = _where(self.parts)
        if not self.visible(where):
            raise _denied(self.path)
        real = kernel_path(self.fd)
        if real is None or (real != where and not self.visible(real)):
            raise _denied(self.path)
        fd, self.fd = self.fd, -1
        return Resolved(fd, real, os.fstat(fd))


def resolve(path: str, visible: Visible, roots: Sequence[str], *, follow: bool) -> Resolved:
    """An ``O_PATH`` descriptor for what ``path`` names (its last link followed or not)."""
    walk = _Walk(path, visible, roots)
    try:
        while walk.todo:
            walk.step(follow=follow)
        return walk.finish()
    finally:
        walk.close()


def resolve_dir(path: str, visible: Visible, roots: Sequence[str],
                create: Callable[[str], None] | None = None,
                aliases: list[str] | None = None) -> Resolved:
    """``resolve`` with every link followed, and, with ``create`` and ``aliases``, what
    resolve_parent does with them: the directory a rename or copy lands in (the caller
    checks that it is one), its missing components made when ``create`` allows each."""
    walk = _Walk(path, visible, roots)
    if aliases is not None:
        walk.aliases = aliases
    try:
        while walk.todo:
            walk.step(follow=True, create=create)
        return walk.finish()
    finally:
        walk.close()


def resolve_parent(path: str, visible: Visible, roots: Sequence[str],
                   create: Callable[[str], None] | None = None,
                   aliases: list[str] | None = None, *, follow_leaf: bool = True) -> Resolved:
    """The directory that holds what ``path`` names once every link is followed, and the
    name in it. With ``create``, missing directories of the path are made (``create`` is
    told each location first and raises to refuse). ``aliases``, if given, is the list
    the walk appends every other name of the target to, as it follows links (see
    _Walk.aliases): it is already filled when ``create`` is called. Without
    ``follow_leaf`` the last component is never followed: a link there is the leaf itself
    (what MakeDir and Remove act on), and leaf is None only for ``/``."""
    walk = _Walk(path, visible, roots)
    if aliases is not None:
        walk.aliases = aliases
    try:
        while walk.todo:
            name, _ = walk.todo[-1]
            if len(walk.todo) > 1 or name == "..":
                walk.step(follow=True, create=create)
                continue
            leaf = _leaf(walk, name, follow=follow_leaf)
            if leaf is not None:
                return leaf
        return walk.finish()  # ends in a directory of its own: leaf is None
    finally:
        walk.close()


def _leaf(walk: _Walk, name: str, *, follow: bool = True) -> Resolved | None:
    """The last component: what is there now (or nothing), unless it is a link to follow."""
    if not walk.allowed(_where([*walk.parts, name])):
        raise _denied(walk.path)
    try:
        fd = os.open(name, _LOOKUP, dir_fd=walk.fd)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise walk._error(exc, name) from exc
        leaf_st = None
    else:
        try:
            leaf_st = os.fstat(fd)
            if follow and stat.S_ISLNK(leaf_st.st_mode):
                walk.todo.pop()
                walk._follow(fd, [*walk.parts, name])
                return None
        finally:
            os.close(fd)
    parent = walk.finish()
    parent.leaf, parent.leaf_st = name, leaf_st
    return parent


def leads_to(path: str, visible: Visible, roots: Sequence[str]) -> str | None:
    """Where ``path`` leads once every link is followed, as far as it exists; a missing
    part is taken as named. None if that cannot be told inside the visible set."""
    walk = _Walk(path, visible, roots)
    try:
        while walk.todo:
            name, _ = walk.todo[-1]
            try:
                walk.step(follow=True)
            except Failure as exc:
                # Missing, or the way passes outside what may be looked at (``alias ->
                # ../../outside/../ws/private``): the rest is taken as spelled. Never looked
                # up outside (what is denied must not depend on what exists there), but the
                # target as spelled is denied all the same, so another alias cannot reach it.
                if exc.reason not in (Reason.NOT_FOUND, Reason.SANDBOX_DENIED):
                    return None
                rest = [n for n, _ in reversed(walk.todo)]
                where = _where(_lexical([*walk.parts, name, *rest]))
                return where if visible(where) else None
        found = walk.finish()
        os.close(found.fd)
        return found.real
    except Failure:
        return None
    finally:
        walk.close()


def _lexical(parts: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in parts:
        if name == "..":
            if out:
                out.pop()
        else:
            out.append(name)
    return out


def enforced(policy: EffectivePolicy) -> EffectivePolicy:
    """The policy with every denied path also denied where it resolves to, now: a denied
    link (``alias -> private``) denies ``private``, reached by whatever name, and a denied
    path through a link (``link/sub``, ``link -> real``) denies ``real/sub``. The lexical
    entries stay. A denied path that leads to a whole root denies that root."""
    if not policy.denied:
        return policy
    anywhere = dataclasses.replace(policy, denied=())  # a denied path leads anywhere readable
    extra = []
    for entry in policy.denied:
        real = leads_to(entry, anywhere.can_read, policy.readable)
        if real is not None and real != entry:
            extra.append(real)
    if not extra:
        return policy
    return dataclasses.replace(policy, denied=tuple(sorted({*policy.denied, *extra})))
