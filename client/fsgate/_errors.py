"""The client's one exception tree, and the one table that maps gRPC errors onto it.

Every failed RPC surfaces as a subclass of :class:`FsgateError`, chosen from the gRPC
status code and the ``google.rpc.ErrorInfo`` reason (domain ``fsgate``) the server
attached. Each class also subclasses the matching built-in, so ``except
FileNotFoundError`` and ``except fsgate.NotFound`` both work.

Lookup order (see :data:`_EXCEPTIONS`): the exact ``(code, reason)`` row, then the row for
the code alone, then :class:`FsgateError`. A reason this client does not know, an
ErrorInfo from another domain, or no ErrorInfo at all (e.g. UNAVAILABLE when nothing
listens, DEADLINE_EXCEEDED from the client's own deadline) therefore map by code.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import Any, cast

import grpc
import grpc.aio
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from fsgate.reasons import DOMAIN, Reason

__all__ = [
    "AlreadyExists",
    "AmbiguousMatch",
    "Busy",
    "CwdRequired",
    "DeadlineExceeded",
    "EditMismatch",
    "FailedPrecondition",
    "FsgateError",
    "HelperFailed",
    "InvalidArgument",
    "InvalidPath",
    "InvalidPattern",
    "InvalidPolicy",
    "InvalidRequest",
    "IsADirectory",
    "NoMatch",
    "NoSpace",
    "NotADirectory",
    "NotEmpty",
    "NotFound",
    "NotRegularFile",
    "NotText",
    "OutsidePolicy",
    "PermissionDenied",
    "ProtectedPath",
    "ResourceExhausted",
    "SandboxDenied",
    "SandboxUnavailable",
    "ShuttingDown",
    "SymlinkLoop",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "VersionMismatch",
    "exception_for",
    "from_rpc_error",
]


class FsgateError(Exception):
    """Base of every error the fsgate client raises for a failed call.

    Attributes:
        code: the gRPC status code.
        reason: the fsgate reason from the ErrorInfo detail, or None when the server sent
            none (or one this client does not know).
        message: the human-readable status message. ``str(error)`` is this message.
        metadata: the ErrorInfo metadata (e.g. ``{"path": "/ws/a"}``); empty without one.
        path: the normalized path the server reported, else the path the call named, else
            None. OSError subclasses also carry it as ``filename``.
    """

    #: The code an instance gets when constructed without one.
    default_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    code: grpc.StatusCode
    reason: Reason | None
    message: str
    metadata: dict[str, str]
    path: str | None

    def __init__(
        self,
        message: str = "",
        *,
        code: grpc.StatusCode | None = None,
        reason: Reason | None = None,
        metadata: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        # One positional argument: OSError then leaves errno/strerror unset, as wanted.
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.path = path
        if isinstance(self, OSError):
            os_error: OSError = self
            os_error.filename = path

    def __str__(self) -> str:
        # OSError.__str__ would print "[Errno None] None: 'path'" once filename is set.
        return self.message

    def __repr__(self) -> str:
        reason = self.reason.value if self.reason is not None else None
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code.name}, "
            f"reason={reason!r}, path={self.path!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The default (type, args, __dict__) loses keyword-only fields and OSError.filename.
        return (_rebuild, (type(self), self.message, self.code, self.reason, self.metadata,
                           self.path))


def _rebuild(
    cls: type[FsgateError],
    message: str,
    code: grpc.StatusCode,
    reason: Reason | None,
    metadata: dict[str, str],
    path: str | None,
) -> FsgateError:
    return cls(message, code=code, reason=reason, metadata=metadata, path=path)


# --- INVALID_ARGUMENT ---------------------------------------------------------------------
class InvalidArgument(FsgateError, ValueError):
    """The request was malformed (INVALID_ARGUMENT)."""

    default_code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidPath(InvalidArgument):
    """Empty path, NUL byte, or a component/path over the length limits."""


class CwdRequired(InvalidArgument):
    """The path or a policy entry is relative, and the policy has no ``cwd``."""


class InvalidPolicy(InvalidArgument):
    """The request's sandbox policy is malformed."""


class InvalidRequest(InvalidArgument):
    """A field is out of range (chunk size, depth, page token, file mode, ...)."""


class InvalidPattern(InvalidArgument):
    """A Search regex or a glob does not parse."""


# --- UNAUTHENTICATED / PERMISSION_DENIED --------------------------------------------------
class Unauthenticated(FsgateError, PermissionError):
    """The call carried no valid credentials (UNAUTHENTICATED)."""

    default_code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(FsgateError, PermissionError):
    """The operation is not allowed (PERMISSION_DENIED)."""

    default_code = grpc.StatusCode.PERMISSION_DENIED


class OutsidePolicy(PermissionDenied):
    """The path is outside the effective policy; rejected before any helper ran."""


class SandboxDenied(PermissionDenied):
    """The kernel sandbox refused the access."""


class ProtectedPath(PermissionDenied):
    """The path is protected by the server and never writable."""


# --- NOT_FOUND / ALREADY_EXISTS -----------------------------------------------------------
class NotFound(FsgateError, FileNotFoundError):
    """The path does not exist (NOT_FOUND)."""

    default_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(FsgateError, FileExistsError):
    """Something exists at the path of a create-new write (ALREADY_EXISTS)."""

    default_code = grpc.StatusCode.ALREADY_EXISTS


# --- FAILED_PRECONDITION ------------------------------------------------------------------
class FailedPrecondition(FsgateError):
    """The object at the path is of the wrong kind (FAILED_PRECONDITION)."""

    default_code = grpc.StatusCode.FAILED_PRECONDITION


class IsADirectory(FailedPrecondition, IsADirectoryError):
    """A file operation named a directory."""


class NotADirectory(FailedPrecondition, NotADirectoryError):
    """A directory operation (or a path component) named a non-directory."""


class NotRegularFile(FailedPrecondition):
    """The path names a FIFO, socket or device."""


class SymlinkLoop(FailedPrecondition):
    """Too many levels of symbolic links."""


class NotEmpty(FailedPrecondition, OSError):
    """A directory is not empty (Remove without ``recursive``, Move onto one); errno
    ENOTEMPTY, like the built-in ``OSError`` it also is."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errno = errno.ENOTEMPTY


class EditMismatch(FailedPrecondition):
    """An EditFile edit did not match as required: ``.edit`` is its 0-based index,
    ``.count`` how often its ``old_text`` occurs (from the ErrorInfo metadata)."""

    @property
    def edit(self) -> int | None:
        return _int_or_none(self.metadata.get("edit"))

    @property
    def count(self) -> int | None:
        return _int_or_none(self.metadata.get("count"))


class NoMatch(EditMismatch):
    """An EditFile ``old_text`` does not occur."""


class AmbiguousMatch(EditMismatch):
    """An EditFile ``old_text`` occurs more than once (``.count`` times) without
    ``replace_all``."""


class NotText(FailedPrecondition):
    """The file is not UTF-8 text."""


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --- ABORTED ------------------------------------------------------------------------------
class VersionMismatch(FsgateError):
    """``if_version`` did not match the file's current version (ABORTED)."""

    default_code = grpc.StatusCode.ABORTED


# --- RESOURCE_EXHAUSTED -------------------------------------------------------------------
class ResourceExhausted(FsgateError):
    """A server limit was hit (RESOURCE_EXHAUSTED)."""

    default_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class TooLarge(ResourceExhausted):
    """The read or write exceeds the server's size limit."""


class Busy(ResourceExhausted):
    """The server runs its maximum number of helpers; retry later."""


class NoSpace(ResourceExhausted):
    """The file system is full."""


# --- DEADLINE_EXCEEDED / UNAVAILABLE / INTERNAL -------------------------------------------
class DeadlineExceeded(FsgateError, TimeoutError):
    """The call's deadline passed, on the client or in the server's helper."""

    default_code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unavailable(FsgateError, ConnectionError):
    """The server cannot be reached or cannot serve now (UNAVAILABLE)."""

    default_code = grpc.StatusCode.UNAVAILABLE


class ShuttingDown(Unavailable):
    """The server is shutting down."""


class SandboxUnavailable(Unavailable):
    """The server's sandbox backend does not work at the moment."""


class HelperFailed(FsgateError):
    """The helper crashed or broke protocol (INTERNAL); the server keeps serving."""

    default_code = grpc.StatusCode.INTERNAL


_C = grpc.StatusCode

#: The one table: (status code, reason) -> exception class. ``None`` rows are the
#: fallback for a code whose reason is missing or unknown.
_EXCEPTIONS: dict[tuple[grpc.StatusCode, Reason | None], type[FsgateError]] = {
    (_C.INVALID_ARGUMENT, None): InvalidArgument,
    (_C.INVALID_ARGUMENT, Reason.INVALID_PATH): InvalidPath,
    (_C.INVALID_ARGUMENT, Reason.CWD_REQUIRED): CwdRequired,
    (_C.INVALID_ARGUMENT, Reason.INVALID_POLICY): InvalidPolicy,
    (_C.INVALID_ARGUMENT, Reason.INVALID_REQUEST): InvalidRequest,
    (_C.INVALID_ARGUMENT, Reason.INVALID_PATTERN): InvalidPattern,
    (_C.UNAUTHENTICATED, None): Unauthenticated,
    (_C.UNAUTHENTICATED, Reason.UNAUTHENTICATED): Unauthenticated,
    (_C.PERMISSION_DENIED, None): PermissionDenied,
    (_C.PERMISSION_DENIED, Reason.OUTSIDE_POLICY): OutsidePolicy,
    (_C.PERMISSION_DENIED, Reason.SANDBOX_DENIED): SandboxDenied,
    (_C.PERMISSION_DENIED, Reason.PROTECTED_PATH): ProtectedPath,
    (_C.NOT_FOUND, None): NotFound,
    (_C.NOT_FOUND, Reason.NOT_FOUND): NotFound,
    (_C.ALREADY_EXISTS, None): AlreadyExists,
    (_C.ALREADY_EXISTS, Reason.ALREADY_EXISTS): AlreadyExists,
    (_C.FAILED_PRECONDITION, None): FailedPrecondition,
    (_C.FAILED_PRECONDITION, Reason.IS_A_DIRECTORY): IsADirectory,
    (_C.FAILED_PRECONDITION, Reason.NOT_A_DIRECTORY): NotADirectory,
    (_C.FAILED_PRECONDITION, Reason.NOT_REGULAR_FILE): NotRegularFile,
    (_C.FAILED_PRECONDITION, Reason.SYMLINK_LOOP): SymlinkLoop,
    (_C.FAILED_PRECONDITION, Reason.NOT_EMPTY): NotEmpty,
    (_C.FAILED_PRECONDITION, Reason.NO_MATCH): NoMatch,
    (_C.FAILED_PRECONDITION, Reason.AMBIGUOUS_MATCH): AmbiguousMatch,
    (_C.FAILED_PRECONDITION, Reason.NOT_TEXT): NotText,
    (_C.ABORTED, None): VersionMismatch,
    (_C.ABORTED, Reason.VERSION_MISMATCH): VersionMismatch,
    (_C.RESOURCE_EXHAUSTED, None): ResourceExhausted,
    (_C.RESOURCE_EXHAUSTED, Reason.TOO_LARGE): TooLarge,
    (_C.RESOURCE_EXHAUSTED, Reason.BUSY): Busy,
    (_C.RESOURCE_EXHAUSTED, Reason.NO_SPACE): NoSpace,
    (_C.DEADLINE_EXCEEDED, None): DeadlineExceeded,
    (_C.DEADLINE_EXCEEDED, Reason.DEADLINE_EXCEEDED): DeadlineExceeded,
    (_C.UNAVAILABLE, None): Unavailable,
    (_C.UNAVAILABLE, Reason.SHUTTING_DOWN): ShuttingDown,
    (_C.UNAVAILABLE, Reason.SANDBOX_UNAVAILABLE): SandboxUnavailable,
    (_C.INTERNAL, None): HelperFailed,
    (_C.INTERNAL, Reason.HELPER_FAILED): HelperFailed,
}


def exception_for(code: grpc.StatusCode, reason: Reason | None) -> type[FsgateError]:
    """The exception class for a status code and reason (see the module docstring)."""
    return _EXCEPTIONS.get((code, reason)) or _EXCEPTIONS.get((code, None)) or FsgateError


def _error_info(status: Any) -> error_details_pb2.ErrorInfo | None:
    """The first ErrorInfo of domain ``fsgate`` in a google.rpc.Status, if any."""
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info) and info.domain == DOMAIN:
                return info
    return None


def from_rpc_error(exc: grpc.RpcError, *, path: str | None = None) -> FsgateError:
    """Map a gRPC error to the matching :class:`FsgateError`; raise it ``from exc``.

    ``path`` is the path the call named; it fills ``.path`` when the server's ErrorInfo
    metadata carries none (e.g. the client's own deadline or an unreachable server).
    """
    if isinstance(exc, (grpc.Call, grpc.aio.AioRpcError)):
        # A failed blocking call is a grpc.Call; grpc.aio raises AioRpcError, which has the
        # same synchronous code() / details() / trailing_metadata().
        code = exc.code() or grpc.StatusCode.UNKNOWN
        message = exc.details() or ""
        try:
            # from_call reads only code(), details() and trailing_metadata().
            status = rpc_status.from_call(cast(grpc.Call, exc))
        except ValueError:
            # The status detail contradicts the call's code or message: ignore the detail.
            status = None
    else:  # An RpcError that is not a call carries nothing to decode.
        code, message, status = grpc.StatusCode.UNKNOWN, str(exc), None

    info = _error_info(status)
    reason: Reason | None = None
    metadata: dict[str, str] = {}
    if info is not None:
        metadata = dict(info.metadata)
        try:
            reason = Reason(info.reason)
        except ValueError:
            reason = None  # a newer server's reason: the code still picks the class
    cls = exception_for(code, reason)
    return cls(
        message,
        code=code,
        reason=reason,
        metadata=metadata,
        path=metadata.get("path") or path,
    )
