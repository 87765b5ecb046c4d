"""The facts a helper reports about a file (messages.FileFacts), built from its stat.
What a helper is asked and answers with is messages.py."""
from __future__ import annotations

import os
import stat

try:  # hashlib's own blake2b, without the OpenSSL start-up hashlib costs an exec'd helper
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

from fsgate_server.helper.messages import FileFacts, FileType


def version_of(st: os.stat_result) -> str:
    """Changes whenever content or metadata changes: ctime moves on every such change."""
    key = b"%d:%d:%d:%d:%d:%d" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                  st.st_ctime_ns, st.st_mode)
    return blake2b(key, digest_size=12).hexdigest()


def file_type(mode: int) -> FileType:
    if stat.S_ISREG(mode):
        return FileType.REGULAR
    if stat.S_ISDIR(mode):
        return FileType.DIRECTORY
    if stat.S_ISLNK(mode):
        return FileType.SYMLINK
    return FileType.OTHER


def info_of(path: str, st: os.stat_result, symlink_target: str = "") -> FileFacts:
    return FileFacts(path=path, type=file_type(st.st_mode), size=st.st_size,
                     mode=stat.S_IMODE(st.st_mode), mtime_ns=st.st_mtime_ns,
                     version=version_of(st), symlink_target=symlink_target)
