"""fsgate: the client of a gRPC service for sandboxed file operations.

>>> from fsgate import Client, Policy
>>> with Client("unix:/run/fsgate.sock", policy=Policy(writable_roots=["/ws"])) as fs:
...     fs.write_file("/ws/notes.txt", b"hello")
...     fs.read_file("/ws/notes.txt")

:class:`AsyncClient` is the same client for asyncio (``async with``, ``await``,
``async for``). See docs/client.md.

Failures raise the :class:`FsgateError` tree; branch on the class (or ``.code`` and
``.reason``), never on the message.
"""

# Names load on first use (PEP 562): the sandboxed helper imports fsgate.reasons, and
# must not pay for grpc and asyncio, which only the client needs.
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsgate._async_client import AsyncClient
    from fsgate._client import Client
    from fsgate._edit import Edit, EditResult
    from fsgate._errors import (
        AlreadyExists,
        AmbiguousMatch,
        Busy,
        CwdRequired,
        DeadlineExceeded,
        EditMismatch,
        FailedPrecondition,
        FsgateError,
        HelperFailed,
        InvalidArgument,
        InvalidPath,
        InvalidPattern,
        InvalidPolicy,
        InvalidRequest,
        IsADirectory,
        NoMatch,
        NoSpace,
        NotADirectory,
        NotEmpty,
        NotFound,
        NotRegularFile,
        NotText,
        OutsidePolicy,
        PermissionDenied,
        ProtectedPath,
        ResourceExhausted,
        SandboxDenied,
        SandboxUnavailable,
        ShuttingDown,
        SymlinkLoop,
        TooLarge,
        Unauthenticated,
        Unavailable,
        VersionMismatch,
    )
    from fsgate._namespace import RemoveResult, ServerInfo, ServerLimits, ServerRoot
    from fsgate._search import (
        AsyncSearchResult,
        GlobResult,
        GlobSort,
        Match,
        SearchResult,
        SearchSummary,
    )
    from fsgate._transfer import CopyResult, MoveResult
    from fsgate._types import DirEntry, FileInfo, FileType, Policy, Timeouts, WriteMode, WriteResult
    from fsgate._watch import AsyncWatch, FileEvent, FileEventType, Watch, WatchOverflow
    from fsgate.reasons import Reason

_LAZY = {
    "AsyncClient": "fsgate._async_client",
    "Client": "fsgate._client",
    "Edit": "fsgate._edit",
    "EditResult": "fsgate._edit",
    "AlreadyExists": "fsgate._errors",
    "NotText": "fsgate._errors",
    "NotEmpty": "fsgate._errors",
    "NoMatch": "fsgate._errors",
    "InvalidPattern": "fsgate._errors",
    "EditMismatch": "fsgate._errors",
    "AmbiguousMatch": "fsgate._errors",
    "Busy": "fsgate._errors",
    "CwdRequired": "fsgate._errors",
    "DeadlineExceeded": "fsgate._errors",
    "FailedPrecondition": "fsgate._errors",
    "FsgateError": "fsgate._errors",
    "HelperFailed": "fsgate._errors",
    "InvalidArgument": "fsgate._errors",
    "InvalidPath": "fsgate._errors",
    "InvalidPolicy": "fsgate._errors",
    "InvalidRequest": "fsgate._errors",
    "IsADirectory": "fsgate._errors",
    "NoSpace": "fsgate._errors",
    "NotADirectory": "fsgate._errors",
    "NotFound": "fsgate._errors",
    "NotRegularFile": "fsgate._errors",
    "OutsidePolicy": "fsgate._errors",
    "PermissionDenied": "fsgate._errors",
    "ProtectedPath": "fsgate._errors",
    "ResourceExhausted": "fsgate._errors",
    "SandboxDenied": "fsgate._errors",
    "SandboxUnavailable": "fsgate._errors",
    "ShuttingDown": "fsgate._errors",
    "SymlinkLoop": "fsgate._errors",
    "TooLarge": "fsgate._errors",
    "Unauthenticated": "fsgate._errors",
    "Unavailable": "fsgate._errors",
    "VersionMismatch": "fsgate._errors",
    "Reason": "fsgate.reasons",
    "RemoveResult": "fsgate._namespace",
    "ServerInfo": "fsgate._namespace",
    "ServerLimits": "fsgate._namespace",
    "ServerRoot": "fsgate._namespace",
    "DirEntry": "fsgate._types",
    "FileInfo": "fsgate._types",
    "FileType": "fsgate._types",
    "Policy": "fsgate._types",
    "Timeouts": "fsgate._types",
    "WriteMode": "fsgate._types",
    "WriteResult": "fsgate._types",
    "CopyResult": "fsgate._transfer",
    "MoveResult": "fsgate._transfer",
    "AsyncSearchResult": "fsgate._search",
    "GlobResult": "fsgate._search",
    "GlobSort": "fsgate._search",
    "Match": "fsgate._search",
    "SearchResult": "fsgate._search",
    "SearchSummary": "fsgate._search",
    "AsyncWatch": "fsgate._watch",
    "FileEvent": "fsgate._watch",
    "FileEventType": "fsgate._watch",
    "Watch": "fsgate._watch",
    "WatchOverflow": "fsgate._watch",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fsgate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "AmbiguousMatch",
    "AsyncClient",
    "AsyncSearchResult",
    "AsyncWatch",
    "Busy",
    "Client",
    "CopyResult",
    "CwdRequired",
    "DeadlineExceeded",
    "DirEntry",
    "Edit",
    "EditMismatch",
    "EditResult",
    "FailedPrecondition",
    "FileEvent",
    "FileEventType",
    "FileInfo",
    "FileType",
    "FsgateError",
    "GlobResult",
    "GlobSort",
    "HelperFailed",
    "InvalidArgument",
    "InvalidPath",
    "InvalidPattern",
    "InvalidPolicy",
    "InvalidRequest",
    "IsADirectory",
    "Match",
    "MoveResult",
    "NoMatch",
    "NoSpace",
    "NotADirectory",
    "NotEmpty",
    "NotFound",
    "NotRegularFile",
    "NotText",
    "OutsidePolicy",
    "PermissionDenied",
    "Policy",
    "ProtectedPath",
    "Reason",
    "RemoveResult",
    "ResourceExhausted",
    "SandboxDenied",
    "SandboxUnavailable",
    "SearchResult",
    "SearchSummary",
    "ServerInfo",
    "ServerLimits",
    "ServerRoot",
    "ShuttingDown",
    "SymlinkLoop",
    "Timeouts",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "VersionMismatch",
    "Watch",
    "WatchOverflow",
    "WriteMode",
    "WriteResult",
    "__version__",
]
