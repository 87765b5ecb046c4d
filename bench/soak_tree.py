"""What the soak and the state machine plant and look for: an outside directory whose every
name, content, size and time is recognisable, the checks that nothing of it reached a
caller, and probes of a server's process (fds, threads, RSS, helpers) from /proc.

Shared by ``bench/soak.py`` and the tests (``tests/integration/test_soak.py``,
``tests/security/test_state_machine.py``); it imports the fsgate client only for types.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fsgate import DirEntry, FileInfo, FsgateError

OUTSIDE_MTIME = 1_000_000_000  # 2001-09-09T01:46:40Z: no file inside a root is that old
OUTSIDE_SIZES = frozenset({7001, 7013, 7019})  # no inside file the workloads make has these


@dataclass(frozen=True)
class Outside:
    """A directory no root covers. Names that requests and inside links use (``plain.txt``,
    ``tree``, ``missing-*``) carry no token; every name *below* them and every content
    carries ``token``, so any appearance of the token in an answer is a leak."""

    path: Path
    token: str

    @property
    def secret(self) -> bytes:
        return f"secret-{self.token}".encode()

    @property
    def plain(self) -> Path:  # a file outside, the target of inside links
        return self.path / "plain.txt"

    @property
    def tree(self) -> Path:  # a directory outside, what swapped directories point to
        return self.path / "tree"

    def missing(self, n: int = 0) -> Path:  # a name that does not exist outside
        return self.path / f"missing-{n}"

    def leaks(self, what: object, where: str) -> list[str]:
        """Descriptions of every trace of the outside in a result, error or content."""
        found: list[str] = []
        for label, value in _fields(what):
            if isinstance(value, bytes):
                if self.token.encode() in value or self.secret in value:
                    found.append(f"{where}: outside bytes in {label}")
            elif isinstance(value, str):
                if self.token in value or self.secret.decode() in value:
                    found.append(f"{where}: outside name/content in {label}: {value[:300]!r}")
            elif isinstance(value, datetime.datetime):
                if int(value.timestamp()) == OUTSIDE_MTIME:
                    found.append(f"{where}: outside mtime in {label}")
            elif isinstance(value, int) and value in OUTSIDE_SIZES:
                found.append(f"{where}: outside size {value} in {label}")
        return found


def _fields(what: object) -> Iterable[tuple[str, object]]:
    if isinstance(what, (bytes, bytearray, memoryview)):
        yield "data", bytes(what)
    elif isinstance(what, FileInfo):
        yield "path", what.path
        yield "symlink_target", what.symlink_target or ""
        yield "modified_time", what.modified_time
        if what.type.name == "REGULAR":  # a directory's or link's size says nothing unique
            yield "size", what.size
        yield "version", what.version
    elif isinstance(what, DirEntry):
        yield "name", what.name
        yield "raw_name", what.raw_name or b""
        yield from ((f"info.{k}", v) for k, v in _fields(what.info))
    elif isinstance(what, FsgateError):
        yield "message", what.message
        yield "str", str(what)
        yield "repr", repr(what)
        yield "path", what.path or ""
        for key, value in what.metadata.items():
            yield f"metadata[{key!r}]", f"{key}={value}"
    else:
        yield "text", str(what)


def plant_outside(path: Path) -> Outside:
    """Create the outside directory (it must not exist yet) and return what it holds."""
    outside = Outside(path, "zq" + secrets.token_hex(8))
    tok, secret = outside.token, outside.secret
    path.mkdir()
    (path / "tree").mkdir()
    (path / "tree" / f"{tok}-sub").mkdir()
    for rel, size in (("plain.txt", 7001), (f"{tok}-secret.txt", 7013),
                      (f"tree/{tok}-a.txt", 7019), (f"tree/{tok}-sub/{tok}-b.txt", 7001)):
        (path / rel).write_bytes((secret * (size // len(secret) + 1))[:size])
    (path / "tree" / f"{tok}-link").symlink_to(f"{tok}-target")
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in dirnames + filenames:
            os.utime(Path(dirpath) / name, (OUTSIDE_MTIME, OUTSIDE_MTIME),
                     follow_symlinks=False)
    os.utime(path, (OUTSIDE_MTIME, OUTSIDE_MTIME))
    return outside


def digest(root: Path) -> dict[str, str]:
    """Every entry under root, with what it is: to prove nothing outside changed."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                kind = "link:" + os.readlink(p)
            elif p.is_file():
                kind = f"file:{st.st_mode:o}:" + hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                kind = f"other:{st.st_mode:o}"
            out[str(p.relative_to(root))] = kind
    return out


# --- the server's process, from /proc -----------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """One look at the server process: open fds, threads, resident memory, live helpers."""

    at: float  # seconds since the run started
    fds: int
    threads: int
    rss_kib: int
    helpers: int  # helpers that received a request (seccomp-confined) and still run


def sample(pid: int, at: float) -> Sample:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return Sample(at, fds, int(status["Threads"]), int(status["VmRSS"].split()[0]),
                  len(confined_helpers(pid)))


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    """Every process below pid (bwrap puts helpers two levels below the server)."""
    stack, below = [pid], []
    while stack:
        kids = children(stack.pop())
        below += kids
        stack += kids
    return below


BUSY_NAME = "fsgate-request"  # helper/forkserver.py BUSY_NAME: a helper that has a request


def confined_helpers(pid: int) -> list[int]:
    """Helpers that have received a request: they go by BUSY_NAME once they have it, idle
    ones by the fork server's name (tests/integration/test_faults.py uses this one too)."""
    found = []
    for child in descendants(pid):
        try:
            with open(f"/proc/{child}/comm") as fh:
                if fh.read().strip() == BUSY_NAME:
                    found.append(child)
        except OSError:
            pass
    return found
