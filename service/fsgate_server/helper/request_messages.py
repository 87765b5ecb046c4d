"""The requests of the helper conversation: one frozen ``*Args`` message per operation, each
a Request (messages.py has the overview: which answers each gets, in which conversation).

A request carries what every operation needs (its path, the effective policy) and its own
arguments; ``op`` names it on the wire and ``writes`` says whether the helper is confined
with the writable roots writable. Integers are non-negative and below 2**64 unless a
field's metadata says otherwise (the codec enforces ``min``/``max``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from fsgate_server.policy import EffectivePolicy

__all__ = ["EDIT_ATTEMPTS", "REQUESTS", "CopyArgs", "EditArgs", "GlobArgs", "ListArgs",
           "MakeDirArgs", "MoveAcrossArgs", "MoveArgs", "ReadArgs", "RemoveArgs", "Request",
           "SearchArgs", "StatArgs", "SweepArgs", "TextEdit", "WatchArgs", "WriteArgs"]


@dataclass(frozen=True)
class Request:
    """The part every request has. Never sent as such: one of its subclasses is."""

    path: str
    policy: EffectivePolicy
    op: ClassVar[str] = ""
    writes: ClassVar[bool] = False  # confined with the writable roots writable
    # The Landlock rights (sandbox/landlock.py RIGHTS) the writable roots get, when
    # ``writes``: only what this operation needs (a move needs no WRITE_FILE, a mkdir no
    # REMOVE_FILE).
    rights: ClassVar[frozenset[str]] = frozenset()
    # Syscalls the seccomp filter denies every other helper that this operation needs
    # (sandbox/seccomp.py DENIED names): only WatchDir has any.
    syscalls: ClassVar[frozenset[str]] = frozenset()

    def namespace_policy(self) -> EffectivePolicy:
        """What the bwrap backend builds this request's mount namespace from (and keys it
        by): its policy, unless the request confines itself further inside a broader
        namespace (WatchArgs)."""
        return self.policy


@dataclass(frozen=True, kw_only=True)
class StatArgs(Request):
    op: ClassVar[str] = "stat"
    follow_symlinks: bool = False


@dataclass(frozen=True, kw_only=True)
class ReadArgs(Request):
    op: ClassVar[str] = "read"
    chunk_size: int = field(metadata={"min": 1})
    max_bytes: int
    offset: int = 0
    length: int = 0  # 0: to the end of the file
    # A line window instead of a byte range (lines.py; the handler never sends both).
    line_offset: int = 0  # 0-based first line
    line_limit: int = 0  # 0: to the end
    tail_lines: int = 0  # 0: off; else the last N lines


@dataclass(frozen=True, kw_only=True)
class ListArgs(Request):
    op: ClassVar[str] = "list"
    depth: int = field(metadata={"min": 1})
    page_size: int = field(metadata={"min": 1})
    max_entries: int
    after: str | None = None  # the page starts after this relative name


@dataclass(frozen=True, kw_only=True)
class WriteArgs(Request):
    op: ClassVar[str] = "write"
    writes: ClassVar[bool] = True
    # the temporary: made, written, linked, renamed over the target (or removed); parents
    rights: ClassVar[frozenset[str]] = frozenset(
        {"write_file", "truncate", "make_reg", "remove_file", "make_dir"})
    max_bytes: int
    create_new: bool = False
    create_parents: bool = False
    if_version: str = ""
    file_mode: int = field(default=0, metadata={"max": 0o777})  # 0: keep or 0o644


@dataclass(frozen=True)
class TextEdit:
    """One exact old -> new replacement of EditFile (``old_text`` is never empty)."""

    old_text: str
    new_text: str
    replace_all: bool = False


# The most times one edit is prepared (READY): it is done again when the file changed
# between its read and its commit (editing.py). The server accepts no more READYs.
EDIT_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class EditArgs(Request):
    op: ClassVar[str] = "edit"
    writes: ClassVar[bool] = True
    # the temporary: made, written, linked, renamed over the target (or removed); an edit
    # never creates a directory nor truncates anything
    rights: ClassVar[frozenset[str]] = frozenset({"write_file", "make_reg", "remove_file"})
    edits: tuple[TextEdit, ...]
    max_bytes: int  # the file, before and after, in bytes
    if_version: str = ""
    dry_run: bool = False


@dataclass(frozen=True, kw_only=True)
class SweepArgs(Request):
    """Remove stale temporaries below every writable root (``path`` is "/", unused)."""

    op: ClassVar[str] = "sweep"
    writes: ClassVar[bool] = True
    # stale temporary files, and the temporary trees of copies (their subdirectories)
    rights: ClassVar[frozenset[str]] = frozenset({"remove_file", "remove_dir"})
    max_entries: int
    max_depth: int = 64


@dataclass(frozen=True, kw_only=True)
class MakeDirArgs(Request):
    op: ClassVar[str] = "mkdir"
    writes: ClassVar[bool] = True
    rights: ClassVar[frozenset[str]] = frozenset({"make_dir"})
    parents: bool = False
    exist_ok: bool = False
    mode: int = field(default=0o755, metadata={"max": 0o777})  # exactly, not umask-masked


@dataclass(frozen=True, kw_only=True)
class RemoveArgs(Request):
    op: ClassVar[str] = "remove"
    writes: ClassVar[bool] = True
    rights: ClassVar[frozenset[str]] = frozenset({"remove_file", "remove_dir"})
    recursive: bool = False
    missing_ok: bool = False
    if_version: str = ""
    max_entries: int = field(metadata={"min": 1})  # a recursive remove: the top one included
    # Every served root (and each alias): never removed, nor anything above one.
    served: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MoveArgs(Request):
    """Rename ``path`` to ``destination`` (both normalized and absolute). A helper that
    meets EXDEV answers MoveDone(None); the server then sends the same arguments as
    MoveAcrossArgs to a fresh helper, which may also write file content."""

    op: ClassVar[str] = "move"
    writes: ClassVar[bool] = True
    # Landlock checks a rename as a removal from the old directory and a creation (of the
    # moved object's type) in the new one, REFER when they differ; never WRITE_FILE.
    rights: ClassVar[frozenset[str]] = frozenset(
        {"remove_file", "remove_dir", "make_reg", "make_dir", "make_sym", "refer"})
    destination: str
    overwrite: bool = False
    create_parents: bool = False
    served_roots: tuple[str, ...] = ()  # every server root (each alias): never moved
    max_entries: int  # entries of a moved tree checked for protected paths
    max_bytes: int  # content a copy across file systems may write


@dataclass(frozen=True, kw_only=True)
class MoveAcrossArgs(MoveArgs):
    """A move across file systems: copied to a temporary beside the destination, renamed
    into place, then the source removed."""

    op: ClassVar[str] = "move_across"
    rights: ClassVar[frozenset[str]] = MoveArgs.rights | {"write_file"}


@dataclass(frozen=True, kw_only=True)
class CopyArgs(Request):
    """Copy ``path`` to ``destination``: a temporary beside it, renamed into place."""

    op: ClassVar[str] = "copy"
    writes: ClassVar[bool] = True
    # The temporary is made, filled, and renamed in the destination's own directory (no
    # REFER); removing covers a failed copy's temporary and an overwritten destination.
    rights: ClassVar[frozenset[str]] = frozenset(
        {"write_file", "make_reg", "make_dir", "make_sym", "remove_file", "remove_dir"})
    destination: str
    recursive: bool = False
    overwrite: bool = False
    served_roots: tuple[str, ...] = ()
    max_entries: int
    max_bytes: int


@dataclass(frozen=True, kw_only=True)
class SearchArgs(Request):
    """Search below ``path`` (a directory, or one file). The server validated the pattern
    and globs (patterns.py) and applied its caps; the helper checks them again."""

    op: ClassVar[str] = "search"
    pattern: str
    fixed_strings: bool = False
    ignore_case: bool = False
    include_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = ()
    include_hidden: bool = False
    include_ignored: bool = False
    context_lines: int = field(default=0, metadata={"max": 100})
    files_only: bool = False
    max_matches: int = field(metadata={"min": 1})
    max_entries: int  # directory entries the walk may visit
    max_file_bytes: int  # bytes searched per file
    # The helper's own time budget in milliseconds, a little short of the call's deadline:
    # past it the helper stops and says truncated. 0: none (it is killed at the deadline).
    budget_ms: int = 0


@dataclass(frozen=True, kw_only=True)
class GlobArgs(Request):
    op: ClassVar[str] = "glob"
    patterns: tuple[str, ...]
    exclude_globs: tuple[str, ...] = ()
    include_hidden: bool = False
    include_ignored: bool = False
    by_mtime: bool = False  # newest first; else bytewise by relative path
    max_results: int = field(metadata={"min": 1})
    max_entries: int
    budget_ms: int = 0  # as SearchArgs.budget_ms


@dataclass(frozen=True, kw_only=True)
class WatchArgs(Request):
    """Watch ``path`` (a directory) until the server hangs up. ``policy`` is narrowed to
    the watched tree: Landlock and the helper's own checks let it read nothing else.
    ``namespace`` is the request's whole effective policy, which a bwrap namespace is
    built from as for its other reads (shared with them; and the watched directory is not
    a mount point there, which would keep its removal from being seen)."""

    op: ClassVar[str] = "watch"
    # inotify, which Landlock does not mediate: the helper adds watches only through
    # descriptors its resolver checked (helper/watch_tree.py).
    syscalls: ClassVar[frozenset[str]] = frozenset({"inotify_init1", "inotify_add_watch"})
    max_dirs: int = field(metadata={"min": 1})
    recursive: bool = False
    include_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = ()
    namespace: EffectivePolicy | None = None

    def namespace_policy(self) -> EffectivePolicy:
        return self.namespace if self.namespace is not None else self.policy


REQUESTS: tuple[type[Request], ...] = (StatArgs, ReadArgs, ListArgs, WriteArgs, EditArgs,
                                       SweepArgs, MakeDirArgs, RemoveArgs, MoveArgs,
                                       MoveAcrossArgs, CopyArgs, SearchArgs, GlobArgs,
                                       WatchArgs)
