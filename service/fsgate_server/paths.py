"""Path strings (SPEC §2): validation, lexical normalization, containment by component.

A path is a ``str`` of at most 4096 UTF-8 bytes, no component over 255 bytes, no NUL
byte, not empty, and encodable as UTF-8 (no lone surrogates). Anything else fails with
the reason the caller names (``INVALID_PATH`` for the request path, ``INVALID_POLICY`` for
a sandbox entry), the message naming the offending field (``path``, ``sandbox.cwd``,
``sandbox.denied_paths[2]`` ...). Normalization is lexical only: ``.``, ``..``, repeated
and trailing ``/`` are resolved, ``/..`` stays ``/``, and nothing else is changed: no
``~`` expansion, no percent-decoding, no trimming, no Unicode or case folding. Symlinks
are not looked at; the kernel sandbox judges where they land. Containment is by path
component: ``/ws2`` is not within ``/ws``.

Pure functions of their arguments; policy.py builds on them and re-exports the public ones.
"""
from __future__ import annotations

from collections.abc import Iterable

from fsgate.reasons import Reason

from fsgate_server.errors import Failure

__all__ = ["MAX_NAME_BYTES", "MAX_PATH_BYTES", "check_cwd", "check_string", "is_within",
           "join", "normalize_onto", "parts", "within_any"]

MAX_PATH_BYTES = 4096
"""Longest accepted path, in UTF-8 bytes (Linux PATH_MAX)."""
MAX_NAME_BYTES = 255
"""Longest accepted path component, in UTF-8 bytes (Linux NAME_MAX)."""


def check_string(value: str, reason: Reason, what: str) -> None:
    """Raise ``Failure(reason)`` naming ``what`` unless ``value`` is an acceptable path."""
    if not value:
        raise Failure(reason, f"{what} is empty")
    if "\x00" in value:
        raise Failure(reason, f"{what} contains a NUL byte")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Failure(reason, f"{what} is not valid UTF-8") from exc
    if len(encoded) > MAX_PATH_BYTES:
        raise Failure(reason, f"{what} is longer than {MAX_PATH_BYTES} bytes")
    if any(len(name) > MAX_NAME_BYTES for name in encoded.split(b"/")):
        raise Failure(reason, f"{what} has a component longer than {MAX_NAME_BYTES} bytes")


def check_cwd(cwd: str) -> None:
    """A sandbox.cwd must be a valid absolute path, else ``INVALID_POLICY``."""
    check_string(cwd, Reason.INVALID_POLICY, "sandbox.cwd")
    if not cwd.startswith("/"):
        raise Failure(Reason.INVALID_POLICY, "sandbox.cwd is not an absolute path")


def parts(path: str) -> list[str]:
    """The components of an absolute path after lexical normalization."""
    out: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            if out:
                out.pop()
            continue
        out.append(name)
    return out


def join(components: Iterable[str]) -> str:
    return "/" + "/".join(components)


def normalize_onto(value: str, cwd: str, reason: Reason, what: str) -> str:
    """Validate ``value`` and normalize it lexically, a relative one joined onto ``cwd``
    (empty: ``CWD_REQUIRED``; invalid or relative: ``INVALID_POLICY``)."""
    check_string(value, reason, what)
    if value.startswith("/"):
        return join(parts(value))
    if not cwd:
        raise Failure(
            Reason.CWD_REQUIRED, f"{what} is relative but the request has no sandbox.cwd"
        )
    check_cwd(cwd)
    result = join(parts(f"{cwd}/{value}"))
    if len(result.encode("utf-8")) > MAX_PATH_BYTES:
        raise Failure(
            reason, f"{what} is longer than {MAX_PATH_BYTES} bytes once joined onto sandbox.cwd"
        )
    return result


def is_within(path: str, root: str) -> bool:
    """Whether absolute ``path`` is ``root`` or below it, component by component.

    Both are normalized lexically first, so ``/ws/../etc`` is not within ``/ws``, and
    ``/ws2`` is not within ``/ws``. Everything is within ``/``.
    """
    if not (path.startswith("/") and root.startswith("/")):
        raise ValueError(f"is_within needs absolute paths, got {path!r} and {root!r}")
    path_parts, root_parts = parts(path), parts(root)
    return path_parts[: len(root_parts)] == root_parts


def within_any(path: str, roots: Iterable[str]) -> bool:
    return any(is_within(path, root) for root in roots)
