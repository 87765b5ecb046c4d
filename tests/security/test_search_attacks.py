"""Search and Glob never leak: through a symlink to outside, into a denied subtree (which
Landlock cannot carve out of a readable root: the walk itself must keep out), through a
.gitignore that tries to re-include a denied path, or through entries renamed or swapped
for links while the walk runs. Neither names nor content of anything outside the effective
policy appear in any result or error. A hostile pattern ends promptly."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import fsgate
import grpc
import pytest
from fsgate import Client, Policy

from ..conftest import ServerProcess
from ..helpers import snapshot
from .test_attack_variants_races import CoTenant, cotenant, exchange

__all__ = ["cotenant"]  # the fixture, imported for the race tests here

SECRET = "top secret"  # outside/secret.txt (conftest) and every private file here
PRIVATE = "private-marker"


def outside(served: ServerProcess) -> Path:
    return served.root.parent / "outside"


def everything(client: Client, path: Path, policy: Policy | None = None) -> str:
    """All a caller can learn from Search and Glob below ``path``, as one text: every
    path, line and context line, every glob entry with its link target, every error."""
    parts: list[str] = []
    for pattern in ("secret", "e", "."):
        try:
            result = client.search(str(path), pattern, include_hidden=True,
                                   include_ignored=True, context_lines=3, policy=policy)
            for m in result:
                parts += [m.path, m.line, *m.before, *m.after]
            parts.append(repr(result.summary))
        except fsgate.FsgateError as exc:
            parts.append(f"{exc.code} {exc.reason} {exc.message}")
    try:
        for e in client.glob(str(path), "**", include_hidden=True, include_ignored=True,
                             policy=policy).entries:
            parts += [e.name, e.info.path]
    except fsgate.FsgateError as exc:
        parts.append(f"{exc.code} {exc.reason} {exc.message}")
    return "\n".join(parts)


def test_search_and_glob_never_follow_a_symlink_to_outside(client: Client,
                                                           served: ServerProcess,
                                                           ws: Path) -> None:
    (ws / "dir-out").symlink_to(outside(served))
    (ws / "file-out").symlink_to(outside(served) / "secret.txt")
    (ws / "inside.txt").write_text("inside\n")
    seen = everything(client, ws)
    assert SECRET not in seen and "secret.txt" not in seen.replace(
        str(ws / "file-out"), "")  # the link itself is an entry; its target is its own text
    names = [e.name for e in client.glob(str(ws), "**").entries]
    assert names == ["dir-out", "file-out", "inside.txt"]  # reported, not descended


def test_a_symlinked_base_to_outside_is_refused_the_same_whether_it_exists_or_not(
        client: Client, served: ServerProcess, ws: Path) -> None:
    (ws / "to-file").symlink_to(outside(served) / "secret.txt")
    (ws / "to-nothing").symlink_to(outside(served) / "no-such-file")
    answers = set()
    for link in ("to-file", "to-nothing"):
        with pytest.raises(fsgate.SandboxDenied) as err:
            list(client.search(str(ws / link), "secret"))
        assert SECRET not in err.value.message
        assert str(outside(served)) not in err.value.message
        answers.add((err.value.code, err.value.reason, err.value.message.replace(link, "L")))
    assert len(answers) == 1  # no existence oracle


@pytest.fixture
def private_tree(ws: Path) -> Path:
    (ws / "pub").mkdir()
    (ws / "pub" / "open.txt").write_text("public e\n")
    (ws / "private").mkdir()
    (ws / "private" / "deep").mkdir()
    (ws / "private" / f"{PRIVATE}.txt").write_text(f"{SECRET} e\n")
    (ws / "private" / "deep" / f"{PRIVATE}-2").write_text(f"{SECRET}\n")
    (ws / "private" / ".gitignore").write_text("!*\n")
    return ws


def test_a_denied_subtree_is_neither_searched_nor_named(client: Client,
                                                        private_tree: Path) -> None:
    policy = Policy(denied_paths=[str(private_tree / "private")])
    seen = everything(client, private_tree, policy)
    assert "public e" in seen
    assert SECRET not in seen and PRIVATE not in seen and "/private" not in seen
    with pytest.raises(fsgate.PermissionDenied) as err:
        list(client.search(str(private_tree / "private"), "e", policy=policy))
    assert SECRET not in err.value.message and PRIVATE not in err.value.message


def test_a_denied_link_denies_its_target_by_every_name(client: Client,
                                                       private_tree: Path) -> None:
    (private_tree / "alias").symlink_to("private")
    policy = Policy(denied_paths=[str(private_tree / "alias")])  # denies private itself
    seen = everything(client, private_tree, policy)
    assert SECRET not in seen and PRIVATE not in seen


def test_a_gitignore_cannot_reinclude_a_denied_path(client: Client, private_tree: Path) -> None:
    (private_tree / ".gitignore").write_text("*\n!private/\n!private/**\n!pub/\n!pub/**\n")
    policy = Policy(denied_paths=[str(private_tree / "private")])
    options: list[dict[str, Any]] = [{}, {"include_hidden": True},
                                     {"include_globs": ["private/**", "**"]}]
    for kw in options:
        result = client.search(str(private_tree), "e", policy=policy, **kw)
        paths = [m.path for m in result]
        assert paths == [str(private_tree / "pub" / "open.txt")], paths
    names = [e.name for e in client.glob(str(private_tree), ["**", "private/**"],
                                         include_hidden=True, policy=policy).entries]
    assert not any("private" in n for n in names)


def test_a_denied_ignore_file_is_never_read(client: Client, ws: Path) -> None:
    # Its rules taking effect would tell the caller what it says.
    (ws / "pub").mkdir()
    (ws / "pub" / "a.txt").write_text("e\n")
    (ws / "pub" / ".gitignore").write_text("a.txt\n")
    policy = Policy(denied_paths=[str(ws / "pub" / ".gitignore")])
    assert [m.path for m in client.search(str(ws), "e", policy=policy)] == [
        str(ws / "pub" / "a.txt")]
    assert [m.path for m in client.search(str(ws), "e")] == []  # readable: it applies


def test_a_directory_swapped_for_a_link_to_a_denied_one_mid_walk_leaks_nothing(
        client: Client, private_tree: Path, cotenant: CoTenant) -> None:
    pub, link = private_tree / "pub", private_tree / "swap"
    for i in range(50):
        (pub / f"f{i}.txt").write_text("public e\n")
    link.symlink_to("private")
    cotenant(lambda: exchange(pub, link))  # pub is a dir, then a link to private, then...
    policy = Policy(denied_paths=[str(private_tree / "private")])
    for _ in range(20):
        seen = everything(client, private_tree, policy)
        assert SECRET not in seen and PRIVATE not in seen


def test_a_directory_swapped_for_a_link_to_outside_mid_walk_leaks_nothing(
        client: Client, served: ServerProcess, ws: Path, cotenant: CoTenant) -> None:
    sub, link = ws / "sub", ws / "swap"
    sub.mkdir()
    for i in range(50):
        (sub / f"f{i}.txt").write_text("inside e\n")
    link.symlink_to(outside(served))
    cotenant(lambda: exchange(sub, link))
    for _ in range(20):
        seen = everything(client, ws)
        assert SECRET not in seen and "secret.txt" not in seen


def test_files_renamed_to_outside_mid_walk_leak_nothing_from_outside(
        client: Client, served: ServerProcess, ws: Path, cotenant: CoTenant) -> None:
    sub = ws / "sub"
    sub.mkdir()
    for i in range(50):
        (sub / f"f{i}.txt").write_text(f"inside {i}\n")
    away = outside(served) / f"away-{served.backend}"
    before_out = snapshot(outside(served))

    def move() -> None:
        os.rename(sub / "f7.txt", away)
        os.rename(away, sub / "f7.txt")
        os.rename(sub, outside(served) / f"sub-{served.backend}")
        os.rename(outside(served) / f"sub-{served.backend}", sub)

    cotenant(move)
    for _ in range(20):
        for m in client.search(str(ws), "inside|secret", include_hidden=True):
            assert m.path.startswith(str(sub) + "/") and m.line.startswith("inside")
        for e in client.glob(str(ws), "**").entries:
            assert e.info.path.startswith(str(ws) + "/") and "away" not in e.name
    cotenant.stop()
    assert snapshot(outside(served)) == before_out


def test_a_catastrophic_backtracking_pattern_returns_promptly(client: Client, ws: Path) -> None:
    (ws / "a").write_text("a" * (1 << 20) + "!\n")
    (ws / "b").write_text(("a" * 5000 + "\n") * 200)
    for pattern in ("(a+)+$", "(a|aa)+$", "(a*)*b", "(.*a){20}"):
        result = client.search(str(ws), pattern, timeout=60)  # generous: the call's own
        assert isinstance(list(result), list) and result.summary is not None


def test_a_pattern_too_big_for_re2_is_invalid_not_a_helper_crash(client: Client,
                                                                 ws: Path) -> None:
    (ws / "f").write_text("x\n")
    with pytest.raises(fsgate.InvalidPattern):
        list(client.search(str(ws), "((((((a{100}){100}){100}){100}){100}){100})"))


def test_a_file_that_never_ends_is_never_opened(client: Client, ws: Path) -> None:
    os.mkfifo(ws / "fifo")  # opening it for reading would block for ever
    (ws / "f").write_text("e\n")
    done = threading.Event()
    result: list[str] = []

    def search() -> None:
        result.extend(m.path for m in client.search(str(ws), "e", timeout=60))
        done.set()

    t = threading.Thread(target=search)
    t.start()
    t.join(60)
    assert done.is_set() and result == [str(ws / "f")]


@pytest.mark.parametrize("rpc", ["search", "glob"])
def test_errors_name_only_the_callers_own_path(client: Client, served: ServerProcess,
                                               ws: Path, rpc: str) -> None:
    (ws / "l").symlink_to(outside(served))
    with pytest.raises(fsgate.FsgateError) as err:
        if rpc == "search":
            list(client.search(str(ws / "l"), "x"))
        else:
            client.glob(str(ws / "l"), "*")
    assert err.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert str(outside(served)) not in err.value.message and SECRET not in err.value.message

