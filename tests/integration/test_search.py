"""Search against a real server (both backends): every option of SPEC §1.1, and every
failure with its code and reason and the tree unchanged."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Match, Policy
from fsgate.v1 import fsgate_pb2, fsgate_pb2_grpc

from ..conftest import ServerProcess
from ..helpers import rpc_reason, snapshot


def found(client: Client, path: Path, pattern: str, **kw: object
          ) -> list[tuple[str, int, str]]:
    """(path relative to ``path``, line number, line) of every match."""
    result = client.search(str(path), pattern, **kw)  # type: ignore[arg-type]  # kw
    base = str(path).rstrip("/") + "/"
    return [(m.path.removeprefix(base), m.line_number, m.line) for m in result]


@pytest.fixture
def tree(ws: Path) -> Path:
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("import os\ndef needle():\n    return 1\n")
    (ws / "src" / "b.txt").write_text("no\nNeedle upper\nneedle lower\n")
    (ws / "docs").mkdir()
    (ws / "docs" / "x.md").write_text("a.b literal\naxb regex only\n")
    return ws


def test_matches_come_with_absolute_path_line_number_and_line(client: Client, tree: Path
                                                              ) -> None:
    result = client.search(str(tree), "needle")
    matches = list(result)
    assert matches == [
        Match(str(tree / "src" / "a.py"), 2, "def needle():", False, (), ()),
        Match(str(tree / "src" / "b.txt"), 3, "needle lower", False, (), ()),
    ]
    assert result.summary == fsgate.SearchSummary(files_searched=3, matches=2, truncated=False)


def test_the_path_is_normalized_like_file_info(client: Client, tree: Path) -> None:
    result = client.search(f"{tree}/./src//../src", "needle")
    assert {m.path for m in result} == {str(tree / "src" / "a.py"), str(tree / "src" / "b.txt")}


def test_a_regex_is_re2_and_matches_within_lines(client: Client, tree: Path) -> None:
    assert found(client, tree, r"a.b") == [("docs/x.md", 1, "a.b literal"),
                                           ("docs/x.md", 2, "axb regex only")]
    assert found(client, tree, r"^def \w+\(\):$") == [("src/a.py", 2, "def needle():")]
    assert found(client, tree, r"os\s+def") == []  # \s never takes the newline


def test_fixed_strings_take_the_pattern_literally(client: Client, tree: Path) -> None:
    assert found(client, tree, "a.b", fixed_strings=True) == [("docs/x.md", 1, "a.b literal")]
    assert found(client, tree, "(", fixed_strings=True) == [("src/a.py", 2, "def needle():")]


def test_ignore_case(client: Client, tree: Path) -> None:
    assert [f[1] for f in found(client, tree / "src" / "b.txt", "NEEDLE", ignore_case=True)] \
        == [2, 3]
    assert found(client, tree, "NEEDLE", fixed_strings=True, ignore_case=True)[0][0] \
        == "src/a.py"


def test_include_and_exclude_globs(client: Client, tree: Path) -> None:
    assert {f[0] for f in found(client, tree, "e", include_globs="*.py")} == {"src/a.py"}
    assert {f[0] for f in found(client, tree, "e", include_globs=["**/*.md", "src/b.*"])} \
        == {"docs/x.md", "src/b.txt"}
    assert {f[0] for f in found(client, tree, "e", exclude_globs=["src/"])} == {"docs/x.md"}
    assert {f[0] for f in found(client, tree, "e", include_globs="*.txt",
                                exclude_globs="b.txt")} == set()


def test_hidden_names_are_skipped_unless_asked_for(client: Client, ws: Path) -> None:
    (ws / ".hidden").mkdir()
    (ws / ".hidden" / "f").write_text("needle\n")
    (ws / ".dotfile").write_text("needle\n")
    (ws / "shown").write_text("needle\n")
    assert [f[0] for f in found(client, ws, "needle")] == ["shown"]
    assert [f[0] for f in found(client, ws, "needle", include_hidden=True)] == [
        ".dotfile", ".hidden/f", "shown"]
    # a hidden path asked for by name is searched
    assert [f[1] for f in found(client, ws / ".hidden", "needle")] == [1]


def test_gitignore_and_ignore_files_are_respected_without_a_git_directory(
        client: Client, ws: Path) -> None:
    (ws / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n")
    (ws / "sub").mkdir()
    (ws / "sub" / ".ignore").write_text("local.txt\n")
    (ws / "sub" / ".gitignore").write_text("!again.log\n")
    for name in ("a.log", "keep.log", "sub/local.txt", "sub/again.log", "sub/kept.txt",
                 "build/out.txt"):
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text("needle\n")
    assert [f[0] for f in found(client, ws, "needle")] == ["keep.log", "sub/again.log",
                                                          "sub/kept.txt"]
    assert len(found(client, ws, "needle", include_ignored=True)) == 6


def test_an_ignore_file_wins_over_the_gitignore_of_its_directory(client: Client,
                                                                 ws: Path) -> None:
    (ws / ".gitignore").write_text("*.txt\n!keep.txt\n")
    (ws / ".ignore").write_text("keep.txt\n!other.txt\n")
    for name in ("keep.txt", "other.txt", "dropped.txt"):
        (ws / name).write_text("needle\n")
    assert [f[0] for f in found(client, ws, "needle")] == ["other.txt"]


def test_context_lines_come_before_and_after_and_are_capped_at_100(client: Client,
                                                                   ws: Path) -> None:
    (ws / "f").write_text("".join(f"line {i}\n" for i in range(1, 301)))
    (m,) = client.search(str(ws / "f"), "^line 150$", context_lines=2)
    assert (m.line_number, m.before, m.after) == (150, ("line 148", "line 149"),
                                                  ("line 151", "line 152"))
    (m,) = client.search(str(ws / "f"), "^line 150$", context_lines=1000)
    assert len(m.before) == len(m.after) == 100
    (first,) = client.search(str(ws / "f"), "^line 1$", context_lines=3)
    assert first.before == () and first.after == ("line 2", "line 3", "line 4")


def test_max_matches_stops_the_search_and_says_truncated(client: Client, ws: Path) -> None:
    for i in range(5):
        (ws / f"f{i}").write_text("hit\nhit\n")
    result = client.search(str(ws), "hit", max_matches=3)
    assert [(Path(m.path).name, m.line_number) for m in result] == [("f0", 1), ("f0", 2),
                                                                   ("f1", 1)]
    assert result.summary is not None and result.summary.truncated
    exact = client.search(str(ws), "hit", max_matches=10)
    assert len(list(exact)) == 10 and exact.summary is not None
    assert not exact.summary.truncated


def test_files_only_reports_each_matching_file_once(client: Client, tree: Path) -> None:
    result = client.search(str(tree), "e", files_only=True)
    assert [(Path(m.path).name, m.line_number, m.line) for m in result] == [
        ("x.md", 0, ""), ("a.py", 0, ""), ("b.txt", 0, "")]
    assert result.summary is not None and result.summary.matches == 3


def test_binary_files_are_skipped(client: Client, ws: Path) -> None:
    (ws / "bin").write_bytes(b"needle\x00\x01\x02")
    (ws / "late-nul").write_bytes(b"needle\n" + b"x" * 9000 + b"\x00")
    result = client.search(str(ws), "needle")
    assert [Path(m.path).name for m in result] == ["late-nul"]
    assert result.summary is not None and result.summary.files_searched == 1


def test_long_lines_are_cut_at_4_kib_and_say_so(client: Client, ws: Path) -> None:
    (ws / "f").write_text("needle " + "x" * 10_000 + "\nshort needle\n")
    first, second = client.search(str(ws / "f"), "needle")
    assert first.line_truncated and len(first.line.encode()) == 4096
    assert not second.line_truncated and second.line == "short needle"


def test_lines_that_are_not_utf8_come_back_lossy(client: Client, ws: Path) -> None:
    (ws / "f").write_bytes(b"caf\xe9 needle\n")
    (m,) = client.search(str(ws / "f"), "needle")
    assert m.line == "caf\ufffd needle"


def test_a_name_that_is_not_utf8_is_searched(client: Client, ws: Path) -> None:
    raw = os.fsencode(str(ws)) + b"/bad\xffname"
    with open(raw, "wb") as f:
        f.write(b"needle\n")
    (m,) = client.search(str(ws), "needle")
    assert m.path == str(ws) + "/bad\ufffdname"


def test_symlinks_are_not_followed_during_the_walk(client: Client, ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "real" / "f").write_text("needle\n")
    (ws / "file-link").symlink_to("real/f")
    (ws / "dir-link").symlink_to("real")
    assert [f[0] for f in found(client, ws, "needle")] == ["real/f"]


def test_results_stream_in_several_messages_the_summary_last(
        served: ServerProcess, ws: Path) -> None:
    (ws / "f").write_text("hit\n" * 900)
    with grpc.insecure_channel(served.target) as channel:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        responses = list(stub.Search(fsgate_pb2.SearchRequest(path=str(ws), pattern="hit"),
                                     timeout=30))
    assert len(responses) > 1
    assert [r.HasField("summary") for r in responses] == [False] * (len(responses) - 1) + [True]
    assert sum(len(r.matches) for r in responses) == 900


def test_the_async_client_searches_as_an_async_iterator(served: ServerProcess,
                                                        tree: Path) -> None:
    async def main() -> tuple[list[int], fsgate.SearchSummary | None]:
        async with fsgate.AsyncClient(served.target) as fs:
            result = fs.search(str(tree), "needle")
            lines = [m.line_number async for m in result]
            return lines, result.summary

    lines, summary = asyncio.run(main())
    assert lines == [2, 3] and summary is not None and summary.matches == 2


def test_a_relative_path_is_searched_below_the_policy_cwd(client: Client, tree: Path) -> None:
    result = client.search("src", "needle", policy=Policy(cwd=str(tree)))
    assert [m.path for m in result] == [str(tree / "src" / "a.py"), str(tree / "src" / "b.txt")]


# --- failures: code and reason, the tree unchanged -----------------------------------------

@pytest.mark.parametrize(("pattern", "kw"), [
    ("(unclosed", {}),
    ("a{2,1}", {}),
    ("(?<=lookbehind)x", {}),  # not RE2
    (r"\1", {}),  # backreferences are not RE2
    ("ok", {"include_globs": ["[z-a]"]}),
    ("ok", {"exclude_globs": [""]}),
    ("ok", {"include_globs": ["\\"]}),
])
def test_an_invalid_pattern_or_glob_is_invalid_pattern(client: Client, tree: Path, pattern: str,
                                                       kw: dict[str, object]) -> None:
    before = snapshot(tree)
    with pytest.raises(fsgate.InvalidPattern) as err:
        list(client.search(str(tree), pattern, **kw))  # type: ignore[arg-type]  # kw
    assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.reason is fsgate.Reason.INVALID_PATTERN
    assert snapshot(tree) == before


def test_an_oversized_pattern_is_invalid_pattern(client: Client, tree: Path) -> None:
    with pytest.raises(fsgate.InvalidPattern):
        list(client.search(str(tree), "x" * (65 << 10)))


def test_an_empty_pattern_is_invalid_request(stub: fsgate_pb2_grpc.FileSystemServiceStub,
                                             tree: Path) -> None:
    with pytest.raises(grpc.RpcError) as err:
        list(stub.Search(fsgate_pb2.SearchRequest(path=str(tree)), timeout=30))
    assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


@pytest.mark.parametrize(("where", "error", "code", "reason"), [
    ("missing", fsgate.NotFound, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    ("fifo", fsgate.NotRegularFile, grpc.StatusCode.FAILED_PRECONDITION, "NOT_REGULAR_FILE"),
    ("../outside", fsgate.OutsidePolicy, grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY"),
])
def test_a_path_that_cannot_be_searched_fails_with_its_reason(
        client: Client, served: ServerProcess, ws: Path, where: str,
        error: type[fsgate.FsgateError], code: grpc.StatusCode, reason: str) -> None:
    os.mkfifo(ws / "fifo")
    target = served.root.parent / "outside" if where == "../outside" else ws / where
    before = snapshot(ws)
    with pytest.raises(error) as err:
        list(client.search(str(target), "x"))
    assert (err.value.code, err.value.reason.value if err.value.reason else "") == (code, reason)
    assert snapshot(ws) == before


def test_a_relative_path_without_cwd_is_cwd_required(client: Client) -> None:
    with pytest.raises(fsgate.CwdRequired):
        list(client.search("src", "x"))


@pytest.fixture
def stub(served: ServerProcess) -> object:
    channel = grpc.insecure_channel(served.target)
    yield fsgate_pb2_grpc.FileSystemServiceStub(channel)
    channel.close()
