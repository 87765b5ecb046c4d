"""The helper's Remove (helper/remove.py, tree.py) driven directly, without gRPC or a
sandbox: what happens between its check and its removal is set up deterministically."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fsgate.reasons import Reason
from fsgate_server.errors import Failure
from fsgate_server.helper import remove as remove_op
from fsgate_server.helper import tree
from fsgate_server.helper.messages import RemoveArgs
from fsgate_server.policy import EffectivePolicy
from fsgate_server.protected import DEFAULT_PROTECTED


def policy(root: Path) -> EffectivePolicy:
    return EffectivePolicy(readable=(str(root),), writable=(str(root),), denied=(),
                           protected=DEFAULT_PROTECTED, protection_roots=(str(root),))


def build(top: Path) -> None:
    for d in ("a", "b"):
        (top / d).mkdir(parents=True)
        for i in range(3):
            (top / d / f"f{i}").write_text("x")


def after_the_check(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    real_check = tree.Tree.check

    def check(self: tree.Tree, fd: int) -> None:
        real_check(self, fd)
        then()

    monkeypatch.setattr(tree.Tree, "check", check)


def test_a_protected_entry_created_after_the_check_is_kept_with_its_ancestors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "top"
    build(top)

    def plant() -> None:
        (top / "b" / ".git").mkdir()
        (top / "b" / ".git" / "config").write_text("[core]")

    after_the_check(monkeypatch, plant)
    with pytest.raises(Failure) as err:
        remove_op.remove(RemoveArgs(str(top), policy(tmp_path), recursive=True,
                                    max_entries=100))
    assert err.value.reason is Reason.PROTECTED_PATH
    assert "appeared during the removal" in err.value.message
    assert (top / "b" / ".git" / "config").read_text() == "[core]"
    assert sorted(p.name for p in top.iterdir()) == ["b"]  # a went; b holds .git
    assert sorted(p.name for p in (top / "b").iterdir()) == [".git"]


def test_a_file_swapped_for_a_directory_after_the_check_is_removed_as_what_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "top"
    build(top)

    def swap() -> None:
        (top / "a" / "f0").unlink()
        (top / "a" / "f0").mkdir()
        (top / "a" / "f0" / "new").write_text("y")

    after_the_check(monkeypatch, swap)
    done = remove_op.remove(RemoveArgs(str(top), policy(tmp_path), recursive=True,
                                       max_entries=100))
    assert done == 1 + 2 + 6 + 1 and not top.exists()


def test_a_directory_swapped_for_a_link_after_the_check_is_unlinked_as_a_link(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top, victim = tmp_path / "top", tmp_path / "victim"
    build(top)
    victim.mkdir()
    (victim / "precious").write_text("keep")

    def swap() -> None:
        (top / "a").rename(tmp_path / "a-aside")
        (top / "a").symlink_to(victim)

    after_the_check(monkeypatch, swap)
    assert remove_op.remove(RemoveArgs(str(top), policy(tmp_path), recursive=True,
                                       max_entries=100)) == 1 + 1 + 4
    assert (victim / "precious").read_text() == "keep" and not top.exists()


def test_a_tree_that_grows_past_the_limit_after_the_check_stops_saying_what_went(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    top = tmp_path / "top"
    build(top)

    def grow() -> None:
        for i in range(20):
            (top / "b" / f"new{i}").write_text("z")

    after_the_check(monkeypatch, grow)
    with pytest.raises(Failure) as err:
        remove_op.remove(RemoveArgs(str(top), policy(tmp_path), recursive=True,
                                    max_entries=9))
    assert err.value.reason is Reason.TOO_LARGE
    assert "entries removed" in err.value.message and "nothing removed" not in err.value.message


def test_an_entry_protected_only_by_the_name_the_path_reached_it_by_is_refused(
        tmp_path: Path) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "keys").write_text("k")
    (tmp_path / "real" / "sub" / "other").write_text("o")
    (tmp_path / "alias").symlink_to("real")
    guarded = EffectivePolicy(readable=(str(tmp_path),), writable=(str(tmp_path),),
                              denied=(), protected=("alias/sub/keys",),
                              protection_roots=(str(tmp_path),))
    with pytest.raises(Failure) as err:  # real/sub/keys is not protected by its own name
        remove_op.remove(RemoveArgs(str(tmp_path / "alias" / "sub"), guarded,
                                    recursive=True, max_entries=100))
    assert err.value.reason is Reason.PROTECTED_PATH
    assert sorted(p.name for p in (tmp_path / "real" / "sub").iterdir()) == ["keys", "other"]
    assert remove_op.remove(RemoveArgs(str(tmp_path / "real" / "sub"), guarded,
                                       recursive=True, max_entries=100)) == 3
