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

from fsgate._async_client import AsyncClient
from fsgate._client import Client
from fsgate._errors import (
    AlreadyExists,
    Busy,
    CwdRequired,
    DeadlineExceeded,
    FailedPrecondition,
    FsgateError,
    HelperFailed,
    InvalidArgument,
    InvalidPath,
    InvalidPolicy,
    InvalidRequest,
    IsADirectory,
    NoSpace,
    NotADirectory,
    NotFound,
    NotRegularFile,
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
from fsgate._reasons import Reason
from fsgate._types import DirEntry, FileInfo, FileType, Policy, Timeouts, WriteMode, WriteResult

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "Busy",
    "Client",
    "CwdRequired",
    "DeadlineExceeded",
    "DirEntry",
    "FailedPrecondition",
    "FileInfo",
    "FileType",
    "FsgateError",
    "HelperFailed",
    "InvalidArgument",
    "InvalidPath",
    "InvalidPolicy",
    "InvalidRequest",
    "IsADirectory",
    "NoSpace",
    "NotADirectory",
    "NotFound",
    "NotRegularFile",
    "OutsidePolicy",
    "PermissionDenied",
    "Policy",
    "ProtectedPath",
    "Reason",
    "ResourceExhausted",
    "SandboxDenied",
    "SandboxUnavailable",
    "ShuttingDown",
    "SymlinkLoop",
    "Timeouts",
    "TooLarge",
    "Unauthenticated",
    "Unavailable",
    "VersionMismatch",
    "WriteMode",
    "WriteResult",
    "__version__",
]
