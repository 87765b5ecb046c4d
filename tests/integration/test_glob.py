"""Glob against a real server (both backends): patterns, excludes, hidden and ignored
entries, both sorts, max_results, symlinks reported but never followed, and every failure
with its code and reason and the tree unchanged."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, FileType, GlobSort
from fsgate.v1 import fsgate_pb2, fsgate_pb2_grpc

from ..conftest import ServerProcess
from ..helpers import rpc_reason, snapshot


def names(client: Client, path: Path, patterns: str | list[str], **kw: object) -> list[str]:
    result = client.glob(str(path), patterns, **kw)  # type: ignore[arg-type]  # kw
    return [e.name for e in result.entries]


@pytest.fixture
def tree(ws: Path) -> Path:
    for rel in ("top.py", "src/a.py", "src/b.txt", "src/deep/c.py", "docs/index.md",
                "docs/src/x.py", "a-b.py"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(rel)
    return ws


def test_a_pattern_without_slash_matches_a_name_at_any_depth(client: Client, tree: Path
                                                             ) -> None:
    assert names(client, tree, "*.py") == ["a-b.py", "docs/src/x.py", "src/a.py",
                                           "src/deep/c.py", "top.py"]  # bytewise by path


def test_double_star_and_anchored_patterns(client: Client, tree: Path) -> None:
    assert names(client, tree, "src/*.py") == ["src/a.py"]
    assert names(client, tree, "src/**/*.py") == ["src/a.py", "src/deep/c.py"]
    assert names(client, tree, "**/src/*.py") == ["docs/src/x.py", "src/a.py"]
    assert names(client, tree, "/top.py") == ["top.py"]
    assert names(client, tree, "src/**") == ["src/a.py", "src/b.txt", "src/deep",
                                             "src/deep/c.py"]


def test_a_pattern_matches_an_entrys_own_path_not_what_is_below_it(client: Client,
                                                                   tree: Path) -> None:
    assert names(client, tree, "src") == ["docs/src", "src"]
    assert names(client, tree, "src/") == ["docs/src", "src"]  # directories only
    assert names(client, tree, "*.md/") == []
    assert names(client, tree, ["*.md", "deep"]) == ["docs/index.md", "src/deep"]


def test_entries_carry_lstat_info_with_the_full_path(client: Client, tree: Path) -> None:
    (entry,) = client.glob(str(tree), "top.py").entries
    st = os.lstat(tree / "top.py")
    assert entry.info.path == str(tree / "top.py")
    assert (entry.info.type, entry.info.size) == (FileType.REGULAR, st.st_size)
    (d,) = client.glob(str(tree), "deep").entries
    assert d.info.type is FileType.DIRECTORY


def test_exclude_globs_skip_paths_and_whole_directories(client: Client, tree: Path) -> None:
    assert names(client, tree, "*.py", exclude_globs="src/") == ["a-b.py", "top.py"]
    assert names(client, tree, "*.py", exclude_globs=["docs", "a-*"]) == [
        "src/a.py", "src/deep/c.py", "top.py"]


def test_hidden_and_ignored_entries_need_asking_for(client: Client, ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "x.py").write_text("")
    (ws / ".hidden.py").write_text("")
    (ws / ".gitignore").write_text("gen/\n*.tmp.py\n")
    (ws / "gen").mkdir()
    (ws / "gen" / "g.py").write_text("")
    (ws / "a.tmp.py").write_text("")
    (ws / "kept.py").write_text("")
    assert names(client, ws, "*.py") == ["kept.py"]
    assert names(client, ws, "*.py", include_hidden=True) == [".git/x.py", ".hidden.py",
                                                              "kept.py"]
    assert names(client, ws, "*.py", include_ignored=True) == ["a.tmp.py", "gen/g.py",
                                                               "kept.py"]


def test_sort_by_modification_time_newest_first(client: Client, ws: Path) -> None:
    for i, name in enumerate(["old", "mid", "new", "tie-b", "tie-a"]):
        (ws / name).write_text(name)
        t = 1_700_000_000 + min(i, 3) * 100
        os.utime(ws / name, (t, t))
    assert names(client, ws, "*", sort=GlobSort.MODIFIED) == ["tie-a", "tie-b", "new", "mid",
                                                              "old"]
    assert names(client, ws, "*", sort=GlobSort.MODIFIED, max_results=2) == ["tie-a", "tie-b"]


def test_max_results_cuts_the_sorted_list_and_says_truncated(client: Client, tree: Path
                                                             ) -> None:
    result = client.glob(str(tree), "*.py", max_results=2)
    assert [e.name for e in result.entries] == ["a-b.py", "docs/src/x.py"]
    assert result.truncated
    full = client.glob(str(tree), "*.py", max_results=5)
    assert len(full.entries) == 5 and not full.truncated


def test_symlinks_are_reported_never_followed(client: Client, served: ServerProcess,
                                              ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "real" / "f.py").write_text("")
    (ws / "link.py").symlink_to("real/f.py")
    (ws / "dir-link").symlink_to("real")
    (ws / "out-link").symlink_to(served.root.parent / "outside")
    result = client.glob(str(ws), "**")
    assert [e.name for e in result.entries] == ["dir-link", "link.py", "out-link", "real",
                                                "real/f.py"]
    link = next(e for e in result.entries if e.name == "link.py")
    assert link.info.type is FileType.SYMLINK and link.info.symlink_target == "real/f.py"


def test_a_name_that_is_not_utf8_is_reported_with_its_bytes(client: Client, ws: Path) -> None:
    with open(os.fsencode(str(ws)) + b"/bad\xff.py", "wb"):
        pass
    (entry,) = client.glob(str(ws), "*.py").entries
    assert entry.name == "bad\ufffd.py" and entry.raw_name == b"bad\xff.py"


def test_the_async_client_globs(served: ServerProcess, tree: Path) -> None:
    async def main() -> list[str]:
        async with fsgate.AsyncClient(served.target) as fs:
            return [e.name for e in (await fs.glob(str(tree), "src/*")).entries]

    assert asyncio.run(main()) == ["src/a.py", "src/b.txt", "src/deep"]


# --- failures -------------------------------------------------------------------------------

@pytest.mark.parametrize("patterns", [["[abc"], ["x\\"], ["!neg"], [""], ["/"], ["[z-a]"]])
def test_an_invalid_glob_is_invalid_pattern(client: Client, tree: Path, patterns: list[str]
                                            ) -> None:
    before = snapshot(tree)
    with pytest.raises(fsgate.InvalidPattern) as err:
        client.glob(str(tree), patterns)
    assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.reason is fsgate.Reason.INVALID_PATTERN
    assert snapshot(tree) == before


def test_an_invalid_exclude_glob_is_invalid_pattern(client: Client, tree: Path) -> None:
    with pytest.raises(fsgate.InvalidPattern):
        client.glob(str(tree), "*", exclude_globs=["#comment"])


def test_no_pattern_or_an_unknown_sort_is_invalid_request(served: ServerProcess, tree: Path
                                                          ) -> None:
    with grpc.insecure_channel(served.target) as channel:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        for request in (fsgate_pb2.GlobRequest(path=str(tree)),
                        fsgate_pb2.GlobRequest(path=str(tree), patterns=["*"],
                                               sort=99)):  # type: ignore[arg-type]  # bad enum
            with pytest.raises(grpc.RpcError) as err:
                stub.Glob(request, timeout=30)
            assert rpc_reason(err.value) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST")


@pytest.mark.parametrize(("where", "error", "code", "reason"), [
    ("missing", fsgate.NotFound, grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    ("top.py", fsgate.NotADirectory, grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_DIRECTORY"),
    ("../outside", fsgate.OutsidePolicy, grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY"),
])
def test_a_base_that_cannot_be_walked_fails_with_its_reason(
        client: Client, served: ServerProcess, tree: Path, where: str,
        error: type[fsgate.FsgateError], code: grpc.StatusCode, reason: str) -> None:
    target = served.root.parent / "outside" if where == "../outside" else tree / where
    before = snapshot(tree)
    with pytest.raises(error) as err:
        client.glob(str(target), "*")
    assert (err.value.code, err.value.reason.value if err.value.reason else "") == (code, reason)
    assert snapshot(tree) == before
