"""A hypothesis state machine over a small tree inside a served root: the client writes,
a co-tenant writes, links (to inside, to outside, to nothing), swaps a directory for a link
to outside and back; the client lists, stats and reads. After every step: no answer or
error names or describes anything of the outside (bench/soak_tree.Outside: unique names,
content, sizes and mtime), nothing outside changed, and every answer is the one the tree
determines -- computed here by walking the tree unconfined, component by component.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsgate
import pytest
from fsgate import FsgateError
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ..conftest import REPO, start_server

sys.path.insert(0, str(REPO))
from bench.soak_tree import Outside, digest, plant_outside  # bench/ is a top-level package

NAMES = ("a", "b", "c", "d")
PATHS = NAMES + tuple(f"{n}/inner.txt" for n in NAMES)
SETTINGS = settings(max_examples=25, stateful_step_count=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

DENIED = "PERMISSION_DENIED/*"
# What the tree determines for an error, by how the path resolves (see resolve()).
ERROR_OF = {"out": DENIED, "missing": "NOT_FOUND/NOT_FOUND",
            "missing_parent": "NOT_FOUND/NOT_FOUND", "loop": "FAILED_PRECONDITION/SYMLINK_LOOP",
            "notdir": "FAILED_PRECONDITION/NOT_A_DIRECTORY"}


class World:
    """One server per backend for the module, and the tree around it."""

    def __init__(self, base: Path, backend: str) -> None:
        self.ws = (base / "ws").resolve()  # resolve() compares real paths
        self.ws.mkdir()
        self.park = self.ws / "park"  # where swapped-out directories wait, inside the root
        self.park.mkdir()
        self.outside = plant_outside(base / "outside")
        run = base / "run"
        run.mkdir()
        self.server = start_server(run, [str(self.ws)], backend)
        self.client = fsgate.Client(self.server.target)
        self.outside_digest = digest(self.outside.path)


@pytest.fixture(scope="module")
def world(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp(f"sm-{backend}"), backend)
    yield w
    w.client.close()
    w.server.stop()


def resolve(ws: Path, path: Path, follow_last: bool) -> tuple[str, Path]:
    """How the kernel resolves ``path`` (inside the real root ``ws``): file, dir, link (the
    last component, not followed), other, or the reason it fails (ERROR_OF's keys)."""
    parts = list(path.relative_to(ws).parts)
    cur, hops = ws, 0
    while parts:
        name = parts.pop(0)
        if name in (".", ""):
            continue
        nxt = cur.parent if name == ".." else cur / name
        if nxt != ws and ws not in nxt.parents:
            return "out", nxt
        try:
            st_ = os.lstat(nxt)
        except FileNotFoundError:
            return ("missing_parent" if parts else "missing"), nxt
        if stat.S_ISLNK(st_.st_mode) and (parts or follow_last):
            hops += 1
            if hops > 40:
                return "loop", nxt
            target = os.readlink(nxt)
            if target.startswith("/"):
                t = Path(target)
                if t != ws and ws not in t.parents:
                    return "out", t
                parts = list(t.relative_to(ws).parts) + parts
                cur = ws
            else:
                parts = target.split("/") + parts
            continue
        if parts and not stat.S_ISDIR(st_.st_mode):
            return "notdir", nxt
        cur = nxt
    mode = os.lstat(cur).st_mode
    kind = ("link" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode)
            else "file" if stat.S_ISREG(mode) else "other")
    return kind, cur


Listed = tuple[bytes, str, int | None, bytes]


def listing(d: Path, depth: int, prefix: bytes = b"") -> set[Listed]:
    """What ListDir must answer for the real directory d: (name, type, size, link target),
    as bytes; a target that is not UTF-8 is b"?" (the wire carries it as a string)."""
    out: set[Listed] = set()
    for entry in os.scandir(os.fsencode(d)):
        st_ = entry.stat(follow_symlinks=False)
        name = prefix + entry.name
        if entry.is_symlink():
            target = os.readlink(entry.path)
            out.add((name, "SYMLINK", None, target if _utf8(target) else b"?"))
        elif entry.is_dir(follow_symlinks=False):
            out.add((name, "DIRECTORY", None, b""))
            if depth > 1:
                out |= listing(Path(os.fsdecode(entry.path)), depth - 1, name + b"/")
        else:
            out.add((name, "REGULAR" if entry.is_file(follow_symlinks=False) else "OTHER",
                     st_.st_size, b""))
    return out


def listed(entry: fsgate.DirEntry, want: set[Listed]) -> Listed:
    """The client's entry in listing()'s terms (raw_name carries undecodable names)."""
    info = entry.info
    target = (info.symlink_target or "").encode()
    name = entry.raw_name or entry.name.encode()
    if (name, "SYMLINK", None, b"?") in want:
        target = b"?"
    return (name, info.type.name, info.size if info.type.name == "REGULAR" else None, target)


def outcome(exc: FsgateError) -> str:
    return f"{exc.code.name}/{exc.reason.value if exc.reason else '-'}"


def matches(got: str, want: str) -> bool:
    return got == want or (want.endswith("/*") and got.split("/")[0] == want[:-2])


class FsgateTree(RuleBasedStateMachine):
    world: ClassVar[World]
    #: Where links to outside point, and whether inside links may form loops; the subclass
    #: that also drives issue 10's known crashes widens both.
    OUTSIDE_TARGETS: ClassVar[tuple[str, ...]] = ("plain", "tree", "missing")
    ALLOW_LOOPS: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        w = self.world
        self.dir = w.ws / f"run-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir()
        (self.dir / "a").write_bytes(b"first a")
        (self.dir / "d").mkdir()
        (self.dir / "d" / "inner.txt").write_bytes(b"inner of d")
        self.parked: dict[str, Path] = {}

    # --- helpers --------------------------------------------------------------------------
    def ask(self, what: str, call: Callable[[], Any]) -> tuple[str, Any]:
        """Run a client call; check it leaks nothing and did not crash."""
        out = self.world.outside
        try:
            result = call()
        except FsgateError as exc:
            found = out.leaks(exc, what)
            assert not found, found
            assert exc.code.name not in ("INTERNAL", "UNKNOWN"), f"{what}: {exc!r}"
            return outcome(exc), exc
        for item in result if isinstance(result, list) else [result]:
            found = out.leaks(item, what)
            assert not found, found
        return "ok", result

    def expect_error(self, what: str, got: str, result: Any, want: str) -> None:
        assert matches(got, want), f"{what}: got {got} {result!r}, the tree gives {want}"

    def clear(self, name: str) -> None:
        p = self.dir / name
        self.parked.pop(name, None)
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)

    def outside_target(self, which: str) -> str | bytes:
        out: Outside = self.world.outside
        targets: dict[str, str | bytes] = {
            "plain": str(out.plain), "tree": str(out.tree), "missing": str(out.missing(7)),
            "proc_fd": "/proc/self/fd/3", "proc_ns": "/proc/self/ns/mnt",
            "not_utf8": b"\xff\xfe-target"}
        return targets[which]

    # --- co-tenant rules ------------------------------------------------------------------
    @rule(name=st.sampled_from(NAMES), data=st.binary(max_size=64))
    def cotenant_writes_a_file(self, name: str, data: bytes) -> None:
        self.clear(name)
        (self.dir / name).write_bytes(data)

    @rule(name=st.sampled_from(NAMES))
    def cotenant_makes_a_directory(self, name: str) -> None:
        self.clear(name)
        (self.dir / name).mkdir()
        (self.dir / name / "inner.txt").write_bytes(f"inner of {name}".encode())

    @rule(name=st.sampled_from(NAMES),
          to=st.sampled_from((*NAMES, "nothing", "d/inner.txt", "../" + "x" * 3)))
    def cotenant_links_inside(self, name: str, to: str) -> None:
        self.clear(name)
        os.symlink(to, self.dir / name)
        if not self.ALLOW_LOOPS and any(
                resolve(self.world.ws, self.dir / q, follow_last=True)[0] == "loop"
                for q in PATHS):
            (self.dir / name).unlink()  # a write into a loop is issue 10 item 15

    @rule(name=st.sampled_from(NAMES), data=st.data())
    def cotenant_links_outside(self, name: str, data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(self.OUTSIDE_TARGETS))
        self.clear(name)
        os.symlink(os.fsencode(self.outside_target(which)), os.fsencode(self.dir / name))

    @precondition(lambda self: any((self.dir / n).is_dir() and not (self.dir / n).is_symlink()
                                   for n in NAMES))
    @rule(data=st.data())
    def cotenant_swaps_a_directory_for_a_link_to_outside(self, data: st.DataObject) -> None:
        dirs = [n for n in NAMES if (self.dir / n).is_dir() and not (self.dir / n).is_symlink()]
        name = data.draw(st.sampled_from(dirs))
        parked = self.world.park / uuid.uuid4().hex
        os.rename(self.dir / name, parked)
        os.symlink(self.world.outside.tree, self.dir / name)
        self.parked[name] = parked

    @precondition(lambda self: bool(self.parked))
    @rule(data=st.data())
    def cotenant_swaps_it_back(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.parked)))
        (self.dir / name).unlink()
        os.rename(self.parked.pop(name), self.dir / name)

    # --- client rules ---------------------------------------------------------------------
    @rule(path=st.sampled_from(PATHS), data=st.binary(max_size=64))
    def client_writes(self, path: str, data: bytes) -> None:
        p = self.dir / path
        kind, real = resolve(self.world.ws, p, follow_last=True)
        dangling = kind == "missing" and (self.dir / path).is_symlink()
        got, result = self.ask(f"write {path}", lambda: self.world.client.write_file(p, data))
        if kind == "file" or (kind == "missing" and not dangling):
            assert got == "ok", f"write {path} ({kind}): {result!r}"
            assert real.read_bytes() == data
            got, back = self.ask(f"read back {path}", lambda: self.world.client.read_file(p))
            assert (got, back) == ("ok", data), f"read back {path}: {back!r}"
        elif dangling:  # creating a dangling link's inside target: either answer is precise
            assert got == "ok" or matches(got, "NOT_FOUND/NOT_FOUND"), result
        elif kind == "dir":
            self.expect_error(f"write {path}", got, result, "FAILED_PRECONDITION/IS_A_DIRECTORY")
        elif kind == "other":
            self.expect_error(f"write {path}", got, result, "FAILED_PRECONDITION/*")
        else:
            self.expect_error(f"write {path}", got, result, ERROR_OF[kind])

    @rule(path=st.sampled_from(PATHS))
    def client_reads(self, path: str) -> None:
        p = self.dir / path
        kind, real = resolve(self.world.ws, p, follow_last=True)
        got, result = self.ask(f"read {path}", lambda: self.world.client.read_file(p))
        if kind == "file":
            assert (got, result) == ("ok", real.read_bytes()), f"read {path}: {result!r}"
        elif kind == "dir":
            self.expect_error(f"read {path}", got, result, "FAILED_PRECONDITION/IS_A_DIRECTORY")
        else:
            self.expect_error(f"read {path}", got, result, ERROR_OF[kind])

    @rule(path=st.sampled_from(PATHS), follow=st.booleans())
    def client_stats(self, path: str, follow: bool) -> None:
        p = self.dir / path
        kind, real = resolve(self.world.ws, p, follow_last=follow)
        got, info = self.ask(f"stat {path} follow={follow}",
                             lambda: self.world.client.stat(p, follow_symlinks=follow))
        if kind in ERROR_OF:
            self.expect_error(f"stat {path}", got, info, ERROR_OF[kind])
            return
        assert got == "ok", f"stat {path} follow={follow} ({kind}): {info!r}"
        assert info.path == str(p)
        want = {"file": "REGULAR", "dir": "DIRECTORY", "link": "SYMLINK", "other": "OTHER"}
        assert info.type.name == want[kind], (kind, info)
        if kind == "file":
            assert info.size == real.stat().st_size
        if kind == "link" and _utf8(os.readlink(os.fsencode(real))):
            assert info.symlink_target == os.readlink(real)

    @rule(path=st.sampled_from((".", *NAMES)), depth=st.sampled_from((1, 2)))
    def client_lists(self, path: str, depth: int) -> None:
        p = self.dir / path
        kind, real = resolve(self.world.ws, p, follow_last=True)
        got, entries = self.ask(f"list {path} depth={depth}",
                                lambda: list(self.world.client.list_dir(p, depth=depth)))
        if kind == "dir":
            assert got == "ok", f"list {path}: {entries!r}"
            want = listing(real, depth)
            assert {listed(e, want) for e in entries} == want, f"list {path} depth={depth}"
        elif kind == "file":
            self.expect_error(f"list {path}", got, entries, "FAILED_PRECONDITION/NOT_A_DIRECTORY")
        else:
            self.expect_error(f"list {path}", got, entries, ERROR_OF.get(kind, "?"))

    @invariant()
    def nothing_outside_changed(self) -> None:
        assert digest(self.world.outside.path) == self.world.outside_digest


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class FsgateTreeWithKnownBugTriggers(FsgateTree):
    """Also links to the helper's own fds and namespaces, a non-UTF-8 target, and loops."""

    OUTSIDE_TARGETS = (*FsgateTree.OUTSIDE_TARGETS, "proc_fd", "proc_ns", "not_utf8")
    ALLOW_LOOPS = True


def run_machine(machine: type[FsgateTree], world: World, shrink: bool = True) -> None:
    machine.world = world
    phases = [p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain)]
    run_state_machine_as_test(machine, settings=settings(SETTINGS, phases=phases))


def test_state_machine_over_a_small_tree_leaks_nothing_and_answers_as_the_tree_says(
        world: World) -> None:
    run_machine(FsgateTree, world)


def test_state_machine_with_proc_links_non_utf8_targets_and_loops(world: World) -> None:
    run_machine(FsgateTreeWithKnownBugTriggers, world)
