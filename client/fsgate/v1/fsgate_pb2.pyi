import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FileType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_TYPE_UNSPECIFIED: _ClassVar[FileType]
    FILE_TYPE_REGULAR: _ClassVar[FileType]
    FILE_TYPE_DIRECTORY: _ClassVar[FileType]
    FILE_TYPE_SYMLINK: _ClassVar[FileType]
    FILE_TYPE_OTHER: _ClassVar[FileType]

class WriteMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITE_MODE_UNSPECIFIED: _ClassVar[WriteMode]
    WRITE_MODE_REPLACE: _ClassVar[WriteMode]
    WRITE_MODE_CREATE_NEW: _ClassVar[WriteMode]

class GlobSort(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GLOB_SORT_UNSPECIFIED: _ClassVar[GlobSort]
    GLOB_SORT_PATH: _ClassVar[GlobSort]
    GLOB_SORT_MODIFIED_DESC: _ClassVar[GlobSort]

class FileEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_EVENT_TYPE_UNSPECIFIED: _ClassVar[FileEventType]
    FILE_EVENT_TYPE_CREATED: _ClassVar[FileEventType]
    FILE_EVENT_TYPE_MODIFIED: _ClassVar[FileEventType]
    FILE_EVENT_TYPE_DELETED: _ClassVar[FileEventType]
    FILE_EVENT_TYPE_MOVED: _ClassVar[FileEventType]
    FILE_EVENT_TYPE_ATTRIBUTES_CHANGED: _ClassVar[FileEventType]
FILE_TYPE_UNSPECIFIED: FileType
FILE_TYPE_REGULAR: FileType
FILE_TYPE_DIRECTORY: FileType
FILE_TYPE_SYMLINK: FileType
FILE_TYPE_OTHER: FileType
WRITE_MODE_UNSPECIFIED: WriteMode
WRITE_MODE_REPLACE: WriteMode
WRITE_MODE_CREATE_NEW: WriteMode
GLOB_SORT_UNSPECIFIED: GlobSort
GLOB_SORT_PATH: GlobSort
GLOB_SORT_MODIFIED_DESC: GlobSort
FILE_EVENT_TYPE_UNSPECIFIED: FileEventType
FILE_EVENT_TYPE_CREATED: FileEventType
FILE_EVENT_TYPE_MODIFIED: FileEventType
FILE_EVENT_TYPE_DELETED: FileEventType
FILE_EVENT_TYPE_MOVED: FileEventType
FILE_EVENT_TYPE_ATTRIBUTES_CHANGED: FileEventType

class SandboxPolicy(_message.Message):
    __slots__ = ("readable_roots", "writable_roots", "denied_paths", "cwd")
    READABLE_ROOTS_FIELD_NUMBER: _ClassVar[int]
    WRITABLE_ROOTS_FIELD_NUMBER: _ClassVar[int]
    DENIED_PATHS_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    readable_roots: _containers.RepeatedScalarFieldContainer[str]
    writable_roots: _containers.RepeatedScalarFieldContainer[str]
    denied_paths: _containers.RepeatedScalarFieldContainer[str]
    cwd: str
    def __init__(self, readable_roots: _Optional[_Iterable[str]] = ..., writable_roots: _Optional[_Iterable[str]] = ..., denied_paths: _Optional[_Iterable[str]] = ..., cwd: _Optional[str] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("path", "type", "size", "mode", "modified_time", "version", "symlink_target", "raw_symlink_target")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SYMLINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    RAW_SYMLINK_TARGET_FIELD_NUMBER: _ClassVar[int]
    path: str
    type: FileType
    size: int
    mode: int
    modified_time: _timestamp_pb2.Timestamp
    version: str
    symlink_target: str
    raw_symlink_target: bytes
    def __init__(self, path: _Optional[str] = ..., type: _Optional[_Union[FileType, str]] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ..., symlink_target: _Optional[str] = ..., raw_symlink_target: _Optional[bytes] = ...) -> None: ...

class ReadFileRequest(_message.Message):
    __slots__ = ("path", "sandbox", "offset", "length", "chunk_size", "line_offset", "line_limit", "tail_lines")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LINE_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LINE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    TAIL_LINES_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    offset: int
    length: int
    chunk_size: int
    line_offset: int
    line_limit: int
    tail_lines: int
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., chunk_size: _Optional[int] = ..., line_offset: _Optional[int] = ..., line_limit: _Optional[int] = ..., tail_lines: _Optional[int] = ...) -> None: ...

class ReadFileResponse(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteFileRequest(_message.Message):
    __slots__ = ("header", "data")
    class Header(_message.Message):
        __slots__ = ("path", "sandbox", "mode", "create_parents", "if_version", "file_mode")
        PATH_FIELD_NUMBER: _ClassVar[int]
        SANDBOX_FIELD_NUMBER: _ClassVar[int]
        MODE_FIELD_NUMBER: _ClassVar[int]
        CREATE_PARENTS_FIELD_NUMBER: _ClassVar[int]
        IF_VERSION_FIELD_NUMBER: _ClassVar[int]
        FILE_MODE_FIELD_NUMBER: _ClassVar[int]
        path: str
        sandbox: SandboxPolicy
        mode: WriteMode
        create_parents: bool
        if_version: str
        file_mode: int
        def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., mode: _Optional[_Union[WriteMode, str]] = ..., create_parents: _Optional[bool] = ..., if_version: _Optional[str] = ..., file_mode: _Optional[int] = ...) -> None: ...
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    header: WriteFileRequest.Header
    data: bytes
    def __init__(self, header: _Optional[_Union[WriteFileRequest.Header, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class WriteFileResponse(_message.Message):
    __slots__ = ("info", "bytes_written")
    INFO_FIELD_NUMBER: _ClassVar[int]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    bytes_written: int
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., bytes_written: _Optional[int] = ...) -> None: ...

class ListDirRequest(_message.Message):
    __slots__ = ("path", "sandbox", "depth", "page_size", "page_token")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    depth: int
    page_size: int
    page_token: str
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., depth: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DirEntry(_message.Message):
    __slots__ = ("name", "info", "raw_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    RAW_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    info: FileInfo
    raw_name: bytes
    def __init__(self, name: _Optional[str] = ..., info: _Optional[_Union[FileInfo, _Mapping]] = ..., raw_name: _Optional[bytes] = ...) -> None: ...

class ListDirResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[DirEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatRequest(_message.Message):
    __slots__ = ("path", "sandbox", "follow_symlinks")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_SYMLINKS_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    follow_symlinks: bool
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., follow_symlinks: _Optional[bool] = ...) -> None: ...

class StatResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class MakeDirRequest(_message.Message):
    __slots__ = ("path", "sandbox", "parents", "exist_ok", "mode")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    EXIST_OK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    parents: bool
    exist_ok: bool
    mode: int
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., parents: _Optional[bool] = ..., exist_ok: _Optional[bool] = ..., mode: _Optional[int] = ...) -> None: ...

class MakeDirResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class RemoveRequest(_message.Message):
    __slots__ = ("path", "sandbox", "recursive", "missing_ok", "if_version")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    MISSING_OK_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    recursive: bool
    missing_ok: bool
    if_version: str
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., recursive: _Optional[bool] = ..., missing_ok: _Optional[bool] = ..., if_version: _Optional[str] = ...) -> None: ...

class RemoveResponse(_message.Message):
    __slots__ = ("removed",)
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    removed: int
    def __init__(self, removed: _Optional[int] = ...) -> None: ...

class MoveRequest(_message.Message):
    __slots__ = ("source", "destination", "sandbox", "overwrite", "create_parents")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    CREATE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    source: str
    destination: str
    sandbox: SandboxPolicy
    overwrite: bool
    create_parents: bool
    def __init__(self, source: _Optional[str] = ..., destination: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., overwrite: _Optional[bool] = ..., create_parents: _Optional[bool] = ...) -> None: ...

class MoveResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ...) -> None: ...

class CopyRequest(_message.Message):
    __slots__ = ("source", "destination", "sandbox", "recursive", "overwrite")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    OVERWRITE_FIELD_NUMBER: _ClassVar[int]
    source: str
    destination: str
    sandbox: SandboxPolicy
    recursive: bool
    overwrite: bool
    def __init__(self, source: _Optional[str] = ..., destination: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., recursive: _Optional[bool] = ..., overwrite: _Optional[bool] = ...) -> None: ...

class CopyResponse(_message.Message):
    __slots__ = ("info", "bytes_copied", "entries_copied")
    INFO_FIELD_NUMBER: _ClassVar[int]
    BYTES_COPIED_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_COPIED_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    bytes_copied: int
    entries_copied: int
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., bytes_copied: _Optional[int] = ..., entries_copied: _Optional[int] = ...) -> None: ...

class Edit(_message.Message):
    __slots__ = ("old_text", "new_text", "replace_all")
    OLD_TEXT_FIELD_NUMBER: _ClassVar[int]
    NEW_TEXT_FIELD_NUMBER: _ClassVar[int]
    REPLACE_ALL_FIELD_NUMBER: _ClassVar[int]
    old_text: str
    new_text: str
    replace_all: bool
    def __init__(self, old_text: _Optional[str] = ..., new_text: _Optional[str] = ..., replace_all: _Optional[bool] = ...) -> None: ...

class EditFileRequest(_message.Message):
    __slots__ = ("path", "sandbox", "edits", "if_version", "dry_run")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    IF_VERSION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    edits: _containers.RepeatedCompositeFieldContainer[Edit]
    if_version: str
    dry_run: bool
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., edits: _Optional[_Iterable[_Union[Edit, _Mapping]]] = ..., if_version: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class EditFileResponse(_message.Message):
    __slots__ = ("info", "replacements", "diff", "diff_truncated")
    INFO_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENTS_FIELD_NUMBER: _ClassVar[int]
    DIFF_FIELD_NUMBER: _ClassVar[int]
    DIFF_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    replacements: int
    diff: str
    diff_truncated: bool
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., replacements: _Optional[int] = ..., diff: _Optional[str] = ..., diff_truncated: _Optional[bool] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("path", "sandbox", "pattern", "fixed_strings", "ignore_case", "include_globs", "exclude_globs", "include_hidden", "include_ignored", "context_lines", "max_matches", "files_only")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    FIXED_STRINGS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_CASE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_IGNORED_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_LINES_FIELD_NUMBER: _ClassVar[int]
    MAX_MATCHES_FIELD_NUMBER: _ClassVar[int]
    FILES_ONLY_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    pattern: str
    fixed_strings: bool
    ignore_case: bool
    include_globs: _containers.RepeatedScalarFieldContainer[str]
    exclude_globs: _containers.RepeatedScalarFieldContainer[str]
    include_hidden: bool
    include_ignored: bool
    context_lines: int
    max_matches: int
    files_only: bool
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., pattern: _Optional[str] = ..., fixed_strings: _Optional[bool] = ..., ignore_case: _Optional[bool] = ..., include_globs: _Optional[_Iterable[str]] = ..., exclude_globs: _Optional[_Iterable[str]] = ..., include_hidden: _Optional[bool] = ..., include_ignored: _Optional[bool] = ..., context_lines: _Optional[int] = ..., max_matches: _Optional[int] = ..., files_only: _Optional[bool] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("path", "line_number", "line", "line_truncated", "before", "after")
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    LINE_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    path: str
    line_number: int
    line: str
    line_truncated: bool
    before: _containers.RepeatedScalarFieldContainer[str]
    after: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., line_number: _Optional[int] = ..., line: _Optional[str] = ..., line_truncated: _Optional[bool] = ..., before: _Optional[_Iterable[str]] = ..., after: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchSummary(_message.Message):
    __slots__ = ("files_searched", "matches", "truncated")
    FILES_SEARCHED_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    files_searched: int
    matches: int
    truncated: bool
    def __init__(self, files_searched: _Optional[int] = ..., matches: _Optional[int] = ..., truncated: _Optional[bool] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("matches", "summary")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    summary: SearchSummary
    def __init__(self, matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., summary: _Optional[_Union[SearchSummary, _Mapping]] = ...) -> None: ...

class GlobRequest(_message.Message):
    __slots__ = ("path", "sandbox", "patterns", "exclude_globs", "include_hidden", "include_ignored", "sort", "max_results")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_IGNORED_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    patterns: _containers.RepeatedScalarFieldContainer[str]
    exclude_globs: _containers.RepeatedScalarFieldContainer[str]
    include_hidden: bool
    include_ignored: bool
    sort: GlobSort
    max_results: int
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., patterns: _Optional[_Iterable[str]] = ..., exclude_globs: _Optional[_Iterable[str]] = ..., include_hidden: _Optional[bool] = ..., include_ignored: _Optional[bool] = ..., sort: _Optional[_Union[GlobSort, str]] = ..., max_results: _Optional[int] = ...) -> None: ...

class GlobResponse(_message.Message):
    __slots__ = ("entries", "truncated")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirEntry]
    truncated: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[DirEntry, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class WatchDirRequest(_message.Message):
    __slots__ = ("path", "sandbox", "recursive", "include_globs", "exclude_globs")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_GLOBS_FIELD_NUMBER: _ClassVar[int]
    path: str
    sandbox: SandboxPolicy
    recursive: bool
    include_globs: _containers.RepeatedScalarFieldContainer[str]
    exclude_globs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, path: _Optional[str] = ..., sandbox: _Optional[_Union[SandboxPolicy, _Mapping]] = ..., recursive: _Optional[bool] = ..., include_globs: _Optional[_Iterable[str]] = ..., exclude_globs: _Optional[_Iterable[str]] = ...) -> None: ...

class FileEvent(_message.Message):
    __slots__ = ("type", "path", "old_path", "is_dir")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    IS_DIR_FIELD_NUMBER: _ClassVar[int]
    type: FileEventType
    path: str
    old_path: str
    is_dir: bool
    def __init__(self, type: _Optional[_Union[FileEventType, str]] = ..., path: _Optional[str] = ..., old_path: _Optional[str] = ..., is_dir: _Optional[bool] = ...) -> None: ...

class WatchStarted(_message.Message):
    __slots__ = ("watched_directories",)
    WATCHED_DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    watched_directories: int
    def __init__(self, watched_directories: _Optional[int] = ...) -> None: ...

class WatchOverflow(_message.Message):
    __slots__ = ("dropped",)
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    dropped: int
    def __init__(self, dropped: _Optional[int] = ...) -> None: ...

class WatchKeepalive(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchDirResponse(_message.Message):
    __slots__ = ("started", "event", "overflow", "keepalive")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    OVERFLOW_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    started: WatchStarted
    event: FileEvent
    overflow: WatchOverflow
    keepalive: WatchKeepalive
    def __init__(self, started: _Optional[_Union[WatchStarted, _Mapping]] = ..., event: _Optional[_Union[FileEvent, _Mapping]] = ..., overflow: _Optional[_Union[WatchOverflow, _Mapping]] = ..., keepalive: _Optional[_Union[WatchKeepalive, _Mapping]] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Root(_message.Message):
    __slots__ = ("path", "writable")
    PATH_FIELD_NUMBER: _ClassVar[int]
    WRITABLE_FIELD_NUMBER: _ClassVar[int]
    path: str
    writable: bool
    def __init__(self, path: _Optional[str] = ..., writable: _Optional[bool] = ...) -> None: ...

class ServerLimits(_message.Message):
    __slots__ = ("max_read_bytes", "max_write_bytes", "max_list_depth", "max_list_entries", "max_page_size", "max_matches", "max_watches")
    MAX_READ_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_WRITE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_LIST_DEPTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LIST_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    MAX_PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_MATCHES_FIELD_NUMBER: _ClassVar[int]
    MAX_WATCHES_FIELD_NUMBER: _ClassVar[int]
    max_read_bytes: int
    max_write_bytes: int
    max_list_depth: int
    max_list_entries: int
    max_page_size: int
    max_matches: int
    max_watches: int
    def __init__(self, max_read_bytes: _Optional[int] = ..., max_write_bytes: _Optional[int] = ..., max_list_depth: _Optional[int] = ..., max_list_entries: _Optional[int] = ..., max_page_size: _Optional[int] = ..., max_matches: _Optional[int] = ..., max_watches: _Optional[int] = ...) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("version", "backend", "roots", "limits", "landlock_abi")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    LANDLOCK_ABI_FIELD_NUMBER: _ClassVar[int]
    version: str
    backend: str
    roots: _containers.RepeatedCompositeFieldContainer[Root]
    limits: ServerLimits
    landlock_abi: int
    def __init__(self, version: _Optional[str] = ..., backend: _Optional[str] = ..., roots: _Optional[_Iterable[_Union[Root, _Mapping]]] = ..., limits: _Optional[_Union[ServerLimits, _Mapping]] = ..., landlock_abi: _Optional[int] = ...) -> None: ...
