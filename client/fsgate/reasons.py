"""The error reasons of the fsgate contract and the one gRPC status code each maps to
(public and pinned: ``fsgate.reasons``).

Both sides use this table (``CODE_NAME``; ``STATUS_CODE`` is the same as
grpc.StatusCode values, and imports grpc on first use): the server to pick a status code
for a reason, the client to pick an exception for a (code, reason) pair. Reasons travel
in google.rpc.ErrorInfo with domain ``fsgate``.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import grpc

__all__ = ["CODE_NAME", "DOMAIN", "STATUS_CODE", "Reason"]

DOMAIN = "fsgate"


class Reason(enum.StrEnum):
    INVALID_PATH = "INVALID_PATH"
    CWD_REQUIRED = "CWD_REQUIRED"
    INVALID_POLICY = "INVALID_POLICY"
    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_PATTERN = "INVALID_PATTERN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    OUTSIDE_POLICY = "OUTSIDE_POLICY"
    SANDBOX_DENIED = "SANDBOX_DENIED"
    PROTECTED_PATH = "PROTECTED_PATH"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    IS_A_DIRECTORY = "IS_A_DIRECTORY"
    NOT_A_DIRECTORY = "NOT_A_DIRECTORY"
    NOT_REGULAR_FILE = "NOT_REGULAR_FILE"
    SYMLINK_LOOP = "SYMLINK_LOOP"
    NOT_EMPTY = "NOT_EMPTY"
    NO_MATCH = "NO_MATCH"
    AMBIGUOUS_MATCH = "AMBIGUOUS_MATCH"
    NOT_TEXT = "NOT_TEXT"
    VERSION_MISMATCH = "VERSION_MISMATCH"
    TOO_LARGE = "TOO_LARGE"
    BUSY = "BUSY"
    NO_SPACE = "NO_SPACE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    SHUTTING_DOWN = "SHUTTING_DOWN"
    SANDBOX_UNAVAILABLE = "SANDBOX_UNAVAILABLE"
    HELPER_FAILED = "HELPER_FAILED"


CODE_NAME: dict[Reason, str] = {
    Reason.INVALID_PATH: "INVALID_ARGUMENT",
    Reason.CWD_REQUIRED: "INVALID_ARGUMENT",
    Reason.INVALID_POLICY: "INVALID_ARGUMENT",
    Reason.INVALID_REQUEST: "INVALID_ARGUMENT",
    Reason.INVALID_PATTERN: "INVALID_ARGUMENT",
    Reason.UNAUTHENTICATED: "UNAUTHENTICATED",
    Reason.OUTSIDE_POLICY: "PERMISSION_DENIED",
    Reason.SANDBOX_DENIED: "PERMISSION_DENIED",
    Reason.PROTECTED_PATH: "PERMISSION_DENIED",
    Reason.NOT_FOUND: "NOT_FOUND",
    Reason.ALREADY_EXISTS: "ALREADY_EXISTS",
    Reason.IS_A_DIRECTORY: "FAILED_PRECONDITION",
    Reason.NOT_A_DIRECTORY: "FAILED_PRECONDITION",
    Reason.NOT_REGULAR_FILE: "FAILED_PRECONDITION",
    Reason.SYMLINK_LOOP: "FAILED_PRECONDITION",
    Reason.NOT_EMPTY: "FAILED_PRECONDITION",
    Reason.NO_MATCH: "FAILED_PRECONDITION",
    Reason.AMBIGUOUS_MATCH: "FAILED_PRECONDITION",
    Reason.NOT_TEXT: "FAILED_PRECONDITION",
    Reason.VERSION_MISMATCH: "ABORTED",
    Reason.TOO_LARGE: "RESOURCE_EXHAUSTED",
    Reason.BUSY: "RESOURCE_EXHAUSTED",
    Reason.NO_SPACE: "RESOURCE_EXHAUSTED",
    Reason.DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
    Reason.SHUTTING_DOWN: "UNAVAILABLE",
    Reason.SANDBOX_UNAVAILABLE: "UNAVAILABLE",
    Reason.HELPER_FAILED: "INTERNAL",
}


if TYPE_CHECKING:
    STATUS_CODE: dict[Reason, grpc.StatusCode]


def __getattr__(name: str) -> Any:
    # grpc is imported on first use only: the helper process needs Reason, not grpc.
    if name == "STATUS_CODE":
        import grpc

        table = {reason: grpc.StatusCode[code] for reason, code in CODE_NAME.items()}
        globals()["STATUS_CODE"] = table
        return table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
