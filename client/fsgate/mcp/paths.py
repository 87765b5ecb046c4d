"""Relative tool paths, resolved the way the reference server does: against the served
roots (the first root whose tree the lexically joined path stays in, else the first root).

The result is only a request: the fsgate server normalizes it again and judges it, by
component and by where symlinks land, in a confined helper. No ``~`` expansion (SPEC §2:
names are taken literally).
"""
from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence

__all__ = ["inside", "resolve", "root_path"]


def inside(path: str, root: str) -> bool:
    """``path`` is ``root`` or below it, by component (``/ws2`` is not inside ``/ws``)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def resolve(path: str, roots: Sequence[str]) -> str:
    """``path`` if absolute; else joined to the first root it stays inside."""
    if path.startswith("/") or not roots:
        return path
    for root in roots:
        candidate = posixpath.normpath(posixpath.join(root, path))
        if inside(candidate, root):
            return candidate
    return posixpath.normpath(posixpath.join(roots[0], path))


def root_path(spec: str) -> str:
    """The absolute directory of a ``--root PATH[:rw|:ro]``."""
    for suffix in (":ro", ":rw"):
        spec = spec.removesuffix(suffix)
    return os.path.abspath(spec)
