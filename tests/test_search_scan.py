"""Search's file scan without gRPC or a sandbox: the helper code over the typed conversation
(HelperClient, in-process helper), against a naive line-by-line reference, with windows
shrunk to a few bytes so every carry-over path (a match, its context, a line cut by a
window's end) is exercised."""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from fsgate_server.backends.helper_client import HelperClient
from fsgate_server.helper import search
from fsgate_server.helper.messages import MatchFacts, SearchArgs, SearchSummary
from fsgate_server.policy import Root, effective_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import REPO

sys.path.insert(0, str(REPO))
from bench.inprocess import InProcessExecutor  # bench/ is a top-level package of the repo


def run(path: Path, pattern: str, **kw: object) -> tuple[list[MatchFacts], SearchSummary]:
    policy = effective_policy((Root(str(path.parent), writable=False),), None)
    args = SearchArgs(str(path), policy, pattern=pattern, **{  # type: ignore[arg-type]  # kw
        "max_matches": 10_000, "max_entries": 10_000, "max_file_bytes": 1 << 30, **kw})
    found: list[MatchFacts] = []
    summary = None
    with HelperClient.over(InProcessExecutor(), time.monotonic() + 30).search(args) as batches:
        for batch in batches:
            found.extend(batch.matches)
            summary = batch.summary
    assert summary is not None
    return found, summary


def reference(text: bytes, pattern: str, context: int) -> list[tuple[int, str, tuple[str, ...],
                                                                      tuple[str, ...]]]:
    lines = text.split(b"\n")
    if text.endswith(b"\n"):
        lines.pop()
    rx = re.compile(pattern)  # on characters, as RE2 matches UTF-8
    dec = [x.decode("utf-8", "replace") for x in lines]
    out = []
    for i, line in enumerate(dec):
        if rx.search(line):
            out.append((i + 1, dec[i], tuple(dec[max(0, i - context):i]),
                        tuple(dec[i + 1:i + 1 + context])))
    return out


@pytest.fixture
def tiny_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "WINDOW", 7)
    monkeypatch.setattr(search, "LONG_LINE", 64)


lines_st = st.lists(st.text(alphabet="abcx \u00e9", max_size=12), max_size=40)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=lines_st, trailing=st.booleans(), context=st.integers(0, 3),
       pattern=st.sampled_from(["ab", "a.c", "^b", "c$", "[ab]+c", "x"]))
def test_matches_line_numbers_and_context_agree_with_a_line_by_line_reference(
        tmp_path: Path, tiny_windows: None, lines: list[str], trailing: bool, context: int,
        pattern: str) -> None:
    text = "\n".join(lines).encode() + (b"\n" if trailing and lines else b"")
    f = tmp_path / "f.txt"
    f.write_bytes(text)
    found, summary = run(f, pattern, context_lines=context)
    got = [(m.line_number, m.line, m.before, m.after) for m in found]
    assert got == reference(text, pattern, context)
    assert summary.matches == len(found) and summary.files_searched == 1
    assert not summary.truncated


def test_a_line_longer_than_the_window_is_found_with_its_number(tmp_path: Path,
                                                                tiny_windows: None) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"one\n" + b"y" * 50 + b"needle" + b"\nthree needle\n")
    found, _ = run(f, "needle")
    assert [(m.line_number, m.line[-6:]) for m in found] == [(2, "needle"), (3, "needle")]


def test_the_per_file_byte_bound_stops_the_file_and_says_truncated(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"needle 1\n" * 100)
    found, summary = run(f, "needle", max_file_bytes=90)
    assert [m.line_number for m in found] == list(range(1, 11))
    assert summary.truncated


def test_max_matches_sends_that_many_and_says_truncated_only_when_there_were_more(
        tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"hit\n" * 5)
    found, summary = run(f, "hit", max_matches=5)
    assert len(found) == 5 and not summary.truncated
    found, summary = run(f, "hit", max_matches=4)
    assert len(found) == 4 and summary.truncated and summary.matches == 4


def test_a_long_line_is_cut_at_4_kib_on_a_character_boundary(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"a" * 4095 + "\u00e9".encode() + b"tail needle\n")
    (m,), _ = run(f, "needle")
    assert m.line_truncated and m.line == "a" * 4095  # the 2-byte character is not split


def test_bytes_that_are_not_utf8_come_back_as_replacement_characters(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"bad \xff\xfe needle\n")
    (m,), _ = run(f, "needle")
    assert m.line == "bad \ufffd\ufffd needle"


def test_a_nul_in_the_first_8_kib_makes_a_file_binary_and_unsearched(tmp_path: Path) -> None:
    f = tmp_path / "f.bin"
    f.write_bytes(b"needle\x00needle\n")
    found, summary = run(f, "needle")
    assert found == [] and summary.files_searched == 0


def test_a_catastrophic_backtracking_pattern_is_linear(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"a" * (1 << 20) + b"b\n")
    found, _ = run(f, "(a+)+$")
    assert found == []


def test_a_match_never_spans_lines(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"foo\nbar\n")
    assert run(f, r"foo\s+bar")[0] == []
    # a negated class never takes the newline: "o\nb" is not a match of [^x]+b
    assert [m.line_number for m in run(f, r"o[^x]+b")[0]] == []
    assert [m.line_number for m in run(f, r"[^x]+ar")[0]] == [2]


def test_a_spent_time_budget_ends_the_search_with_what_was_found(tmp_path: Path,
                                                                 tiny_windows: None) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"hit\n" * 1000)  # ~600 windows: far more than a millisecond's work
    found, summary = run(f, "hit", budget_ms=1)
    assert summary.truncated and len(found) < 1000
    assert [m.line_number for m in found] == list(range(1, len(found) + 1))
