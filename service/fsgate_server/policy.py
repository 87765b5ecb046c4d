"""Request sandbox policies: path validation, lexical normalization, the effective policy.

Everything here is a pure function of its arguments: nothing touches the file system,
so a request can be checked (and rejected) before any helper process exists.

Paths (SPEC §2)
    Validated and normalized lexically, contained by component: see paths.py.

cwd rules (SPEC §1)
    A request is *cwd-dependent* when its path or any sandbox entry is relative
    (does not start with ``/``). A cwd-dependent request without ``sandbox.cwd`` fails
    ``CWD_REQUIRED``; its cwd must then be a valid absolute path, else
    ``INVALID_POLICY``. When nothing is relative, the cwd is ignored entirely: it is not
    validated, not required to exist and never used. Relative names are joined onto the
    cwd and normalized, so a helper never needs to chdir anywhere.

Effective policy (SPEC §1)
    The *ceiling* is the server's roots (``--root PATH[:rw|:ro]``), read as a union: a
    nested ``:ro`` root inside an ``:rw`` root does not take write access away.

    - No request policy: read every ceiling root, write every read-write ceiling root,
      deny nothing.
    - ``readable_roots`` empty: every ceiling root. Otherwise each entry is intersected
      with each ceiling root as a subtree (entry within root: the entry; root within
      entry: the root; disjoint: nothing). Entries outside the ceiling are dropped, the
      request is not failed for them; entries that all fall outside grant nothing (they
      never widen to "every root").
    - ``writable_roots``: intersected the same way with the read-write ceiling roots
      only; empty means nothing is writable. Writable entries are readable too.
    - ``denied_paths``: normalized. A readable or writable root that lies inside a denied
      path is removed; what remains of ``denied`` is exactly the denied paths strictly
      inside some remaining readable root (the others cannot matter).
    - Every list is sorted, de-duplicated, and free of entries nested in another entry.

    ``resolve`` then pre-checks the request path: outside the effective readable set (or
    writable set, for writes), or inside a denied path, is ``OUTSIDE_POLICY``, raised
    before any helper runs. The kernel sandbox remains the real enforcement: this check is
    lexical and cannot see symlinks.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from fsgate.reasons import Reason

from fsgate_server.errors import Failure
from fsgate_server.paths import MAX_NAME_BYTES, MAX_PATH_BYTES, check_cwd, is_within
from fsgate_server.paths import check_string as _check_string
from fsgate_server.paths import join as _join
from fsgate_server.paths import normalize_onto as _normalize
from fsgate_server.paths import parts as _parts
from fsgate_server.paths import within_any as _within_any
from fsgate_server.protected import is_protected, matcher_in

__all__ = [
    "MAX_NAME_BYTES",
    "MAX_PATH_BYTES",
    "MAX_POLICY_ENTRIES",
    "EffectivePolicy",
    "RequestPolicy",
    "Root",
    "check_path_string",
    "effective_policy",
    "is_cwd_dependent",
    "is_within",
    "normalize",
    "resolve",
]

MAX_POLICY_ENTRIES = 1024
"""Most entries accepted in each of readable_roots, writable_roots and denied_paths."""


@dataclass(frozen=True)
class Root:
    """One server root: a normalized absolute path and whether it may be written."""

    path: str
    writable: bool
    alias_of: str = dataclasses.field(default="", compare=False)
    """Another root's path when this root is the same directory under its real name (a root
    served through a symlink is served under both names)."""

    def __post_init__(self) -> None:
        try:
            _check_string(self.path, Reason.INVALID_PATH, "root path")
        except Failure as exc:
            raise ValueError(exc.message) from exc
        if not self.path.startswith("/"):
            raise ValueError(f"root path {self.path!r} is not absolute")
        # Frozen dataclass: normalizing in place is the documented way to fix up a field.
        object.__setattr__(self, "path", _join(_parts(self.path)))

    @classmethod
    def parse(cls, spec: str) -> Root:
        """Parse ``PATH``, ``PATH:rw`` or ``PATH:ro`` (no suffix means read-write).

        A relative PATH is taken against the current directory; the result is normalized
        lexically but not symlink-resolved (the caller decides that). A path that itself
        contains ``:`` needs an explicit suffix (``/data/a:b:ro``).
        """
        path, sep, suffix = spec.rpartition(":")
        if not sep:
            path, suffix = spec, "rw"
        elif suffix not in ("rw", "ro"):
            raise ValueError(
                f"root {spec!r}: unknown access suffix {suffix!r}; use PATH, PATH:rw or "
                "PATH:ro (a path containing ':' needs an explicit suffix)"
            )
        if not path:
            raise ValueError(f"root {spec!r}: empty path")
        if not path.startswith("/"):
            path = os.path.join(os.getcwd(), path)
        return cls(path, writable=suffix == "rw")


@dataclass(frozen=True)
class RequestPolicy:
    """Plain-data mirror of the wire ``SandboxPolicy``, so this module needs no generated code.

    Any iterable of strings is accepted for the lists and stored as a tuple (a protobuf
    repeated field can be passed as is); a bare ``str`` is refused, since iterating it
    would silently turn ``"/ws"`` into the entries ``"/"``, ``"w"``, ``"s"``.
    """

    readable_roots: tuple[str, ...] = ()
    writable_roots: tuple[str, ...] = ()
    denied_paths: tuple[str, ...] = ()
    cwd: str = ""

    def __post_init__(self) -> None:
        for name in ("readable_roots", "writable_roots", "denied_paths"):
            value = getattr(self, name)
            if isinstance(value, str | bytes):
                raise TypeError(f"RequestPolicy.{name} must be a sequence of str, not a string")
            object.__setattr__(self, name, tuple(value))


@dataclass(frozen=True)
class EffectivePolicy:
    """What a request may touch, after intersecting its policy with the server's roots.

    All entries are normalized absolute paths, sorted, de-duplicated and with nested
    entries removed. ``readable`` includes every writable entry; ``denied`` holds only
    paths strictly inside some readable entry.
    """

    readable: tuple[str, ...]
    writable: tuple[str, ...]
    denied: tuple[str, ...]
    protected: tuple[str, ...] = ()
    """Server-side globs (see protected.py): readable, never writable."""
    protection_roots: tuple[str, ...] = ()
    """The server roots (every alias of each) the globs are matched below, whatever the
    request narrows to: a request whose writable root is ``W/.git`` must not make
    ``W/.git/config`` writable. Empty: the writable entries (a policy built without a
    server, e.g. in a unit test)."""

    def can_read(self, path: str) -> bool:
        """Whether ``path`` (absolute) is within a readable root and no denied path."""
        return _within_any(path, self.readable) and not self.is_denied(path)

    def can_write(self, path: str) -> bool:
        """Whether ``path`` (absolute) is writable: within a writable root, not denied, not
        protected."""
        return (_within_any(path, self.writable) and not self.is_denied(path)
                and not self.is_protected(path))

    def is_denied(self, path: str) -> bool:
        """Denied paths match case-insensitively: on a case-insensitive file system a case
        variant reaches the same file, so it is refused everywhere."""
        if not self.denied:
            return False
        folded = path.casefold()
        return any(is_within(folded, d.casefold()) for d in self.denied)

    def is_protected(self, path: str) -> bool:
        roots = self.protection_roots or self.writable
        return bool(self.protected) and is_protected(path, roots, self.protected)

    def protected_in(self, directory: str) -> Callable[[str], bool]:
        """is_protected for the names in ``directory`` (a walk's entries), its share done
        once."""
        return matcher_in(directory, self.protection_roots or self.writable, self.protected)


def check_path_string(path: str) -> None:
    """Raise ``Failure(INVALID_PATH)`` unless ``path`` is an acceptable path string."""
    _check_string(path, Reason.INVALID_PATH, "path")


def normalize(path: str, cwd: str = "") -> str:
    """Validate ``path`` and normalize it lexically to an absolute path.

    A relative ``path`` is joined onto ``cwd``: an empty ``cwd`` is ``CWD_REQUIRED``, an
    invalid or relative one ``INVALID_POLICY``. For an absolute ``path`` the ``cwd`` is
    not looked at. Never touches the file system.
    """
    return _normalize(path, cwd, Reason.INVALID_PATH, "path")


def is_cwd_dependent(path: str, policy: RequestPolicy | None) -> bool:
    """Whether the request path or any sandbox entry is relative."""
    return any(not value.startswith("/") for value in (path, *_entries(policy)))


def effective_policy(ceiling: Sequence[Root], request: RequestPolicy | None) -> EffectivePolicy:
    """Intersect a request's policy with the ceiling (see the module docstring).

    Raises ``Failure`` (``INVALID_POLICY`` / ``CWD_REQUIRED``) for bad entries; entries
    that are merely outside the ceiling are dropped.
    """
    if request is None:
        return _effective(ceiling, None)
    _check_entries(request)
    cwd = _cwd_for(None, request)
    return _effective(ceiling, _normalized_entries(request, cwd))


def resolve(
    path: str, request: RequestPolicy | None, ceiling: Sequence[Root], *, write: bool,
    protected: Sequence[str] = (),
) -> tuple[str, EffectivePolicy]:
    """Validate and normalize a request; return its normalized path and effective policy.

    Checks, in order: the path string (``INVALID_PATH``), every sandbox entry
    (``INVALID_POLICY``), the cwd rules (``CWD_REQUIRED`` / ``INVALID_POLICY``), then
    whether the path is readable (or, with ``write``, writable) under the effective
    policy (``OUTSIDE_POLICY``).
    """
    check_path_string(path)
    if request is not None:
        _check_entries(request)
    cwd = _cwd_for(path, request)
    normalized = _normalize(path, cwd, Reason.INVALID_PATH, "path")
    if request is None:  # the server's ceiling itself: the same for every such request
        effective = _ceiling_policy(tuple(ceiling), tuple(protected))
    else:
        effective = _with_protected(
            _effective(ceiling, _normalized_entries(request, cwd)), ceiling, tuple(protected))
    if write and effective.is_protected(normalized):
        raise Failure(
            Reason.PROTECTED_PATH,
            f"{normalized} is a protected path: readable, never writable",
            normalized,
        )
    if write and not effective.can_write(normalized):
        raise Failure(
            Reason.OUTSIDE_POLICY,
            f"{normalized} is not writable under the effective sandbox policy",
            normalized,
        )
    if not write and not effective.can_read(normalized):
        raise Failure(
            Reason.OUTSIDE_POLICY,
            f"{normalized} is outside the effective sandbox policy",
            normalized,
        )
    return normalized, effective


# --- internals -------------------------------------------------------------------------

_LISTS = ("readable_roots", "writable_roots", "denied_paths")


def _entries(policy: RequestPolicy | None) -> Iterator[str]:
    if policy is not None:
        for name in _LISTS:
            yield from getattr(policy, name)


def _check_entries(request: RequestPolicy) -> None:
    for name in _LISTS:
        values: tuple[str, ...] = getattr(request, name)
        if len(values) > MAX_POLICY_ENTRIES:
            raise Failure(
                Reason.INVALID_POLICY,
                f"sandbox.{name} has {len(values)} entries; at most {MAX_POLICY_ENTRIES}",
            )
        for index, value in enumerate(values):
            _check_string(value, Reason.INVALID_POLICY, f"sandbox.{name}[{index}]")


def _cwd_for(path: str | None, request: RequestPolicy | None) -> str:
    """The cwd to join relative names onto: "" unless something is relative (then required)."""
    if not is_cwd_dependent("/" if path is None else path, request):
        return ""
    cwd = "" if request is None else request.cwd
    if not cwd:
        raise Failure(
            Reason.CWD_REQUIRED,
            "the request uses a relative path but has no sandbox.cwd to resolve it against",
        )
    check_cwd(cwd)
    return cwd


def _normalized_entries(request: RequestPolicy, cwd: str) -> RequestPolicy:
    lists = {
        name: tuple(
            _normalize(value, cwd, Reason.INVALID_POLICY, f"sandbox.{name}[{index}]")
            for index, value in enumerate(getattr(request, name))
        )
        for name in _LISTS
    }
    return RequestPolicy(**lists, cwd=cwd)


def _with_protected(effective: EffectivePolicy, ceiling: Sequence[Root],
                    protected: tuple[str, ...]) -> EffectivePolicy:
    if not protected:
        return effective
    return dataclasses.replace(effective, protected=protected,
                               protection_roots=_protection_roots(ceiling))


@functools.lru_cache(maxsize=16)  # one server has one ceiling; tests build a few
def _ceiling_policy(ceiling: tuple[Root, ...], protected: tuple[str, ...]) -> EffectivePolicy:
    """The effective policy of a request without a policy of its own (immutable: shared)."""
    return _with_protected(_effective(ceiling, None), ceiling, protected)


def _effective(ceiling: Sequence[Root], request: RequestPolicy | None) -> EffectivePolicy:
    """The effective policy for a request whose entries are already normalized."""
    every = _minimal(root.path for root in ceiling)
    read_write = _minimal(root.path for root in ceiling if root.writable)
    if request is None:
        return EffectivePolicy(readable=every, writable=read_write, denied=())
    # An empty readable_roots means every root; entries that all miss the ceiling do not.
    readable = (_intersect(_aliased(request.readable_roots, ceiling), every)
                if request.readable_roots else every)
    writable = _intersect(_aliased(request.writable_roots, ceiling), read_write)
    denied = _minimal(_aliased(request.denied_paths, ceiling))
    readable = tuple(r for r in _minimal((*readable, *writable)) if not _within_any(r, denied))
    writable = tuple(w for w in writable if not _within_any(w, denied))
    denied = tuple(d for d in denied if _within_any(d, readable))
    return EffectivePolicy(readable=readable, writable=writable, denied=denied)


def _aliased(entries: Iterable[str], ceiling: Sequence[Root]) -> list[str]:
    """Each entry, and the same place under every other name of the root it lies in: the
    helper judges the real location its descriptors report, so ``/link-ws/sub`` (a root
    served through a symlink) must also be granted, or denied, as ``/real-ws/sub``."""
    pairs = [(r.path, r.alias_of) for r in ceiling if r.alias_of]
    out = list(entries)
    if not pairs:
        return out
    for entry in list(out):
        for a, b in pairs:
            for src, dst in ((a, b), (b, a)):
                if is_within(entry, src):
                    out.append(_join([*_parts(dst), *_parts(entry)[len(_parts(src)):]]))
    return out


def _intersect(entries: Iterable[str], roots: Sequence[str]) -> tuple[str, ...]:
    """The subtrees that lie both under some entry and under some root."""
    out: list[str] = []
    for entry in entries:
        for root in roots:
            if is_within(entry, root):
                out.append(entry)
            elif is_within(root, entry):
                out.append(root)
    return _minimal(out)


def _minimal(paths: Iterable[str]) -> tuple[str, ...]:
    """Sorted, de-duplicated, and without any path nested in another one."""
    kept: list[tuple[str, ...]] = []
    # In component order every subtree follows its root contiguously, so comparing with
    # the last kept entry is enough.
    for parts in sorted({tuple(_parts(p)) for p in paths}):
        if kept and parts[: len(kept[-1])] == kept[-1]:
            continue
        kept.append(parts)
    return tuple(sorted(_join(p) for p in kept))


def _protection_roots(ceiling: Sequence[Root]) -> tuple[str, ...]:
    """Every server root, as the globs of protected.py are matched below each of them."""
    return tuple(sorted({root.path for root in ceiling}))
