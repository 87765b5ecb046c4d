"""Attacks on MakeDir and Remove, one test per attack, on real servers (both backends).
Each refusal asserts the code and reason and that nothing changed where it must not."""
from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Reason

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

C = grpc.StatusCode
ROUNDS = 300


def outside(served: ServerProcess) -> Path:
    return served.root.parent / "outside"


def refused(err: pytest.ExceptionInfo[fsgate.FsgateError], code: grpc.StatusCode,
            reason: Reason) -> None:
    assert (err.value.code, err.value.reason) == (code, reason), err.value


@contextlib.contextmanager
def looping(step: Callable[[], None]) -> Iterator[threading.Event]:
    """Run ``step`` in a tight loop on a thread for the duration of the block (OSErrors of
    the race are the point, not failures). Yields an event set once it has looped."""
    stop, started = threading.Event(), threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                step()
            started.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        started.wait(5)
        yield started
    finally:
        stop.set()
        thread.join(10)


def victims(served: ServerProcess, ws: Path) -> list[Path]:
    """Files the attacker wants removed: one in the same writable root, one outside."""
    out = []
    for where in (ws / "victim", outside(served) / f"victim-{ws.name}"):
        where.mkdir()
        for i in range(5):
            (where / f"precious{i}").write_text("keep me")
        (where / "nested").mkdir()
        (where / "nested" / "deep").write_text("keep me")
        out.append(where)
    return out


def build(top: Path) -> None:
    for name in ("sub", "other"):
        (top / name / "inner").mkdir(parents=True, exist_ok=True)
        for i in range(8):
            (top / name / f"f{i}").write_text("x")
        (top / name / "inner" / "g").write_text("y")


def swapper(real: Path, aside: Path, link_to: list[Path]) -> Callable[[], None]:
    """One step of the attack: the directory ``real`` becomes a symlink to a victim, or
    (every other step) goes back to being the directory, as fast as the loop runs."""
    turn = [0]

    def step() -> None:
        turn[0] += 1
        if turn[0] % 2:
            os.rename(real, aside)
            os.symlink(link_to[turn[0] // 2 % len(link_to)], real)
        else:
            os.unlink(real)
            os.rename(aside, real)

    return step


def settle(real: Path, aside: Path) -> None:
    """The loop stopped: put the directory back if it stopped half-way."""
    if aside.exists() and not aside.is_symlink():
        if real.is_symlink():
            real.unlink()
        if not real.exists() and real.parent.is_dir():
            os.rename(aside, real)


def clean(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)  # never follows a link inside


@pytest.mark.parametrize("level", ["subdirectory", "top"])
def test_recursive_remove_while_a_directory_is_swapped_for_a_symlink_to_outside_in_a_loop(
        client: Client, served: ServerProcess, ws: Path, level: str) -> None:
    targets = victims(served, ws)
    before = [snapshot(v) for v in targets]
    outcomes: dict[str, int] = {}
    for _ in range(ROUNDS):
        top = ws / "tree"
        build(top)
        real = top / "sub" if level == "subdirectory" else top
        aside = ws / f"aside-{level}"
        with looping(swapper(real, aside, targets)):
            try:
                removed = client.remove(str(top), recursive=True).removed
                outcomes["removed"] = outcomes.get("removed", 0) + (removed > 0)
            except fsgate.FsgateError as exc:
                # The race may make the tree vanish, change or keep growing: refused, fine.
                assert exc.reason in (Reason.NOT_FOUND, Reason.NOT_EMPTY,
                                      Reason.NOT_A_DIRECTORY, Reason.IS_A_DIRECTORY), exc
                outcomes[str(exc.reason)] = outcomes.get(str(exc.reason), 0) + 1
        settle(real, aside)
        for leftover in (top, aside):
            clean(leftover)
        assert [snapshot(v) for v in targets] == before, outcomes
    assert outcomes.get("removed", 0) > 0, outcomes  # the removals did happen, and often


def test_remove_through_a_symlinked_parent_to_outside_is_refused(client: Client,
                                                                  served: ServerProcess,
                                                                  ws: Path) -> None:
    base = served.root.parent
    (ws / "out").symlink_to(outside(served))
    (ws / "ro").symlink_to(base / "ro")
    (ws / "sib").symlink_to(base / "ws2")
    before = snapshot(base)
    for path, recursive in ((ws / "out" / "secret.txt", False),
                            (ws / "ro" / "readme.txt", False),
                            (ws / "sib" / "sibling.txt", True),
                            (ws / "out" / "no-such-file", False)):
        with pytest.raises(fsgate.SandboxDenied) as err:
            client.remove(str(path), recursive=recursive, missing_ok=True)
        refused(err, C.PERMISSION_DENIED, Reason.SANDBOX_DENIED)
    assert snapshot(base) == before


def test_remove_of_a_link_to_outside_removes_the_link_only(client: Client,
                                                           served: ServerProcess,
                                                           ws: Path) -> None:
    (ws / "out").symlink_to(outside(served))
    (ws / "file").symlink_to(outside(served) / "secret.txt")
    before = snapshot(outside(served))
    assert client.remove(str(ws / "out"), recursive=True).removed == 1
    assert client.remove(str(ws / "file")).removed == 1
    assert os.listdir(ws) == [] and snapshot(outside(served)) == before


def test_remove_through_a_symlinked_parent_inside_removes_in_its_target(client: Client,
                                                                         ws: Path) -> None:
    (ws / "real").mkdir()
    (ws / "real" / "f").write_text("x")
    (ws / "link").symlink_to("real")
    assert client.remove(str(ws / "link" / "f")).removed == 1
    assert os.listdir(ws / "real") == [] and (ws / "link").is_symlink()


@pytest.mark.parametrize("via", ["g/config", "g/hooks", "x/config", "x/hooks/pre-push",
                                 "G/CONFIG", "cfgdir/config"])
def test_remove_of_a_protected_path_through_links_is_refused(client: Client,
                                                             served: ServerProcess, ws: Path,
                                                             via: str) -> None:
    (ws / "gitdir" / "hooks").mkdir(parents=True)
    (ws / "gitdir" / "config").write_text("[core]")
    (ws / "gitdir" / "hooks" / "pre-push").write_text("#!/bin/sh")
    (ws / ".git").symlink_to("gitdir")        # .git -> gitdir: protected by the name .git
    (ws / "x").symlink_to(".git")             # x -> .git -> gitdir: passes through .git
    (ws / "repo" / ".git").mkdir(parents=True)
    (ws / "repo" / ".git" / "config").write_text("[core]")
    (ws / "repo" / ".git" / "hooks").mkdir()
    (ws / "g").symlink_to("repo/.git")        # lands in a real .git
    (ws / "G").symlink_to("repo/.GIT")        # by case (only a case-insensitive fs has it)
    (ws / "cfgdir").symlink_to("x")
    if via.startswith("G/"):
        (ws / "repo" / ".GIT").mkdir()
        (ws / "repo" / ".GIT" / "CONFIG").write_text("[core]")
    before = snapshot(served.root.parent)
    for recursive in (False, True):
        with pytest.raises(fsgate.ProtectedPath) as err:
            client.remove(str(ws / via), recursive=recursive)
        refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
    assert snapshot(served.root.parent) == before


def test_recursive_remove_of_a_tree_with_a_link_to_a_protected_directory_keeps_it(
        client: Client, ws: Path) -> None:
    (ws / ".git" / "hooks").mkdir(parents=True)
    (ws / ".git" / "config").write_text("[core]")
    (ws / "tree").mkdir()
    (ws / "tree" / "hooks").symlink_to("../.git/hooks")
    (ws / "tree" / "cfg").symlink_to("../.git/config")
    assert client.remove(str(ws / "tree"), recursive=True).removed == 3  # links, not targets
    assert (ws / ".git" / "config").read_text() == "[core]" and (ws / ".git" / "hooks").is_dir()


def test_hard_link_inside_a_root_to_a_file_outside_removes_the_link_only(
        client: Client, served: ServerProcess, ws: Path) -> None:
    secret = outside(served) / "secret.txt"
    os.link(secret, ws / "hard")
    (ws / "tree").mkdir()
    os.link(secret, ws / "tree" / "hard2")
    assert secret.stat().st_nlink == 3
    assert client.remove(str(ws / "hard")).removed == 1
    assert client.remove(str(ws / "tree"), recursive=True).removed == 2
    assert secret.read_text() == "top secret\n" and secret.stat().st_nlink == 1


def test_make_dir_through_a_symlinked_parent_to_outside_creates_nothing(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "out").symlink_to(outside(served))
    (ws / "dangle").symlink_to(outside(served) / "planted")
    (ws / "exists").symlink_to(outside(served))
    before = snapshot(served.root.parent)
    for path, kwargs in ((ws / "out" / "planted", {}),
                         (ws / "out" / "a" / "b", {"parents": True}),
                         (ws / "dangle" / "sub", {"parents": True}),
                         (ws / "exists", {"exist_ok": True})):
        with pytest.raises(fsgate.SandboxDenied) as err:
            client.make_dir(str(path), **kwargs)  # type: ignore[arg-type]  # bool kwargs
        refused(err, C.PERMISSION_DENIED, Reason.SANDBOX_DENIED)
    assert snapshot(served.root.parent) == before


def test_make_dir_answers_the_same_whether_or_not_something_exists_outside(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "probe").symlink_to(outside(served) / "maybe")
    answers = []
    for exists in (False, True):
        if exists:
            (outside(served) / "maybe").mkdir()
        with pytest.raises(fsgate.FsgateError) as err:
            client.make_dir(str(ws / "probe" / "x"), parents=True, exist_ok=True)
        answers.append((err.value.code, err.value.reason, err.value.message))
    (outside(served) / "maybe").rmdir()
    assert answers[0] == answers[1]
    assert answers[0][1] == Reason.SANDBOX_DENIED


# --- served roots ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def nested(backend: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[ServerProcess]:
    """A read-write root ``w`` with a read-only root ``w/sub/inner`` served inside it."""
    base = tmp_path_factory.mktemp(f"nested-{backend}")
    (base / "w" / "sub" / "inner").mkdir(parents=True)
    (base / "w" / "sub" / "inner" / "data").write_text("served")
    (base / "w" / "sub" / "other").write_text("x")
    (base / "w" / "self").symlink_to(".")
    server = start_server(tmp_path_factory.mktemp(f"nested-run-{backend}"),
                          [str(base / "w"), f"{base / 'w' / 'sub' / 'inner'}:ro"], backend)
    yield server
    server.stop()


@pytest.mark.parametrize("rel", ["sub", "self/sub", "self/self/sub", "sub/inner",
                                 "self/sub/inner"])
def test_remove_of_a_root_or_what_holds_one_is_refused_also_through_links(
        nested: ServerProcess, rel: str) -> None:
    before = snapshot(nested.root)
    with Client(nested.target) as client:
        for recursive in (False, True):
            with pytest.raises(fsgate.ProtectedPath) as err:
                client.remove(str(nested.root / rel), recursive=recursive)
            refused(err, C.PERMISSION_DENIED, Reason.PROTECTED_PATH)
        with pytest.raises(fsgate.ProtectedPath):
            client.remove(str(nested.root), recursive=True)
    assert snapshot(nested.root) == before
