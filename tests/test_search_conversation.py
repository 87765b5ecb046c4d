"""Search's helper conversation (RESULT* with the summary on the last SearchBatch) and
Glob's, against helpers that misbehave on purpose, and against the landlock fork server's
real helpers: a broken conversation is HELPER_FAILED, never a crash or a hang."""
from __future__ import annotations

from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server.backends.channel import Executor
from fsgate_server.errors import Failure
from fsgate_server.helper import codec
from fsgate_server.helper.messages import (
    GlobArgs,
    MatchFacts,
    SearchArgs,
    SearchBatch,
    SearchSummary,
)
from fsgate_server.helper.protocol import Kind
from fsgate_server.policy import EffectivePolicy

from .test_helper_conversation import client, executor, fake_helper, frames, policy, ws

__all__ = ["executor", "ws"]  # fixtures

POLICY = EffectivePolicy(("/ws",), (), ())
ARGS = SearchArgs("/ws", POLICY, pattern="x", max_matches=10, max_entries=10,
                  max_file_bytes=10)
BATCH = codec.encode(SearchBatch((MatchFacts("/ws/f", 1, "x"),)))
LAST = codec.encode(SearchBatch((), SearchSummary(1, 1, False)))


def collect(helper_frames: tuple[tuple[Kind, bytes], ...]) -> list[SearchBatch]:
    with fake_helper(frames(*helper_frames)).search(ARGS) as batches:
        return list(batches)


def test_batches_then_the_summary_end_the_conversation() -> None:
    got = collect(((Kind.RESULT, BATCH), (Kind.RESULT, BATCH), (Kind.RESULT, LAST)))
    assert [len(b.matches) for b in got] == [1, 1, 0]
    assert got[-1].summary == SearchSummary(1, 1, False)


@pytest.mark.parametrize("sent", [
    ((Kind.RESULT, BATCH),),  # hangs up before its summary
    ((Kind.RESULT, BATCH), (Kind.DATA, b"x")),  # out of turn
    ((Kind.RESULT, b'{"matches":[{"path":1}]}'),),  # malformed
    ((Kind.RESULT, b'{"matches":[{"path":"/ws/f","line_number":-1}]}'),),
], ids=["no summary", "out of turn", "malformed", "negative line"])
def test_a_search_helper_that_breaks_the_conversation_is_helper_failed(
        sent: tuple[tuple[Kind, bytes], ...]) -> None:
    with pytest.raises(Failure) as err:
        collect(sent)
    assert err.value.reason is Reason.HELPER_FAILED


def test_an_error_after_some_batches_is_the_helpers_failure() -> None:
    with pytest.raises(Failure) as err:
        collect(((Kind.RESULT, BATCH),
                 (Kind.ERROR, b'{"reason":"SANDBOX_DENIED","message":"m"}')))
    assert err.value.reason is Reason.SANDBOX_DENIED


def test_a_real_helper_searches_and_globs(executor: Executor, ws: Path) -> None:
    (ws / "f").write_text("a\nneedle\n")
    args = SearchArgs(str(ws), policy(ws), pattern="needle", max_matches=10,
                      max_entries=100, max_file_bytes=1 << 20)
    with client(executor).search(args) as batches:
        got = list(batches)
    assert [(m.path, m.line_number) for b in got for m in b.matches] == [(str(ws / "f"), 2)]
    assert got[-1].summary == SearchSummary(files_searched=1, matches=1, truncated=False)
    done = client(executor).glob(GlobArgs(str(ws), policy(ws), patterns=("f",),
                                          max_results=10, max_entries=100))
    assert [e.name for e in done.entries] == ["f"] and not done.truncated
