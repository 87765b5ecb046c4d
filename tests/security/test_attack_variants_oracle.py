"""Variants of issue 10 items 2, 10 and 15 (existence oracles, magic links, loops), attacked
through every RPC and option on a real server of each backend.

The rule under attack: no answer (success, error code, reason, message) may depend on what
exists outside the policy, and resolution is judged where it really goes, component by
component. Every variant asserts the gRPC code and the ErrorInfo reason, that nothing
changed inside or outside, and that no message names anything outside."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate import Client, Policy, WriteMode

from ..conftest import ServerProcess
from ..helpers import snapshot

TOKEN = "zq7probe"  # in every outside name: no message may ever carry it
SECRET = "top secret"


def outside(served: ServerProcess) -> Path:
    return served.root.parent / "outside"


Outcome = tuple[str, str]


def outcome(call: Callable[[], object]) -> Outcome:
    """("OK", "") or (code name, reason); a message naming outside fails the test."""
    try:
        result = call()
        if isinstance(result, Iterator):
            list(result)
    except fsgate.FsgateError as exc:
        text = f"{exc.message} {exc.metadata} {exc.path}"
        assert TOKEN not in text and SECRET not in text, text
        assert exc.code is not grpc.StatusCode.INTERNAL, repr(exc)
        return exc.code.name, exc.reason.value if exc.reason else ""
    return "OK", ""


DENIED: Outcome = ("PERMISSION_DENIED", "SANDBOX_DENIED")
LOOP: Outcome = ("FAILED_PRECONDITION", "SYMLINK_LOOP")


def every_rpc(c: Client, path: str, *, version: str = "") -> dict[str, Outcome]:
    """Each RPC and option on ``path``: what each answered."""
    return {
        "stat": outcome(lambda: c.stat(path)),
        "stat-follow": outcome(lambda: c.stat(path, follow_symlinks=True)),
        "stat-below": outcome(lambda: c.stat(path + "/x")),
        "read": outcome(lambda: c.read_file(path)),
        "read-range": outcome(lambda: c.read_file(path, offset=3, length=2)),
        "read-past-end": outcome(lambda: c.read_file(path, offset=1 << 40, length=1)),
        "list": outcome(lambda: c.list_dir(path)),
        "list-deep": outcome(lambda: c.list_dir(path, depth=4)),
        "list-page": outcome(lambda: c.list_dir_page(path, depth=2, page_size=1)),
        "write": outcome(lambda: c.write_file(path, b"pwned")),
        "write-new": outcome(lambda: c.write_file(path, b"pwned", mode=WriteMode.CREATE_NEW)),
        "write-version": outcome(lambda: c.write_file(path, b"pwned", if_version=version or "x")),
        "write-below": outcome(lambda: c.write_file(path + "/x", b"pwned")),
        "write-parents": outcome(lambda: c.write_file(path + "/n1/n2", b"pwned",
                                                      create_parents=True)),
    }


def _make_probe(base: Path, shape: str) -> Path:
    probe = base / f"{TOKEN}-{shape}"
    if shape == "dir":
        probe.mkdir()
        (probe / "x").write_text(SECRET)
    elif shape == "file":
        probe.write_text(SECRET)
    elif shape == "loop":
        probe.symlink_to(probe.name)
    elif shape == "link-to-dir":
        probe.symlink_to(".")
    elif shape == "fifo":
        import os
        os.mkfifo(probe)
    return probe


SHAPES = ["dir", "file", "missing", "loop", "link-to-dir", "fifo"]


# --- item 2 variants: links through outside, by every route -----------------------------

@pytest.mark.parametrize("route", ["absolute", "chain", "root-parent", "via-slash"])
def test_link_passing_outside_is_denied_on_every_rpc_whatever_exists_there(
        client: Client, served: ServerProcess, ws: Path, route: str) -> None:
    out = outside(served)
    base = served.root.parent
    (ws / "real.txt").write_text("inside")
    (ws / "realdir").mkdir()
    (ws / "realdir" / "x").write_text("inside")
    back = f"../ws/{ws.name}"  # from base/outside/<probe>/.. = base/outside

    def make(shape: str) -> str:
        probe = _make_probe(out, f"{route}-{shape}")
        if shape == "missing":
            probe.unlink(missing_ok=True)
        for target_name in ("real.txt", "realdir"):
            link = ws / f"{route}-{shape}-{target_name}"
            rest = f"{probe.name}/../{back}/{target_name}"
            if route == "absolute":
                link.symlink_to(f"{out}/{rest}")
            elif route == "chain":  # three hops, only the last one passes outside
                (ws / f"hop1-{shape}-{target_name}").symlink_to(f"hop2-{shape}-{target_name}")
                (ws / f"hop2-{shape}-{target_name}").symlink_to(f"../../outside/{rest}")
                link.symlink_to(f"hop1-{shape}-{target_name}")
            elif route == "root-parent":  # up to the root's parent by a link, then out
                (ws / f"up-{shape}-{target_name}").symlink_to("../..")
                link.symlink_to(f"up-{shape}-{target_name}/outside/{rest}")
            else:  # "/" itself, then down through the ancestors, then out
                link.symlink_to(f"/{str(base).lstrip('/')}/outside/{rest}")
        return str(ws / f"{route}-{shape}-realdir")

    targets = {shape: make(shape) for shape in SHAPES}
    before_out, before_ws = snapshot(out), snapshot(ws)
    for shape, path in targets.items():
        for attacked in (path, path[: -len("realdir")] + "real.txt"):
            answers = every_rpc(client, attacked)
            assert answers.pop("stat") == ("OK", "")  # the link itself, inside
            wrong = {k: v for k, v in answers.items() if v != DENIED}
            assert not wrong, (shape, attacked, wrong)
    assert snapshot(out) == before_out
    assert snapshot(ws) == before_ws
    # nothing created anywhere by create_parents: no n1 below any probe, none in ws
    assert not list(out.rglob("n1")) and not list(ws.rglob("n1"))


def test_relative_request_paths_with_cwd_pass_outside_the_same_way(
        served: ServerProcess, ws: Path) -> None:
    out = outside(served)
    (ws / "real.txt").write_text("inside")
    policy = Policy(readable_roots=["."], writable_roots=["."], cwd=str(ws))
    with Client(served.target, policy=policy) as c:
        for shape in SHAPES:
            probe = _make_probe(out, f"rel-{shape}")
            if shape == "missing":
                probe.unlink(missing_ok=True)
            (ws / f"rel-{shape}").symlink_to(f"../../outside/{probe.name}/../../ws/{ws.name}")
            answers = every_rpc(c, f"rel-{shape}/real.txt")
            assert all(v == DENIED for v in answers.values()), (shape, answers)
            answers = every_rpc(c, f"./sub/../rel-{shape}")
            assert answers.pop("stat") == ("OK", "")
            assert all(v == DENIED for v in answers.values()), (shape, answers)
    assert (ws / "real.txt").read_text() == "inside"
    assert not list(out.rglob("n1"))


def test_links_to_ancestors_of_the_root_and_back_in_work_but_ancestors_are_denied(
        client: Client, served: ServerProcess, ws: Path) -> None:
    """Walking the way from / down to a root is allowed (never answered about); the
    ancestors themselves, and anything beside the way, are SANDBOX_DENIED."""
    (ws / "real.txt").write_text("inside")
    base = served.root.parent
    (ws / "top").symlink_to("/")
    (ws / "par").symlink_to("../..")  # the root's parent
    (ws / "rootdir").symlink_to("..")  # the root itself
    inner = f"{str(base).lstrip('/')}/ws/{ws.name}/real.txt"
    assert client.read_file(str(ws / "top" / inner)) == b"inside"
    assert client.read_file(str(ws / "par" / "ws" / ws.name / "real.txt")) == b"inside"
    assert client.stat(str(ws / "rootdir"), follow_symlinks=True).type is fsgate.FileType.DIRECTORY
    before = snapshot(ws)
    for link in ("top", "par"):
        answers = every_rpc(client, str(ws / link))
        # stat (no follow) answers about the link itself, inside: everything else is denied
        assert answers.pop("stat") == ("OK", "")
        assert all(v == DENIED for v in answers.values()), (link, answers)
    for beside in (ws / "par" / "outside" / "secret.txt", ws / "par" / "ws2",
                   ws / "par" / "nosuch-beside", ws / "top" / "etc" / "passwd",
                   ws / "top" / "nosuch-beside"):
        answers = every_rpc(client, str(beside))
        assert all(v == DENIED for v in answers.values()), (beside, answers)
    assert snapshot(ws) == before


def test_request_path_through_an_ancestor_spelled_lexically_is_outside_policy(
        client: Client, served: ServerProcess, ws: Path) -> None:
    """The pre-check is lexical: ``ws/../outside`` never reaches a helper."""
    for path in (f"{ws}/../../outside/secret.txt", f"{served.root}/../outside"):
        with pytest.raises(fsgate.OutsidePolicy) as err:
            client.stat(path)
        assert err.value.reason == "OUTSIDE_POLICY"
        assert TOKEN not in err.value.message


# --- item 10 variants: magic links --------------------------------------------------------

MAGIC = ["/proc/self/cwd", "/proc/self/root", "/proc/1/root", "/proc/self/exe",
         "/proc/self/fd", "/proc/self", "/proc/thread-self/root", "/dev/stdin", "/dev/stdout",
         "/dev/fd/0", "/dev/fd", "/proc/self/mounts", "/proc/self/environ", "/sys/kernel"]


@pytest.mark.parametrize("target", MAGIC)
def test_link_to_a_proc_magic_link_is_denied_on_every_rpc(client: Client, ws: Path,
                                                          target: str) -> None:
    (ws / "magic").symlink_to(target)
    before = snapshot(ws)
    answers = every_rpc(client, str(ws / "magic"))
    assert answers.pop("stat") == ("OK", "")  # the link itself
    assert all(v == DENIED for v in answers.values()), answers
    # and by the way of the root's own name below the magic root
    deep = every_rpc(client, str(ws / "magic" / str(ws).lstrip("/")))
    assert all(v == DENIED for v in deep.values()), deep
    assert snapshot(ws) == before


def test_relative_chain_to_proc_self_fd_is_denied_on_every_rpc(client: Client,
                                                               ws: Path) -> None:
    ups = "../" * (len(ws.parts) + 3)  # more than enough to reach /
    (ws / "hop").symlink_to(f"{ups}proc")
    (ws / "chain").symlink_to("hop/self/fd/3")
    (ws / "chain-ns").symlink_to("hop/thread-self/ns/user")
    before = snapshot(ws)
    for name in ("chain", "chain-ns", "hop"):
        answers = every_rpc(client, str(ws / name))
        assert answers.pop("stat") == ("OK", "")
        assert all(v == DENIED for v in answers.values()), (name, answers)
    assert snapshot(ws) == before


def test_listing_a_tree_full_of_magic_links_reports_them_as_links(client: Client,
                                                                  ws: Path) -> None:
    (ws / "d" / "e").mkdir(parents=True)
    for i, target in enumerate(MAGIC):
        (ws / "d" / "e" / f"m{i}").symlink_to(target)
    entries = list(client.list_dir(str(ws), depth=5))
    links = {e.name: e.info.symlink_target for e in entries
             if e.info.type is fsgate.FileType.SYMLINK}
    assert links == {f"d/e/m{i}": t for i, t in enumerate(MAGIC)}


# --- item 15 variants: loops through every RPC ------------------------------------------

@pytest.mark.parametrize("shape", ["self", "pair", "dir-loop", "via-dotdot"])
def test_symlink_loop_is_symlink_loop_on_every_rpc(client: Client, ws: Path,
                                                   shape: str) -> None:
    if shape == "self":
        (ws / "L").symlink_to("L")
    elif shape == "pair":
        (ws / "L").symlink_to("M")
        (ws / "M").symlink_to("L")
    elif shape == "dir-loop":  # L -> d/L2, d/L2 -> ../L: a loop through a directory
        (ws / "d").mkdir()
        (ws / "L").symlink_to("d/L2")
        (ws / "d" / "L2").symlink_to("../L")
    else:  # L -> sub/../L: the same name again after a real directory
        (ws / "sub").mkdir()
        (ws / "L").symlink_to("sub/../L")
    before = snapshot(ws)
    answers = every_rpc(client, str(ws / "L"))
    assert answers.pop("stat") == ("OK", "")
    assert all(v == LOOP for v in answers.values()), answers
    # a loop in the middle of the path of a write with create_parents
    assert outcome(lambda: client.write_file(str(ws / "L" / "a" / "b"), b"x",
                                             create_parents=True)) == LOOP
    assert snapshot(ws) == before


def test_chain_of_forty_links_resolves_and_forty_one_is_a_loop(client: Client,
                                                               ws: Path) -> None:
    """The kernel's own bound (40 links) is the bound: one more is SYMLINK_LOOP."""
    (ws / "end.txt").write_text("end")
    for n in range(41):
        (ws / f"c{n}").symlink_to("end.txt" if n == 0 else f"c{n - 1}")
    assert client.read_file(str(ws / "c39")) == b"end"  # 40 links
    before = snapshot(ws)
    answers = every_rpc(client, str(ws / "c40"))  # 41 links
    assert answers.pop("stat") == ("OK", "")
    assert answers.pop("write-below") == LOOP
    assert all(v == LOOP for v in answers.values()), answers
    assert snapshot(ws) == before


def test_loop_outside_is_denied_not_symlink_loop(client: Client, served: ServerProcess,
                                                  ws: Path) -> None:
    """A loop that lives outside must not be told apart from anything else there."""
    out = outside(served)
    (out / f"{TOKEN}-outloop").symlink_to(f"{TOKEN}-outloop")
    (ws / "in").symlink_to(f"../../outside/{TOKEN}-outloop")
    answers = every_rpc(client, str(ws / "in"))
    assert answers.pop("stat") == ("OK", "")
    assert all(v == DENIED for v in answers.values()), answers
