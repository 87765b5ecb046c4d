"""The exception tree and the (code, reason) -> exception table."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import fsgate
import grpc
import pytest
from fsgate._errors import exception_for, from_rpc_error
from fsgate.reasons import STATUS_CODE, Reason
from google.rpc import status_pb2

from . import status_with_reason

#: What each reason must raise, written out independently of the implementation's table.
EXPECTED: dict[Reason, tuple[type[fsgate.FsgateError], type[BaseException] | None]] = {
    Reason.INVALID_PATH: (fsgate.InvalidPath, ValueError),
    Reason.CWD_REQUIRED: (fsgate.CwdRequired, ValueError),
    Reason.INVALID_POLICY: (fsgate.InvalidPolicy, ValueError),
    Reason.INVALID_REQUEST: (fsgate.InvalidRequest, ValueError),
    Reason.UNAUTHENTICATED: (fsgate.Unauthenticated, PermissionError),
    Reason.OUTSIDE_POLICY: (fsgate.OutsidePolicy, PermissionError),
    Reason.SANDBOX_DENIED: (fsgate.SandboxDenied, PermissionError),
    Reason.PROTECTED_PATH: (fsgate.ProtectedPath, PermissionError),
    Reason.NOT_FOUND: (fsgate.NotFound, FileNotFoundError),
    Reason.ALREADY_EXISTS: (fsgate.AlreadyExists, FileExistsError),
    Reason.IS_A_DIRECTORY: (fsgate.IsADirectory, IsADirectoryError),
    Reason.NOT_A_DIRECTORY: (fsgate.NotADirectory, NotADirectoryError),
    Reason.NOT_REGULAR_FILE: (fsgate.NotRegularFile, None),
    Reason.SYMLINK_LOOP: (fsgate.SymlinkLoop, None),
    Reason.VERSION_MISMATCH: (fsgate.VersionMismatch, None),
    Reason.TOO_LARGE: (fsgate.TooLarge, None),
    Reason.BUSY: (fsgate.Busy, None),
    Reason.NO_SPACE: (fsgate.NoSpace, None),
    Reason.DEADLINE_EXCEEDED: (fsgate.DeadlineExceeded, TimeoutError),
    Reason.SHUTTING_DOWN: (fsgate.ShuttingDown, ConnectionError),
    Reason.SANDBOX_UNAVAILABLE: (fsgate.SandboxUnavailable, ConnectionError),
    Reason.HELPER_FAILED: (fsgate.HelperFailed, None),
    Reason.INVALID_PATTERN: (fsgate.InvalidPattern, ValueError),
    Reason.NOT_EMPTY: (fsgate.NotEmpty, OSError),
    Reason.NO_MATCH: (fsgate.NoMatch, None),
    Reason.AMBIGUOUS_MATCH: (fsgate.AmbiguousMatch, None),
    Reason.NOT_TEXT: (fsgate.NotText, None),
}

#: The class a bare status code (no ErrorInfo) maps to.
BY_CODE: dict[grpc.StatusCode, type[fsgate.FsgateError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: fsgate.InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: fsgate.Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: fsgate.PermissionDenied,
    grpc.StatusCode.NOT_FOUND: fsgate.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: fsgate.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: fsgate.FailedPrecondition,
    grpc.StatusCode.ABORTED: fsgate.VersionMismatch,
    grpc.StatusCode.RESOURCE_EXHAUSTED: fsgate.ResourceExhausted,
    grpc.StatusCode.DEADLINE_EXCEEDED: fsgate.DeadlineExceeded,
    grpc.StatusCode.UNAVAILABLE: fsgate.Unavailable,
    grpc.StatusCode.INTERNAL: fsgate.HelperFailed,
    grpc.StatusCode.CANCELLED: fsgate.FsgateError,
    grpc.StatusCode.UNKNOWN: fsgate.FsgateError,
    grpc.StatusCode.UNIMPLEMENTED: fsgate.FsgateError,
}


class FakeRpcError(grpc.RpcError, grpc.Call):
    """What a failed call raises: an RpcError that is also the Call, status in trailers."""

    def __init__(self, code: grpc.StatusCode, message: str,
                 status: status_pb2.Status | None = None) -> None:
        super().__init__(message)
        self._code, self._message = code, message
        self._trailers: Sequence[tuple[str, Any]] = (
            (("grpc-status-details-bin", status.SerializeToString()),) if status else ()
        )

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message

    # grpc-stubs types RpcError's and Call's trailing_metadata incompatibly: no type fits both.
    def trailing_metadata(self) -> Sequence[tuple[str, Any]]:  # type: ignore[override]
        return self._trailers

    def initial_metadata(self) -> grpc.Metadata:
        return ()

    def is_active(self) -> bool:
        return False

    # grpc returns None when the call has no deadline; grpc-stubs says float.
    def time_remaining(self) -> float | None:  # type: ignore[override]
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def rpc_error(code: grpc.StatusCode, message: str, reason: str | None = None,
              **kwargs: Any) -> FakeRpcError:
    return FakeRpcError(code, message, status_with_reason(code, message, reason, **kwargs)
                        if reason is not None else None)


def test_expectations_cover_every_reason() -> None:
    assert set(EXPECTED) == set(Reason)


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_each_reason_maps_to_its_class_and_builtin(reason: Reason) -> None:
    cls, builtin = EXPECTED[reason]
    code = STATUS_CODE[reason]
    exc = from_rpc_error(rpc_error(code, "it failed", reason, metadata={"path": "/ws/a"}))

    assert type(exc) is cls
    if builtin is not None:
        assert isinstance(exc, builtin)
    assert exc.code is code
    assert exc.reason is reason
    assert exc.message == "it failed"
    assert str(exc) == "it failed"
    assert exc.metadata == {"path": "/ws/a"}
    assert exc.path == "/ws/a"


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_each_reason_class_is_the_code_class_or_below_it(reason: Reason) -> None:
    assert issubclass(exception_for(STATUS_CODE[reason], reason),
                      exception_for(STATUS_CODE[reason], None))


@pytest.mark.parametrize("code", list(BY_CODE), ids=lambda c: c.name)
def test_status_without_error_info_maps_by_code(code: grpc.StatusCode) -> None:
    exc = from_rpc_error(FakeRpcError(code, "plain grpc error"))

    assert type(exc) is BY_CODE[code]
    assert exc.code is code
    assert exc.reason is None
    assert exc.metadata == {}
    assert exc.message == "plain grpc error"


def test_unknown_reason_maps_by_code() -> None:
    exc = from_rpc_error(rpc_error(grpc.StatusCode.PERMISSION_DENIED, "no", "NEW_REASON"))

    assert type(exc) is fsgate.PermissionDenied
    assert exc.reason is None


def test_error_info_of_another_domain_is_ignored() -> None:
    err = rpc_error(grpc.StatusCode.NOT_FOUND, "nope", "SANDBOX_DENIED",
                    domain="googleapis.com", metadata={"path": "/secret"})
    exc = from_rpc_error(err)

    assert type(exc) is fsgate.NotFound
    assert exc.reason is None
    assert exc.metadata == {}
    assert exc.path is None


def test_reason_under_the_wrong_code_maps_by_code() -> None:
    exc = from_rpc_error(rpc_error(grpc.StatusCode.INTERNAL, "odd", "NOT_FOUND"))

    assert type(exc) is fsgate.HelperFailed
    assert exc.reason is Reason.NOT_FOUND


def test_status_detail_contradicting_the_call_is_ignored() -> None:
    status = status_with_reason(grpc.StatusCode.NOT_FOUND, "other message", "NOT_FOUND")
    exc = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down", status))

    assert type(exc) is fsgate.Unavailable
    assert exc.reason is None


def test_rpc_error_that_is_not_a_call_maps_to_the_base() -> None:
    exc = from_rpc_error(grpc.RpcError("bare"))

    assert type(exc) is fsgate.FsgateError
    assert exc.code is grpc.StatusCode.UNKNOWN


def test_path_falls_back_to_the_requested_path() -> None:
    no_meta = from_rpc_error(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, "late"),
                             path="rel/a")
    server_path = from_rpc_error(
        rpc_error(grpc.StatusCode.NOT_FOUND, "x", "NOT_FOUND", metadata={"path": "/ws/a"}),
        path="a",
    )

    assert no_meta.path == "rel/a"
    assert server_path.path == "/ws/a"


def test_os_error_subclasses_behave_like_os_errors() -> None:
    exc = fsgate.NotFound("no such file: /ws/a", path="/ws/a")

    assert str(exc) == "no such file: /ws/a"
    assert exc.args == ("no such file: /ws/a",)
    assert exc.errno is None
    assert exc.filename == "/ws/a"
    assert exc.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(FileNotFoundError):
        raise exc


def test_errors_without_a_builtin_are_not_os_errors() -> None:
    exc = fsgate.VersionMismatch("stale", path="/ws/a")

    assert not isinstance(exc, OSError)
    assert exc.code is grpc.StatusCode.ABORTED
    assert exc.path == "/ws/a"


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_errors_survive_pickling(reason: Reason) -> None:
    exc = from_rpc_error(rpc_error(STATUS_CODE[reason], "m", reason, metadata={"path": "/p"}))
    clone = pickle.loads(pickle.dumps(exc))

    assert type(clone) is type(exc)
    assert (clone.code, clone.reason, clone.message, clone.metadata, clone.path) == (
        exc.code, exc.reason, exc.message, exc.metadata, exc.path)
    assert getattr(clone, "filename", None) == getattr(exc, "filename", None)


def test_repr_names_class_code_reason_and_path() -> None:
    exc = from_rpc_error(rpc_error(grpc.StatusCode.NOT_FOUND, "gone", "NOT_FOUND",
                                   metadata={"path": "/ws/a"}))

    assert repr(exc) == "NotFound('gone', code=NOT_FOUND, reason='NOT_FOUND', path='/ws/a')"


def test_v11_reasons_map_to_their_exceptions() -> None:
    """NOT_EMPTY is an OSError with errno ENOTEMPTY (like os.rmdir's); the edit match errors
    carry the edit index and count from the ErrorInfo metadata."""
    import errno

    import fsgate
    from fsgate._errors import exception_for

    C = grpc.StatusCode
    assert exception_for(C.FAILED_PRECONDITION, Reason.NOT_EMPTY) is fsgate.NotEmpty
    err = fsgate.NotEmpty("not empty", path="/ws/d")
    assert isinstance(err, OSError) and err.errno == errno.ENOTEMPTY and err.filename == "/ws/d"
    assert exception_for(C.INVALID_ARGUMENT, Reason.INVALID_PATTERN) is fsgate.InvalidPattern
    assert exception_for(C.FAILED_PRECONDITION, Reason.NOT_TEXT) is fsgate.NotText
    amb = exception_for(C.FAILED_PRECONDITION, Reason.AMBIGUOUS_MATCH)(
        "twice", metadata={"edit": "1", "count": "2"})
    assert isinstance(amb, fsgate.AmbiguousMatch) and (amb.edit, amb.count) == (1, 2)
    none = fsgate.NoMatch("none", metadata={"edit": "x"})
    assert isinstance(none, fsgate.EditMismatch) and none.edit is None and none.count is None
