"""EditFile against real servers (both backends): every option and failure of SPEC §1.1,
each failure with its code and reason (and the ``edit``/``count`` metadata of a mismatch),
and the tree unchanged after every failure and after a dry run."""
from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Edit
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

Stub = fsgate_pb2_grpc.FileSystemServiceStub
FP, INVALID = grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture
def stub(served: ServerProcess) -> Iterator[Stub]:
    channel = grpc.insecure_channel(served.target)
    yield fsgate_pb2_grpc.FileSystemServiceStub(channel)
    channel.close()


def request(path: Path | str, *edits: tuple[str, str] | tuple[str, str, bool],
            **fields: object) -> pb.EditFileRequest:
    wire = [pb.Edit(old_text=e[0], new_text=e[1], replace_all=e[2] if len(e) > 2 else False)
            for e in edits]
    return pb.EditFileRequest(path=str(path), edits=wire, **fields)  # type: ignore[arg-type]  # proto kwargs


def error_info(exc: grpc.RpcError) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """(code, ErrorInfo reason, ErrorInfo metadata without ``path``) of a raw error."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]  # a raised RpcError is a Call
    assert status is not None, exc
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.domain == "fsgate":
            return exc.code(), info.reason, {k: v for k, v in info.metadata.items()
                                             if k != "path"}
    raise AssertionError(f"no fsgate ErrorInfo in {exc}")


def refused(stub: Stub, req: pb.EditFileRequest, tree: Path
            ) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    """The error EditFile fails with; the tree is exactly as it was."""
    before = snapshot(tree)
    with pytest.raises(grpc.RpcError) as caught:
        stub.EditFile(req)
    assert snapshot(tree) == before
    return error_info(caught.value)


def no_temporaries(d: Path) -> bool:
    return not [p for p in os.listdir(d) if p.startswith(".fsgate-tmp-")]


# --- what an edit does --------------------------------------------------------------------

def test_edit_replaces_the_one_occurrence_and_answers_info_count_and_diff(
        stub: Stub, ws: Path) -> None:
    target = ws / "greet.txt"
    target.write_text("hello\nworld\nbye\n")
    os.chmod(target, 0o640)
    before = os.stat(target)

    r = stub.EditFile(request(target, ("world", "there")))

    assert target.read_text() == "hello\nthere\nbye\n"
    assert r.replacements == 1
    assert r.diff == ("--- a/greet.txt\n+++ b/greet.txt\n@@ -1,3 +1,3 @@\n"
                      " hello\n-world\n+there\n bye\n")
    assert not r.diff_truncated
    after = os.stat(target)
    assert stat.S_IMODE(after.st_mode) == 0o640  # the mode is kept
    assert r.info.size == after.st_size and r.info.mode == 0o640
    assert r.info.path == str(target)
    old_version = stub.Stat(pb.StatRequest(path=str(target))).info.version
    assert r.info.version == old_version
    assert after.st_ino != before.st_ino  # replaced by rename, as WriteFile does
    assert no_temporaries(ws)


def test_version_changes_with_every_edit(client: Client, ws: Path) -> None:
    target = ws / "v.txt"
    target.write_text("a\n")
    first = client.stat(str(target)).version
    second = client.edit_file(str(target), "a", "b").info.version
    third = client.edit_file(str(target), "b", "b").info.version  # same text, new file
    assert len({first, second, third}) == 3


def test_replace_all_replaces_every_occurrence(client: Client, ws: Path) -> None:
    target = ws / "all.txt"
    target.write_text("x = 1\ny = x + x\n")
    result = client.edit_file(str(target), "x", "z", replace_all=True)
    assert (result.replacements, target.read_text()) == (3, "z = 1\ny = z + z\n")


def test_edits_apply_in_order_each_to_the_result_of_the_previous(client: Client,
                                                                 ws: Path) -> None:
    target = ws / "chain.txt"
    target.write_text("alpha\nbeta\n")
    result = client.edit_file(str(target), edits=[
        Edit("alpha", "gamma"), ("gamma", "delta"),  # the second matches what the first made
        ("beta", "", False), Edit("\n\n", "\n", replace_all=True)])
    assert target.read_text() == "delta\n"
    assert result.replacements == 4


def test_a_failing_later_edit_changes_nothing_and_names_its_index(stub: Stub,
                                                                  ws: Path) -> None:
    (ws / "f.txt").write_text("one two three\n")
    code, reason, meta = refused(stub, request(ws / "f.txt", ("one", "1"), ("four", "4")), ws)
    assert (code, reason, meta) == (FP, "NO_MATCH", {"edit": "1", "count": "0"})


def test_text_that_occurs_more_than_once_is_ambiguous_with_its_count(stub: Stub,
                                                                     ws: Path) -> None:
    (ws / "f.txt").write_text("a-a-a\n")
    code, reason, meta = refused(stub, request(ws / "f.txt", ("a", "b")), ws)
    assert (code, reason, meta) == (FP, "AMBIGUOUS_MATCH", {"edit": "0", "count": "3"})


def test_text_whose_only_occurrence_overlaps_another_is_ambiguous(stub: Stub,
                                                                  ws: Path) -> None:
    (ws / "f.txt").write_text("aaa")  # "aa" at 0 and at 1: which one is meant?
    code, reason, meta = refused(stub, request(ws / "f.txt", ("aa", "b")), ws)
    assert (code, reason, meta) == (FP, "AMBIGUOUS_MATCH", {"edit": "0", "count": "2"})


def test_client_match_errors_carry_edit_and_count(client: Client, ws: Path) -> None:
    (ws / "f.txt").write_text("x x\n")
    with pytest.raises(fsgate.AmbiguousMatch) as ambiguous:
        client.edit_file(str(ws / "f.txt"), "x", "y")
    assert (ambiguous.value.edit, ambiguous.value.count) == (0, 2)
    with pytest.raises(fsgate.NoMatch) as missing:
        client.edit_file(str(ws / "f.txt"), edits=[("x", "y", True), ("q", "r")])
    assert (missing.value.edit, missing.value.count) == (1, 0)
    assert isinstance(missing.value, fsgate.EditMismatch)
    assert (ws / "f.txt").read_text() == "x x\n"


def test_matching_is_exact_text_not_a_pattern(client: Client, ws: Path) -> None:
    target = ws / "re.txt"
    target.write_text("a.c abc\nCase case\n")
    client.edit_file(str(target), "a.c", "X")
    with pytest.raises(fsgate.NoMatch):
        client.edit_file(str(target), "CASE", "y")
    assert target.read_text() == "X abc\nCase case\n"


def test_non_ascii_text_is_matched_and_replaced(client: Client, ws: Path) -> None:
    target = ws / "u.txt"
    target.write_text("naïve café — ok\n", encoding="utf-8")
    result = client.edit_file(str(target), "café", "thé")
    assert target.read_text(encoding="utf-8") == "naïve thé — ok\n"
    assert "-naïve café — ok\n+naïve thé — ok\n" in result.diff


def test_crlf_and_a_missing_last_newline_are_kept_and_diffed(client: Client,
                                                             ws: Path) -> None:
    target = ws / "crlf.txt"
    target.write_bytes(b"one\r\ntwo\r\nend")
    result = client.edit_file(str(target), "end", "END")
    assert target.read_bytes() == b"one\r\ntwo\r\nEND"
    assert result.diff.endswith("-end\n\\ No newline at end of file\n"
                                "+END\n\\ No newline at end of file\n")


def test_the_diff_applies_with_patch(client: Client, ws: Path, tmp_path: Path) -> None:
    lines = [f"line {i}\n" for i in range(200)]
    (ws / "long.txt").write_text("".join(lines))
    result = client.edit_file(str(ws / "long.txt"), edits=[
        ("line 5\n", ""), ("line 100\n", "line 100\ninserted\n"), ("line 199\n", "last")])
    (tmp_path / "long.txt").write_text("".join(lines))
    (tmp_path / "p.diff").write_text(result.diff)
    done = subprocess.run(["patch", "-s", "-p1", "-i", "p.diff"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr + result.diff
    assert (tmp_path / "long.txt").read_bytes() == (ws / "long.txt").read_bytes()
    assert result.diff.count("@@ -") == 3  # three hunks, far apart


def test_a_diff_over_1_mib_is_cut_at_a_hunk_and_says_so(client: Client, ws: Path) -> None:
    target = ws / "big.txt"
    target.write_text("".join(f"row {i} old\nkeep\nkeep\nkeep\nkeep\nkeep\nkeep\nkeep\n"
                              for i in range(40_000)))
    result = client.edit_file(str(target), "old", "new", replace_all=True)
    assert result.replacements == 40_000
    assert result.diff_truncated
    assert 0 < len(result.diff.encode()) <= 1 << 20
    assert result.diff.endswith("keep\n")  # whole hunks only
    assert "old" not in target.read_text()  # the edit itself is complete


def test_dry_run_changes_nothing_and_answers_the_before(stub: Stub, ws: Path) -> None:
    target = ws / "dry.txt"
    target.write_text("keep me\n")
    before_info = stub.Stat(pb.StatRequest(path=str(target))).info
    before = snapshot(ws)

    r = stub.EditFile(request(target, ("keep", "drop"), dry_run=True))

    assert snapshot(ws) == before
    assert r.replacements == 1 and "-keep me\n+drop me\n" in r.diff
    assert (r.info.version, r.info.size) == (before_info.version, before_info.size)
    assert no_temporaries(ws)


def test_dry_run_fails_as_the_edit_would(stub: Stub, ws: Path) -> None:
    (ws / "f.txt").write_text("abc")
    assert refused(stub, request(ws / "f.txt", ("zzz", "y"), dry_run=True), ws)[1] == \
        "NO_MATCH"


def test_if_version_edits_only_that_version(client: Client, stub: Stub, ws: Path) -> None:
    target = ws / "cas.txt"
    target.write_text("v1\n")
    version = client.stat(str(target)).version
    client.write_file(str(target), b"v2\n")  # someone else got there first

    code, reason, _ = refused(stub, request(target, ("v2", "v3"), if_version=version), ws)
    assert (code, reason) == (grpc.StatusCode.ABORTED, "VERSION_MISMATCH")

    current = client.stat(str(target)).version
    assert client.edit_file(str(target), "v2", "v3", if_version=current).replacements == 1
    assert target.read_text() == "v3\n"


# --- what is refused ----------------------------------------------------------------------

@pytest.mark.parametrize("edits", [[], [("", "x")], [("a", "b"), ("", "")]],
                         ids=["no-edits", "empty-old-text", "second-old-text-empty"])
def test_no_edits_or_an_empty_old_text_is_an_invalid_request(stub: Stub, ws: Path,
                                                            edits: list[tuple[str, str]]
                                                            ) -> None:
    (ws / "f.txt").write_text("a\n")
    code, reason, _ = refused(stub, request(ws / "f.txt", *edits), ws)
    assert (code, reason) == (INVALID, "INVALID_REQUEST")


def test_too_many_edits_are_an_invalid_request(stub: Stub, ws: Path) -> None:
    (ws / "f.txt").write_text("a\n")
    code, reason, _ = refused(stub, request(ws / "f.txt", *[("a", "a")] * 1025), ws)
    assert (code, reason) == (INVALID, "INVALID_REQUEST")


def test_a_file_that_is_not_utf8_is_not_text(stub: Stub, ws: Path) -> None:
    (ws / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    code, reason, _ = refused(stub, request(ws / "latin1.txt", ("caf", "x")), ws)
    assert (code, reason) == (FP, "NOT_TEXT")


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo"])
def test_only_an_existing_regular_file_is_edited(stub: Stub, ws: Path, kind: str) -> None:
    target = ws / kind
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # must fail at once, never block on an open
    code, reason, _ = refused(stub, request(target, ("a", "b")), ws)
    assert (code, reason) == {
        "missing": (grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
        "directory": (FP, "IS_A_DIRECTORY"),
        "fifo": (FP, "NOT_REGULAR_FILE")}[kind]


def test_a_leaf_symlink_inside_edits_its_target_and_stays_a_link(client: Client,
                                                                 ws: Path) -> None:
    (ws / "real.txt").write_text("old\n")
    os.symlink("real.txt", ws / "alias")
    client.edit_file(str(ws / "alias"), "old", "new")
    assert os.readlink(ws / "alias") == "real.txt"
    assert (ws / "real.txt").read_text() == "new\n"


def test_edit_through_a_symlink_to_outside_is_denied_and_outside_unchanged(
        stub: Stub, served: ServerProcess, ws: Path) -> None:
    outside = served.root.parent / "outside"
    os.symlink(outside / "secret.txt", ws / "escape")
    before = snapshot(outside)
    code, reason, _ = refused(stub, request(ws / "escape", ("top", "no")), ws)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "SANDBOX_DENIED")
    assert snapshot(outside) == before


@pytest.mark.parametrize("where", ["read-only-root", "outside"])
def test_edit_outside_the_writable_set_is_refused_before_any_helper(
        stub: Stub, served: ServerProcess, where: str) -> None:
    base = served.root.parent
    target = base / "ro" / "readme.txt" if where == "read-only-root" else \
        base / "outside" / "secret.txt"
    code, reason, _ = refused(stub, request(target, ("read", "write"), dry_run=True),
                              target.parent)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY")


def test_a_protected_path_is_never_edited(stub: Stub, ws: Path) -> None:
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]\n\tbare = false\n")
    for dry_run in (False, True):
        code, reason, _ = refused(stub, request(ws / ".git" / "config",
                                                ("false", "true"), dry_run=dry_run), ws)
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PROTECTED_PATH")


def test_a_policy_without_that_writable_root_cannot_edit(stub: Stub, ws: Path) -> None:
    (ws / "out").mkdir()
    (ws / "f.txt").write_text("a\n")
    sandbox = pb.SandboxPolicy(writable_roots=[str(ws / "out")])
    code, reason, _ = refused(stub, request(ws / "f.txt", ("a", "b"), sandbox=sandbox), ws)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY")


# --- the size bound -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server whose read limit is 1 KiB."""
    root = tmp_path_factory.mktemp(f"small-{backend}")
    server = start_server(tmp_path_factory.mktemp(f"small-run-{backend}"), [str(root)],
                          backend, "--max-read-bytes", "1024")
    yield server
    server.stop()


def test_a_file_over_the_read_limit_is_too_large(small: ServerProcess) -> None:
    (small.root / "big.txt").write_text("a" * 1025)
    with grpc.insecure_channel(small.target) as channel:
        code, reason, _ = refused(Stub(channel), request(small.root / "big.txt",
                                                         ("a", "b", True)), small.root)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_LARGE")


def test_an_edit_that_would_grow_the_file_over_the_limit_is_too_large(
        small: ServerProcess) -> None:
    (small.root / "grow.txt").write_text("ab" * 10)
    with grpc.insecure_channel(small.target) as channel:
        stub = Stub(channel)
        code, reason, _ = refused(stub, request(small.root / "grow.txt",
                                                ("a", "x" * 200, True)), small.root)
        assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_LARGE")
        assert stub.EditFile(request(small.root / "grow.txt", ("a", "x" * 40, True))
                             ).info.size == 10 * 41


# --- the asyncio client -------------------------------------------------------------------

def test_async_client_edits_previews_and_raises_the_same(served: ServerProcess,
                                                         ws: Path) -> None:
    target = ws / "a.txt"
    target.write_text("one two\n")

    async def body() -> None:
        async with fsgate.AsyncClient(served.target) as aio:
            preview = await aio.edit_file(str(target), "one", "1", dry_run=True)
            assert preview.replacements == 1 and target.read_text() == "one two\n"
            done = await aio.edit_file(str(target), edits=[Edit("one", "1"), ("two", "2")])
            assert (done.replacements, done.info.size) == (2, 4)
            with pytest.raises(fsgate.NoMatch) as caught:
                await aio.edit_file(str(target), "one", "1")
            assert (caught.value.edit, caught.value.count) == (0, 0)

    asyncio.run(body())
    assert target.read_text() == "1 2\n"
