"""The clients' EditFile and line-window methods, without a server: both clients prepare
the same requests, the friendly signatures turn into the wire's edits, misuse is refused
before anything is sent, and lines are split exactly where the server counts them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fsgate
import pytest
from fsgate import AsyncClient, Client, Edit, Policy, Timeouts
from fsgate._edit import _edits, split_lines
from fsgate.v1 import fsgate_pb2

POLICY = Policy(writable_roots=["/ws"], cwd="/ws")


def _both() -> tuple[Client, AsyncClient]:
    timeouts = Timeouts(call=3, transfer=30)
    return (Client("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts),
            AsyncClient("unix:/nonexistent", token="t0k", policy=POLICY, timeouts=timeouts))


def test_both_clients_prepare_edits_and_line_windows_the_same_way() -> None:
    sync, aio = _both()
    try:
        preps: list[Callable[[Any], Any]] = [
            lambda c: c._prepare_edit("a.txt", edits=[Edit("x", "y", True)], if_version="v",
                                      dry_run=True, policy=None, timeout=None),
            lambda c: c._prepare_lines("a.txt", line_offset=3, line_limit=4, chunk_size=4096,
                                       policy=None, timeout=2),
            lambda c: c._prepare_lines("/ws/a", tail_lines=5, chunk_size=0, policy=Policy(),
                                       timeout=None),
        ]
        for prepare in preps:
            assert prepare(sync) == prepare(aio)
        edit = preps[0](sync)
        assert edit.timeout == 3  # a unary call
        assert list(edit.request.edits) == [fsgate_pb2.Edit(old_text="x", new_text="y",
                                                            replace_all=True)]
        assert (edit.request.if_version, edit.request.dry_run) == ("v", True)
        assert edit.request.sandbox.cwd == "/ws"
        window = preps[1](sync)
        assert (window.request.line_offset, window.request.line_limit,
                window.request.tail_lines, window.timeout) == (3, 4, 0, 2)
        assert preps[2](sync).timeout == 30  # a stream
    finally:
        sync.close()


def test_old_and_new_or_a_list_of_edits_make_the_same_wire_edits() -> None:
    assert _edits("a", "b", False, None) == [Edit("a", "b")]
    assert _edits("a", "b", True, None) == [Edit("a", "b", replace_all=True)]
    assert _edits(None, None, False, [Edit("a", "b"), ("c", "d"), ("e", "", True)]) == [
        Edit("a", "b"), Edit("c", "d"), Edit("e", "", True)]
    assert _edits(None, None, False, []) == []  # the server says INVALID_REQUEST


@pytest.mark.parametrize(("args", "edits"), [
    (("a", None, False), None), ((None, None, False), None), (("a", "b", False), [("c", "d")]),
    ((None, None, True), [("c", "d")]), ((None, None, False), Edit("a", "b")),
    ((None, None, False), "ab"),
], ids=["old-without-new", "nothing", "both-forms", "replace-all-with-list", "lone-edit",
        "a-string"])
def test_misused_edit_arguments_are_refused_before_sending(
        args: tuple[str | None, str | None, bool], edits: Any) -> None:
    with pytest.raises(TypeError):
        _edits(*args, edits)


def test_edit_fields_are_checked() -> None:
    with pytest.raises(TypeError, match="old_text"):
        Edit(b"bytes", "x")  # type: ignore[arg-type]  # the misuse under test
    with pytest.raises(TypeError, match="replace_all"):
        Edit("a", "b", 1)  # type: ignore[arg-type]  # the misuse under test


def test_line_window_counts_are_checked() -> None:
    with Client("unix:/nonexistent") as client:
        with pytest.raises(ValueError, match="at least 1"):
            client.tail("/ws/a", 0)
        with pytest.raises(ValueError, match="at least 0"):
            client.read_lines("/ws/a", -1)
        with pytest.raises(TypeError):
            client.read_lines("/ws/a", 1.5)  # type: ignore[arg-type]  # the misuse under test


@pytest.mark.parametrize(("data", "expected"), [
    (b"", []), (b"a", ["a"]), (b"a\n", ["a\n"]), (b"a\nb", ["a\n", "b"]),
    (b"\n\n", ["\n", "\n"]), (b"a\r\nb\r", ["a\r\n", "b\r"]), (b"x\x0by\x1c\n", ["x\x0by\x1c\n"]),
    (b"caf\xe9\n", ["caf\ufffd\n"]),
])
def test_split_lines_splits_at_newlines_only(data: bytes, expected: list[str]) -> None:
    assert split_lines(data) == expected


def test_edit_types_are_public() -> None:
    assert fsgate.Edit is Edit
    assert fsgate.EditResult.__dataclass_fields__.keys() == {
        "info", "replacements", "diff", "diff_truncated"}
