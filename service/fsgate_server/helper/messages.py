"""What the server and a helper say to each other, typed: one frozen message per request
(``*Args``) and per answer, shared by both sides. codec.py turns them into frame payloads.

A request carries what every operation needs (its path, the effective policy) and its own
arguments; ``op`` names it on the wire and ``writes`` says whether the helper is confined
with the writable roots writable. Every answer is a RESULT, except an ERROR's ErrorReport.

    request      answer(s)                              conversation (protocol.py)
    StatArgs     FileFacts                              REQUEST -> RESULT
    ReadArgs     FileFacts, then the bytes              REQUEST -> RESULT DATA* END
    ListArgs     ListPage                               REQUEST -> RESULT
    WriteArgs    WriteDone                              REQUEST -> READY DATA* END READY
                                                                 COMMIT -> RESULT
    EditArgs     EditDone                               REQUEST -> (READY COMMIT)* RESULT
                                                                 (none with dry_run)
    SweepArgs    SweepDone                              REQUEST -> RESULT
    MakeDirArgs  FileFacts                              REQUEST -> RESULT
    RemoveArgs   RemoveDone                             REQUEST -> RESULT
    MoveArgs     MoveDone (info None: across file systems,  REQUEST -> RESULT
                 the server asks again with MoveAcrossArgs)
    CopyArgs     CopyDone                               REQUEST -> RESULT
    SearchArgs   SearchBatch*, the last with its summary REQUEST -> RESULT* (the last one's
                                                                 ``summary`` is set)
    GlobArgs     GlobDone                               REQUEST -> RESULT
    WatchArgs    WatchStarted, then WatchBatch*         REQUEST -> RESULT EVENT* [ERROR]
                                                                 (until the server hangs up)

Integers are non-negative and below 2**64 unless a field's metadata says otherwise (the
codec enforces ``min``/``max``): what reaches a proto field always fits it.

The requests are defined in request_messages.py, the answers in answer_messages.py; this
module is where both sides import them from. Adding an operation: a request in
request_messages.py (and in its REQUESTS), its answer in answer_messages.py (and in
ANSWERS), a function in the helper (dispatched in ops.py), a HelperClient method, and the
gRPC handler.
"""
from __future__ import annotations

from fsgate_server.helper.answer_messages import (
    ANSWERS,
    CopyDone,
    EditDone,
    Entry,
    ErrorReport,
    EventType,
    Fact,
    FileFacts,
    FileType,
    GlobDone,
    ListPage,
    MatchFacts,
    MoveDone,
    RemoveDone,
    SearchBatch,
    SearchSummary,
    SweepDone,
    WatchBatch,
    WatchEvent,
    WatchStarted,
    WriteDone,
)
from fsgate_server.helper.request_messages import (
    EDIT_ATTEMPTS,
    REQUESTS,
    CopyArgs,
    EditArgs,
    GlobArgs,
    ListArgs,
    MakeDirArgs,
    MoveAcrossArgs,
    MoveArgs,
    ReadArgs,
    RemoveArgs,
    Request,
    SearchArgs,
    StatArgs,
    SweepArgs,
    TextEdit,
    WatchArgs,
    WriteArgs,
)

__all__ = ["ANSWERS", "EDIT_ATTEMPTS", "REQUESTS", "CopyArgs", "CopyDone", "EditArgs",
           "EditDone", "Entry", "ErrorReport", "EventType", "Fact", "FileFacts", "FileType",
           "GlobArgs", "GlobDone", "ListArgs", "ListPage", "MakeDirArgs", "MatchFacts",
           "MoveAcrossArgs", "MoveArgs", "MoveDone", "ReadArgs", "RemoveArgs", "RemoveDone",
           "Request", "SearchArgs", "SearchBatch", "SearchSummary", "StatArgs", "SweepArgs",
           "SweepDone", "TextEdit", "WatchArgs", "WatchBatch", "WatchEvent", "WatchStarted",
           "WriteArgs", "WriteDone"]
