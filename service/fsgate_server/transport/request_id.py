"""The request id: taken from the caller's ``x-request-id`` metadata or generated.

It is logged with the request and returned in the trailing metadata, so a caller can find
its request in the server log. A caller's id is untrusted input that ends up in log lines:
one that is too long or holds anything but a few safe characters is replaced, never cleaned.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

__all__ = ["HEADER", "MAX_LENGTH", "from_metadata", "new"]

HEADER = "x-request-id"
MAX_LENGTH = 128
_SAFE = re.compile(r"[A-Za-z0-9._:/+=-]+")


def new() -> str:
    return uuid.uuid4().hex


def from_metadata(metadata: Iterable[Any] | None) -> str:
    """The caller's ``x-request-id`` when it is short and safe to log, else a new uuid4 hex."""
    for item in metadata or ():
        key, value = item[0], item[1]
        if key != HEADER:
            continue
        if isinstance(value, str) and len(value) <= MAX_LENGTH and _SAFE.fullmatch(value):
            return value
        break
    return new()
