"""WatchDir attacks, on both backends: no event ever names anything outside the watched
tree or under a denied path, whatever a co-tenant does to the tree while it is watched.

Every test plants an outside directory whose every name below it carries a token
(bench/soak_tree.plant_outside), makes changes out there through whatever the attack set
up, then a sentinel inside: the events up to the sentinel are everything that was
reported for those changes, and none may carry the token or name a denied path."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import FileEvent

from bench.soak_tree import Outside, plant_outside

from ..conftest import ServerProcess
from ..helpers import snapshot
from ..watch_helpers import events, names, step

TIMEOUT = 60.0


@pytest.fixture
def outside(served: ServerProcess, request: pytest.FixtureRequest) -> Outside:
    """A fresh outside directory, next to the served roots (no root covers it)."""
    base = served.root.parent / f"outside-{request.node.name}".replace("[", "_").replace(
        "]", "")
    return plant_outside(base)


def churn(outside: Outside) -> None:
    """Changes out there, under token names: creations, writes, renames, removals."""
    tok = outside.token
    tree = outside.tree
    (tree / f"{tok}-new.txt").write_text(outside.secret.decode())
    with open(tree / f"{tok}-a.txt", "a") as f:
        f.write("more")
    os.rename(tree / f"{tok}-new.txt", tree / f"{tok}-renamed.txt")
    (tree / f"{tok}-dir").mkdir()
    (tree / f"{tok}-dir" / f"{tok}-inner.txt").write_text("x")
    os.chmod(tree / f"{tok}-a.txt", 0o600)
    os.unlink(tree / f"{tok}-renamed.txt")


def assert_no_leak(items: list[fsgate.FileEvent | fsgate.WatchOverflow],
                   outside: Outside) -> None:
    leaks = [leak for item in items for leak in outside.leaks(item, "event")]
    assert leaks == []
    assert not [p for p in names(items) if p.startswith(str(outside.path))]


def test_symlink_to_outside_in_the_tree_yields_no_outside_event(
        client: fsgate.Client, ws: Path, outside: Outside) -> None:
    (ws / "escape").symlink_to(outside.tree)
    (ws / "escape-file").symlink_to(outside.plain)
    with client.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
        assert watch.watched_directories == 1  # the link is not followed into a watch
        churn(outside)
        (ws / "escape" / "through-the-link.txt").write_text("lands outside")
        with open(ws / "escape-file", "a") as f:
            f.write("appended outside")
        items = step(watch, ws)
    assert_no_leak(items, outside)
    assert names(items) == []  # nothing changed inside: the link itself stayed as it was


def test_subdirectory_moved_outside_and_swapped_for_a_symlink_yields_no_outside_event(
        client: fsgate.Client, ws: Path, outside: Outside) -> None:
    (ws / "sub" / "deeper").mkdir(parents=True)
    with client.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
        assert watch.watched_directories == 3
        moved = outside.tree / f"{outside.token}-was-sub"
        os.rename(ws / "sub", moved)  # the watched inode now lives outside
        (ws / "sub").symlink_to(moved)
        for d in (moved, moved / "deeper"):
            (d / f"{outside.token}-after-move.txt").write_text(outside.secret.decode())
        os.rename(moved / "deeper", moved / f"{outside.token}-deeper2")
        churn(outside)
        items = step(watch, ws)
        # still watching the tree, and still nothing of what moved away
        (moved / f"{outside.token}-later.txt").write_text("x")
        (ws / "inside.txt").write_text("")
        later = step(watch, ws)
    assert_no_leak(items + later, outside)
    assert events(items, ws) == [("DELETED", "sub", None, True), ("CREATED", "sub", None, False)]
    assert ("CREATED", "inside.txt", None, False) in events(later, ws)


def test_subdirectory_replaced_by_a_symlink_to_outside_yields_no_outside_event(
        client: fsgate.Client, ws: Path, outside: Outside) -> None:
    (ws / "sub").mkdir()
    with client.watch(ws, recursive=True, timeout=TIMEOUT) as watch:
        shutil.rmtree(ws / "sub")
        (ws / "sub").symlink_to(outside.tree)
        churn(outside)
        (ws / "sub" / "via-link.txt").write_text("lands outside")
        items = step(watch, ws)
    assert_no_leak(items, outside)
    assert events(items, ws) == [("DELETED", "sub", None, True), ("CREATED", "sub", None, False)]


def test_watched_directory_swapped_for_a_symlink_ends_the_watch_without_outside_events(
        client: fsgate.Client, ws: Path, outside: Outside) -> None:
    watched = ws / "w"
    watched.mkdir()
    with client.watch(watched, recursive=True, timeout=TIMEOUT) as watch:
        os.rename(watched, outside.tree / f"{outside.token}-was-watched")
        watched.symlink_to(outside.tree)
        churn(outside)
        items: list[fsgate.FileEvent | fsgate.WatchOverflow] = []
        with pytest.raises(fsgate.NotFound) as err:
            items.extend(watch)
    assert_no_leak(items, outside)
    assert events(items, ws) == [("DELETED", "w", None, True)]
    assert outside.token not in str(err.value)


def test_watching_through_a_symlink_to_outside_is_refused(
        client: fsgate.Client, ws: Path, outside: Outside) -> None:
    (ws / "link").symlink_to(outside.tree)
    before = snapshot(ws)
    with pytest.raises(fsgate.SandboxDenied) as err:
        client.watch(ws / "link", recursive=True, timeout=TIMEOUT)
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert outside.leaks(err.value, "error") == []
    assert snapshot(ws) == before


def test_denied_subtree_is_never_named(client: fsgate.Client, ws: Path) -> None:
    (ws / "secret" / "inner").mkdir(parents=True)
    (ws / "secret" / "old.txt").write_text("x")
    (ws / "public").mkdir()
    policy = fsgate.Policy(denied_paths=[ws / "secret"])
    with client.watch(ws, recursive=True, policy=policy, timeout=TIMEOUT) as watch:
        assert watch.watched_directories == 2  # ws and public: secret is not watched
        (ws / "secret" / "new.txt").write_text("x")
        (ws / "secret" / "inner" / "deep.txt").write_text("x")
        os.rename(ws / "secret" / "old.txt", ws / "public" / "out-of-secret.txt")
        (ws / "public" / "into-secret.txt").write_text("")
        os.rename(ws / "public" / "into-secret.txt", ws / "secret" / "hidden.txt")
        os.chmod(ws / "secret", 0o700)
        (ws / "public" / "sub").mkdir()
        os.rename(ws / "public" / "sub", ws / "secret" / "sub-moved-in")
        (ws / "secret" / "sub-moved-in" / "f.txt").write_text("")
        items = step(watch, ws)
    denied = str(ws / "secret")
    assert not [p for p in names(items) if p == denied or p.startswith(denied + "/")]
    assert [e for e in events(items, ws) if e[0] != "MODIFIED"] == [
        ("CREATED", "public/out-of-secret.txt", None, False),
        ("CREATED", "public/into-secret.txt", None, False),
        ("DELETED", "public/into-secret.txt", None, False),
        ("CREATED", "public/sub", None, True),
        ("DELETED", "public/sub", None, True),
    ]


def test_denied_link_target_is_never_named(client: fsgate.Client, ws: Path) -> None:
    """A denied path that is a link denies its target, under its own name too."""
    (ws / "private").mkdir()
    (ws / "alias").symlink_to(ws / "private")
    policy = fsgate.Policy(denied_paths=[ws / "alias"])
    with client.watch(ws, recursive=True, policy=policy, timeout=TIMEOUT) as watch:
        (ws / "private" / "f.txt").write_text("x")
        (ws / "visible.txt").write_text("")
        items = step(watch, ws)
    assert [e[1] for e in events(items, ws)] == ["visible.txt"]
    assert all(isinstance(i, FileEvent) for i in items)
