"""ListDir page tokens: the last name of a page, bound to the listing it belongs to (path
and depth), so a token of another listing is refused instead of silently misused."""
from __future__ import annotations

import base64
import hashlib
import os

from fsgate.reasons import Reason

from fsgate_server.errors import Failure

__all__ = ["decode_page_token", "encode_page_token"]


def _listing_fingerprint(path: str, depth: int) -> bytes:
    return hashlib.blake2b(f"{path}\0{depth}".encode(), digest_size=8).digest()


def encode_page_token(path: str, depth: int, last: str) -> str:
    raw = _listing_fingerprint(path, depth) + os.fsencode(last)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, path: str, depth: int) -> str | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        raw = b""
    if len(raw) <= 8 or raw[:8] != _listing_fingerprint(path, depth):
        raise Failure(Reason.INVALID_REQUEST, "page_token does not belong to this listing",
                      path)
    return os.fsdecode(raw[8:])
