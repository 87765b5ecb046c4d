"""The one exception every part of the server raises for a failure the caller is told
about (policy checks, helpers, backends, handlers), and the shortening of the paths it
carries. Free of grpc: the confined helper raises it too. It becomes a gRPC status in one
place, at the transport boundary (transport/status.py).

A whole error (message plus ErrorInfo, sent base64 in the trailing metadata) must fit a
client's default 8 KiB metadata limit whatever the path's length (SPEC §3), so every path it
carries is shortened on the way out (``shorten``, ``shorten_message``).
"""
from __future__ import annotations

from collections.abc import Mapping

from fsgate.reasons import Reason

__all__ = ["ELLIPSIS", "MAX_MESSAGE_BYTES", "MAX_PATH_IN_ERROR", "Failure", "shorten",
           "shorten_message"]

MAX_PATH_IN_ERROR = 512
"""Most UTF-8 bytes of one path in an error's message or metadata; longer ones keep head and
tail around an ellipsis."""
MAX_MESSAGE_BYTES = 1024
"""Most UTF-8 bytes of a whole error message (it may quote more than one path). Non-ASCII
is percent-encoded in grpc-message, and the message is repeated in the details: 1 KiB
keeps the worst case far below 8 KiB."""
ELLIPSIS = "\u2026"


def shorten(text: str, limit: int = MAX_PATH_IN_ERROR) -> str:
    """``text`` if it fits ``limit`` UTF-8 bytes, else its head and tail around an ellipsis,
    never splitting a character. Lone surrogates (escaped bytes) are dropped from a shortened
    result, which is always valid UTF-8."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    keep = max(limit - len(ELLIPSIS.encode()), 0)
    head = data[: keep - keep // 2].decode("utf-8", "ignore")
    tail = data[len(data) - keep // 2:].decode("utf-8", "ignore") if keep // 2 else ""
    return head + ELLIPSIS + tail


def shorten_message(message: str, paths: tuple[str, ...] = ()) -> str:
    """``message`` with each long path of ``paths`` in it shortened, then bounded as a whole."""
    for path in sorted(set(paths), key=len, reverse=True):
        if path and path in message and len(path.encode("utf-8", "surrogatepass")) > \
                MAX_PATH_IN_ERROR:
            message = message.replace(path, shorten(path))
    return shorten(message, MAX_MESSAGE_BYTES)


class Failure(Exception):
    """A failure the caller is told about: a contract reason, a message for people, and the
    normalized request path when there is one (the caller's own input, safe to echo; empty
    for invalid paths, which may not even be representable in an error detail)."""

    def __init__(self, reason: Reason, message: str, path: str = "", *,
                 metadata: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.path = path
        # More ErrorInfo metadata beside ``path`` (e.g. EditFile's ``edit`` and ``count``);
        # short values only (each is shortened like a path on the way out).
        self.metadata: dict[str, str] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"Failure({self.reason!s}, {self.message!r}, path={self.path!r})"
