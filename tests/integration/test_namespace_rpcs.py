"""MakeDir, Remove and GetServerInfo against real servers (both backends): every option
round-trips, and every failure is sent and its code and reason asserted, with a snapshot
that proves nothing changed on disk."""
from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, FileType, Policy, Reason
from fsgate_server.config import Config
from fsgate_server.sandbox import landlock

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

C = grpc.StatusCode


def refused(err: pytest.ExceptionInfo[fsgate.FsgateError], code: grpc.StatusCode,
            reason: Reason) -> None:
    assert (err.value.code, err.value.reason) == (code, reason), err.value


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def base(served: ServerProcess) -> Path:
    """ws, ro, outside and ws2: everything a refused call must leave as it was."""
    return served.root.parent


# --- MakeDir --------------------------------------------------------------------------------

def test_make_dir_creates_a_directory_with_mode_755_by_default(client: Client,
                                                               ws: Path) -> None:
    info = client.make_dir(str(ws / "new"))
    assert (ws / "new").is_dir() and mode_of(ws / "new") == 0o755
    assert (info.path, info.type, info.mode) == (str(ws / "new"), FileType.DIRECTORY, 0o755)
    assert info.version == client.stat(str(ws / "new")).version


@pytest.mark.parametrize("mode", [0o700, 0o777, 0o751])
def test_make_dir_sets_mode_exactly_whatever_the_umask(client: Client, ws: Path,
                                                       mode: int) -> None:
    info = client.make_dir(str(ws / "m"), mode=mode)
    assert mode_of(ws / "m") == info.mode == mode


def test_make_dir_with_parents_creates_every_missing_ancestor_with_mode(client: Client,
                                                                        ws: Path) -> None:
    (ws / "a").mkdir()
    info = client.make_dir(str(ws / "a" / "b" / "c" / "d"), parents=True, mode=0o750)
    assert info.path == str(ws / "a" / "b" / "c" / "d")
    for rel in ("a/b", "a/b/c", "a/b/c/d"):
        assert (ws / rel).is_dir() and mode_of(ws / rel) == 0o750, rel
    assert mode_of(ws / "a") == 0o755  # existing ones are left as they are


def test_make_dir_without_parents_fails_not_found_for_a_missing_parent(
        client: Client, served: ServerProcess, ws: Path) -> None:
    before = snapshot(base(served))
    with pytest.raises(fsgate.NotFound) as err:
        client.make_dir(str(ws / "missing" / "new"))
    refused(err, C.NOT_FOUND, Reason.NOT_FOUND)
    assert snapshot(base(served)) == before


def test_make_dir_on_an_existing_directory_fails_unless_exist_ok(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "d").mkdir(mode=0o700)
    before = snapshot(base(served))
    with pytest.raises(fsgate.AlreadyExists) as err:
        client.make_dir(str(ws / "d"))
    refused(err, C.ALREADY_EXISTS, Reason.ALREADY_EXISTS)
    with pytest.raises(fsgate.AlreadyExists):
        client.make_dir(str(ws / "d"), parents=True)  # parents alone is not exist_ok
    info = client.make_dir(str(ws / "d"), exist_ok=True, mode=0o777)
    assert (info.type, info.mode) == (FileType.DIRECTORY, 0o700)  # the existing one, as is
    assert snapshot(base(served)) == before


def test_make_dir_on_an_existing_file_fails_already_exists_even_with_exist_ok(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "f").write_text("file")
    before = snapshot(base(served))
    for kwargs in ({}, {"exist_ok": True}, {"exist_ok": True, "parents": True}):
        with pytest.raises(fsgate.AlreadyExists) as err:
            client.make_dir(str(ws / "f"), **kwargs)  # type: ignore[arg-type]  # bool kwargs
        refused(err, C.ALREADY_EXISTS, Reason.ALREADY_EXISTS)
    assert snapshot(base(served)) == before


def test_make_dir_below_a_file_fails_not_a_directory(client: Client, served: ServerProcess,
                                                      ws: Path) -> None:
    (ws / "f").write_text("file")
    before = snapshot(base(served))
    with pytest.raises(fsgate.NotADirectory) as err:
        client.make_dir(str(ws / "f" / "sub" / "x"), parents=True)
    refused(err, C.FAILED_PRECONDITION, Reason.NOT_A_DIRECTORY)
    assert snapshot(base(served)) == before


@pytest.mark.parametrize("mode", [0o1777, 0o4755, 0o10000])
def test_make_dir_mode_outside_0777_fails_invalid_request(client: Client,
                                                          served: ServerProcess, ws: Path,
                                                          mode: int) -> None:
    before = snapshot(base(served))
    with pytest.raises(fsgate.InvalidRequest) as err:
        client.make_dir(str(ws / "m"), mode=mode)
    refused(err, C.INVALID_ARGUMENT, Reason.INVALID_REQUEST)
    assert snapshot(base(served)) == before


def test_make_dir_in_a_read_only_root_or_outside_fails_outside_policy(
        client: Client, served: ServerProcess) -> None:
    before = snapshot(base(served))
    for path in (base(served) / "ro" / "new", base(served) / "outside" / "new",
                 base(served) / "ws2" / "new"):
        with pytest.raises(fsgate.OutsidePolicy) as err:
            client.make_dir(str(path), parents=True)
        refused(err, C.PERMISSION_DENIED, Reason.OUTSIDE_POLICY)
    assert snapshot(base(served)) == before


@pytest.mark.parametrize("rel", [".git/hooks", ".git/hooks/new", ".GIT/Hooks/new",
                                 "sub/.git/hooks/a/b", ".git/config"])
def test_make_dir_of_a_protected_path_fails_protected_path(client: Client,
                                                           served: ServerProcess, ws: Path,
                                                           rel: str) -> None:
    (ws / ".git").mkdir()
    before = snapshot(base(served))
    with pytest.raises(fsgate.ProtectedPath) as err:
        client.make_dir(str(ws / rel), parents=True, exist_ok=True)
    refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
    assert snapshot(base(served)) == before


def test_make_dir_with_a_narrower_policy_writes_only_inside_it(client: Client,
                                                               served: ServerProcess,
                                                               ws: Path) -> None:
    (ws / "out").mkdir()
    policy = Policy(writable_roots=[str(ws / "out")], cwd=str(ws))
    info = client.make_dir("out/new", policy=policy)
    assert info.path == str(ws / "out" / "new") and (ws / "out" / "new").is_dir()
    before = snapshot(base(served))
    with pytest.raises(fsgate.OutsidePolicy) as err:
        client.make_dir("other", policy=policy)
    refused(err, C.PERMISSION_DENIED, Reason.OUTSIDE_POLICY)
    assert snapshot(base(served)) == before


def test_make_dir_through_a_symlinked_parent_inside_creates_in_its_target(
        client: Client, ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "link").symlink_to("real")
    info = client.make_dir(str(ws / "link" / "new" / "sub"), parents=True)
    assert info.path == str(ws / "link" / "new" / "sub")  # named as the caller named it
    assert (ws / "real" / "new" / "sub").is_dir() and (ws / "link").is_symlink()


def test_make_dir_never_creates_through_a_dangling_leaf_symlink(client: Client,
                                                                served: ServerProcess,
                                                                ws: Path) -> None:
    (ws / "dangle").symlink_to("target")
    before = snapshot(base(served))
    for kwargs in ({}, {"exist_ok": True, "parents": True}):
        with pytest.raises(fsgate.AlreadyExists) as err:
            client.make_dir(str(ws / "dangle"), **kwargs)  # type: ignore[arg-type]  # bools
        refused(err, C.ALREADY_EXISTS, Reason.ALREADY_EXISTS)
    with pytest.raises(fsgate.AlreadyExists):
        client.make_dir(str(ws / "dangle" / "sub"), parents=True)  # as mkdir -p does
    assert not (ws / "target").exists()
    assert snapshot(base(served)) == before


def test_make_dir_exist_ok_accepts_a_symlink_to_a_directory(client: Client,
                                                            ws: Path) -> None:
    (ws / "real").mkdir(mode=0o711)
    (ws / "link").symlink_to("real")
    info = client.make_dir(str(ws / "link"), exist_ok=True)
    assert (info.path, info.type, info.mode) == (str(ws / "link"), FileType.DIRECTORY, 0o711)
    with pytest.raises(fsgate.AlreadyExists):
        client.make_dir(str(ws / "link"))


def test_make_dir_relative_to_cwd(client: Client, ws: Path) -> None:
    policy = Policy(writable_roots=[str(ws)], cwd=str(ws))
    client.make_dir("rel/a", parents=True, policy=policy)
    assert (ws / "rel" / "a").is_dir()
    with pytest.raises(fsgate.CwdRequired) as err:
        client.make_dir("rel/b")
    refused(err, C.INVALID_ARGUMENT, Reason.CWD_REQUIRED)


# --- Remove ---------------------------------------------------------------------------------

def test_remove_a_file(client: Client, ws: Path) -> None:
    (ws / "f").write_text("bye")
    (ws / "keep").write_text("stay")
    assert client.remove(str(ws / "f")).removed == 1
    assert sorted(os.listdir(ws)) == ["keep"]


def test_remove_a_symlink_removes_the_link_never_its_target(client: Client,
                                                            ws: Path) -> None:
    (ws / "target.txt").write_text("kept")
    (ws / "d").mkdir()
    (ws / "d" / "inside").write_text("kept too")
    (ws / "flink").symlink_to("target.txt")
    (ws / "dlink").symlink_to("d")
    assert client.remove(str(ws / "flink")).removed == 1
    assert client.remove(str(ws / "dlink"), recursive=True).removed == 1
    assert client.remove(str(ws / "dlink"), missing_ok=True).removed == 0
    assert sorted(os.listdir(ws)) == ["d", "target.txt"]
    assert (ws / "d" / "inside").read_text() == "kept too"


def test_remove_a_dangling_symlink_and_a_fifo(client: Client, ws: Path) -> None:
    (ws / "dangle").symlink_to("nowhere")
    os.mkfifo(ws / "fifo")
    assert client.remove(str(ws / "dangle")).removed == 1
    assert client.remove(str(ws / "fifo")).removed == 1  # unlinked, never opened
    assert os.listdir(ws) == []


def test_remove_an_empty_directory_without_recursive(client: Client, ws: Path) -> None:
    (ws / "empty").mkdir()
    assert client.remove(str(ws / "empty")).removed == 1
    assert not (ws / "empty").exists()


def test_remove_a_non_empty_directory_without_recursive_fails_not_empty(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "d").mkdir()
    (ws / "d" / "f").write_text("x")
    before = snapshot(base(served))
    with pytest.raises(fsgate.NotEmpty) as err:
        client.remove(str(ws / "d"))
    refused(err, C.FAILED_PRECONDITION, Reason.NOT_EMPTY)
    assert isinstance(err.value, OSError) and err.value.errno == errno.ENOTEMPTY
    assert snapshot(base(served)) == before


def test_remove_recursive_removes_the_whole_tree_and_counts_it(client: Client,
                                                               ws: Path) -> None:
    top = ws / "tree"
    for i in range(3):
        (top / f"d{i}" / "deeper").mkdir(parents=True)
        (top / f"d{i}" / "deeper" / "f").write_text("x")
        (top / f"d{i}" / "g").write_text("y")
    (top / "link").symlink_to("d0")
    # top, 3 x (d, deeper, f, g), link
    assert client.remove(str(top), recursive=True).removed == 1 + 3 * 4 + 1
    assert os.listdir(ws) == []


def test_remove_a_missing_path_fails_not_found_unless_missing_ok(
        client: Client, served: ServerProcess, ws: Path) -> None:
    before = snapshot(base(served))
    for path in (ws / "missing", ws / "no" / "parent"):
        with pytest.raises(fsgate.NotFound) as err:
            client.remove(str(path))
        refused(err, C.NOT_FOUND, Reason.NOT_FOUND)
        assert client.remove(str(path), missing_ok=True).removed == 0
        assert client.remove(str(path), missing_ok=True, recursive=True).removed == 0
    assert snapshot(base(served)) == before


def test_remove_if_version_removes_only_that_version(client: Client, served: ServerProcess,
                                                     ws: Path) -> None:
    (ws / "f").write_text("v1")
    (ws / "d").mkdir()
    (ws / "d" / "x").write_text("x")
    old = client.stat(str(ws / "f")).version
    (ws / "f").write_text("v2, changed")
    before = snapshot(base(served))
    with pytest.raises(fsgate.VersionMismatch) as err:
        client.remove(str(ws / "f"), if_version=old)
    refused(err, C.ABORTED, Reason.VERSION_MISMATCH)
    with pytest.raises(fsgate.VersionMismatch):
        client.remove(str(ws / "d"), recursive=True, if_version=old)
    assert snapshot(base(served)) == before
    assert client.remove(str(ws / "f"), if_version=client.stat(str(ws / "f")).version
                         ).removed == 1
    assert client.remove(str(ws / "d"), recursive=True,
                         if_version=client.stat(str(ws / "d")).version).removed == 2
    assert os.listdir(ws) == []


def test_remove_if_version_of_a_symlink_is_the_links_own(client: Client, ws: Path) -> None:
    (ws / "t").write_text("target")
    (ws / "l").symlink_to("t")
    target_version = client.stat(str(ws / "l"), follow_symlinks=True).version
    with pytest.raises(fsgate.VersionMismatch):
        client.remove(str(ws / "l"), if_version=target_version)
    assert client.remove(str(ws / "l"), if_version=client.stat(str(ws / "l")).version
                         ).removed == 1
    assert (ws / "t").read_text() == "target"


@pytest.mark.parametrize("root", ["ws", "ro"])
def test_remove_a_served_root_fails_protected_path(client: Client, served: ServerProcess,
                                                   root: str) -> None:
    before = snapshot(base(served))
    for recursive in (False, True):
        with pytest.raises(fsgate.ProtectedPath) as err:
            client.remove(str(base(served) / root), recursive=recursive)
        refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
    assert snapshot(base(served)) == before


def test_remove_in_a_read_only_root_or_outside_fails_outside_policy(
        client: Client, served: ServerProcess) -> None:
    before = snapshot(base(served))
    for path in (base(served) / "ro" / "readme.txt", base(served) / "outside" / "secret.txt",
                 base(served) / "ws2" / "sibling.txt", base(served)):
        with pytest.raises(fsgate.OutsidePolicy) as err:
            client.remove(str(path), recursive=True, missing_ok=True)
        refused(err, C.PERMISSION_DENIED, Reason.OUTSIDE_POLICY)
    assert snapshot(base(served)) == before


@pytest.mark.parametrize("rel", [".git/config", ".GIT/CONFIG", ".git/hooks",
                                 ".git/hooks/pre-commit", "vendor/lib/.git/config"])
def test_remove_of_a_protected_path_fails_protected_path(client: Client,
                                                         served: ServerProcess, ws: Path,
                                                         rel: str) -> None:
    for made in (".git/hooks/pre-commit", ".GIT/CONFIG", ".git/config",
                 "vendor/lib/.git/config"):
        (ws / made).parent.mkdir(parents=True, exist_ok=True)
        (ws / made).write_text("[core]")
    before = snapshot(base(served))
    for recursive in (False, True):
        with pytest.raises(fsgate.ProtectedPath) as err:
            client.remove(str(ws / rel), recursive=recursive)
        refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
    assert snapshot(base(served)) == before


@pytest.mark.parametrize("protected", [".git/config", ".GIT/config", ".git/hooks/post-merge",
                                       "a/b/.Git/Hooks"])
def test_remove_recursive_above_a_protected_path_removes_nothing(
        client: Client, served: ServerProcess, ws: Path, protected: str) -> None:
    top = ws / "repo"
    for i in range(20):
        (top / "src").mkdir(parents=True, exist_ok=True)
        (top / "src" / f"f{i}").write_text("x")
    (top / protected).parent.mkdir(parents=True, exist_ok=True)
    if protected.endswith("Hooks"):
        (top / protected).mkdir()
    else:
        (top / protected).write_text("")
    before = snapshot(base(served))
    for path in (top, top / protected.split("/")[0]):
        for recursive in (True, False):  # not empty, and above a protected path: PROTECTED
            with pytest.raises(fsgate.ProtectedPath) as err:
                client.remove(str(path), recursive=recursive)
            refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
            assert "below it is a protected path" in err.value.message  # says which
    assert snapshot(base(served)) == before


def test_remove_recursive_above_a_denied_path_removes_nothing_and_names_nothing(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "tree" / "private").mkdir(parents=True)
    (ws / "tree" / "private" / "hidden-name.txt").write_text("secret")
    (ws / "tree" / "public.txt").write_text("public")
    policy = Policy(writable_roots=[str(ws)], denied_paths=[str(ws / "tree" / "private")])
    before = snapshot(base(served))
    with pytest.raises(fsgate.SandboxDenied) as err:
        client.remove(str(ws / "tree"), recursive=True, policy=policy)
    refused(err, C.PERMISSION_DENIED, Reason.SANDBOX_DENIED)
    assert "private" not in str(err.value) and "hidden-name" not in str(err.value)
    with pytest.raises(fsgate.NotEmpty) as not_empty:  # without recursive: just not empty
        client.remove(str(ws / "tree"), policy=policy)
    assert "private" not in str(not_empty.value)
    assert snapshot(base(served)) == before


def test_remove_with_a_narrower_policy_removes_only_inside_it(client: Client,
                                                              served: ServerProcess,
                                                              ws: Path) -> None:
    (ws / "out").mkdir()
    (ws / "out" / "f").write_text("x")
    (ws / "other").write_text("y")
    policy = Policy(writable_roots=[str(ws / "out")], cwd=str(ws))
    before = snapshot(base(served))
    with pytest.raises(fsgate.OutsidePolicy) as err:
        client.remove("other", policy=policy)
    refused(err, C.PERMISSION_DENIED, Reason.OUTSIDE_POLICY)
    with pytest.raises(fsgate.SandboxDenied) as denied:
        client.remove("out", recursive=True, policy=policy)  # its directory is not writable
    refused(denied, C.PERMISSION_DENIED, Reason.SANDBOX_DENIED)
    assert snapshot(base(served)) == before
    assert client.remove("out/f", policy=policy).removed == 1


def test_remove_relative_to_cwd(client: Client, ws: Path) -> None:
    (ws / "rel").write_text("x")
    assert client.remove("rel", policy=Policy(writable_roots=[str(ws)], cwd=str(ws))
                         ).removed == 1
    with pytest.raises(fsgate.CwdRequired):
        client.remove("rel")


# --- GetServerInfo --------------------------------------------------------------------------

def test_server_info_reports_version_backend_roots_limits_and_abi(
        client: Client, served: ServerProcess) -> None:
    info = client.server_info()
    defaults = Config()
    assert info.version == fsgate.__version__
    assert info.backend == served.backend
    assert info.roots == (fsgate.ServerRoot(str(base(served) / "ro"), False),
                          fsgate.ServerRoot(str(base(served) / "ws"), True))
    assert info.limits == fsgate.ServerLimits(
        max_read_bytes=defaults.max_read_bytes, max_write_bytes=defaults.max_write_bytes,
        max_list_depth=defaults.max_list_depth, max_list_entries=defaults.max_list_entries,
        max_page_size=1000, max_matches=defaults.max_matches,
        max_watches=defaults.max_watches)
    assert info.landlock_abi == landlock.abi_version()


def test_async_client_makes_removes_and_describes(served: ServerProcess, ws: Path) -> None:
    async def main() -> tuple[fsgate.FileInfo, int, fsgate.ServerInfo]:
        async with fsgate.AsyncClient(served.target) as aio:
            made = await aio.make_dir(str(ws / "a" / "b"), parents=True, mode=0o700)
            (ws / "a" / "b" / "f").write_text("x")
            with pytest.raises(fsgate.NotEmpty):
                await aio.remove(str(ws / "a"))
            removed = (await aio.remove(str(ws / "a"), recursive=True)).removed
            return made, removed, await aio.server_info()

    made, removed, info = asyncio.run(main())
    assert (made.type, made.mode) == (FileType.DIRECTORY, 0o700)
    assert removed == 3 and os.listdir(ws) == []
    assert info.backend == served.backend


# --- a server with small limits -------------------------------------------------------------

@pytest.fixture(scope="module")
def small(backend: str, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ServerProcess]:
    """A server whose walks visit at most 10 entries."""
    root = tmp_path_factory.mktemp(f"small-{backend}")
    (root / "ws").mkdir()
    server = start_server(tmp_path_factory.mktemp(f"small-run-{backend}"), [str(root / "ws")],
                          backend, "--max-list-entries", "10", "--max-matches", "7")
    yield server
    server.stop()


def test_remove_recursive_past_the_entry_limit_fails_too_large_removing_nothing(
        small: ServerProcess) -> None:
    top = small.root / "big"
    (top / "sub").mkdir(parents=True)
    for i in range(10):  # top + sub + 10 files: 12 entries
        (top / "sub" / f"f{i}").write_text("x")
    before = snapshot(small.root)
    with Client(small.target) as client:
        with pytest.raises(fsgate.TooLarge) as err:
            client.remove(str(top), recursive=True)
        refused(err, C.RESOURCE_EXHAUSTED, Reason.TOO_LARGE)
        assert snapshot(small.root) == before
        (top / "sub" / "f9").unlink()
        (top / "sub" / "f8").unlink()  # 10 entries: at the limit
        assert client.remove(str(top), recursive=True).removed == 10
        info = client.server_info()
    assert (info.limits.max_list_entries, info.limits.max_matches) == (10, 7)
    assert info.roots == (fsgate.ServerRoot(str(small.root), True),)


def test_remove_recursive_deeper_than_the_descriptors_allow_fails_too_large(
        client: Client, served: ServerProcess, ws: Path) -> None:
    deep = ws / "deep"
    path = deep
    for _ in range(80):  # far deeper than a helper's open-file limit allows to hold
        path = path / "d"
    path.mkdir(parents=True)
    before = snapshot(base(served))
    with pytest.raises(fsgate.TooLarge) as err:
        client.remove(str(deep), recursive=True)
    refused(err, C.RESOURCE_EXHAUSTED, Reason.TOO_LARGE)
    assert "levels" in err.value.message
    assert snapshot(base(served)) == before
