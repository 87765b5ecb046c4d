"""The soak workload: mixed ReadFile/WriteFile/ListDir/Stat calls, some meant to fail, at
concurrency N through the Python client, while a co-tenant thread renames files and swaps
a directory and a file for symlinks to outside (and back) in a tight loop.

Every answer is scanned for traces of the outside (``soak_tree.Outside.leaks``); answers
that can be checked against the tree (static files, a worker's own files) are. The server
process is sampled from /proc while the load runs and, quiescent, after the warm-up and at
the end. ``bench/soak.py`` reports a run; ``tests/integration/test_soak.py`` asserts on it.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import fsgate
from fsgate import FsgateError

from .soak_tree import Outside, Sample, confined_helpers, digest, sample

STATIC_FILES = 8
KEEP = 50  # findings kept per kind: enough to diagnose, bounded over a long run


def _exchange() -> Callable[[Path, Path], None]:
    """Atomic renameat2(RENAME_EXCHANGE) when libc has it, else two renames (a window
    where neither name exists: still a valid, if gentler, race)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        def swap(a: Path, b: Path) -> None:
            tmp = a.with_name(a.name + ".x")
            os.rename(a, tmp)
            os.rename(b, a)
            os.rename(tmp, b)
        return swap

    def exchange(a: Path, b: Path) -> None:
        if fn(-100, os.fsencode(a), -100, os.fsencode(b), 2) != 0:  # AT_FDCWD, EXCHANGE
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(a))
    return exchange


EXCHANGE = _exchange()


@dataclass(frozen=True)
class Tree:
    """The served read-write root and what the workload keeps in it."""

    ws: Path
    outside: Outside

    def static(self, k: int) -> Path:
        return self.ws / "files" / f"f{k}.txt"

    @staticmethod
    def static_content(k: int) -> bytes:
        return f"static file {k}\n".encode() * (k + 1)


def build_tree(ws: Path, outside: Outside) -> Tree:
    """Fill the (existing, empty) served root ``ws``."""
    for d in ("files", "p/sub/deeper", "r", "w"):
        (ws / d).mkdir(parents=True)
    tree = Tree(ws, outside)
    for k in range(STATIC_FILES):
        tree.static(k).write_bytes(Tree.static_content(k))
    for rel in ("p/sub/x.txt", "p/sub/y.txt", "p/sub/deeper/z.txt", "r/a.txt", "r/leaf"):
        (ws / rel).write_bytes(b"inside " + rel.encode())
    (ws / "p" / ".swap").symlink_to(outside.tree)  # exchanged with p/sub
    (ws / "esc").symlink_to(outside.plain)
    (ws / "escdir").symlink_to(outside.tree)
    (ws / "ghost").symlink_to(outside.missing())
    (ws / "good").symlink_to("files/f0.txt")
    return tree


@dataclass
class Tally:
    """What a run saw. Thread-safe through ``lock``."""

    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (op, ok|CODE/REASON)
    leaks: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)  # INTERNAL / HELPER_FAILED / other
    wrong: list[str] = field(default_factory=list)  # a success that disagrees with the tree
    leak_count: int = 0
    wrong_by_op: Counter[str] = field(default_factory=Counter)  # every one, not only KEEP
    cotenant_rounds: int = 0
    cotenant_error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, op: str, outcome: str, leaks: list[str], internal: str = "",
            wrong: str = "") -> None:
        with self.lock:
            self.outcomes[(op, outcome)] += 1
            self.leak_count += len(leaks)
            self.leaks.extend(leaks[: max(0, KEEP - len(self.leaks))])
            if internal and len(self.internal) < KEEP:
                self.internal.append(f"{op}: {internal}")
            if wrong:
                self.wrong_by_op[op] += 1
                if len(self.wrong) < KEEP:
                    self.wrong.append(f"{op}: {wrong}")

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, FsgateError):
        return f"{exc.code.name}/{exc.reason.value if exc.reason else '-'}"
    return f"EXCEPTION/{type(exc).__name__}"


class Worker:
    """One client thread: picks operations at random, checks and records every answer."""

    def __init__(self, n: int, client: fsgate.Client, tree: Tree, tally: Tally,
                 seed: int) -> None:
        self.n, self.client, self.tree, self.tally = n, client, tree, tally
        self.rng = random.Random(seed)
        self.mine: dict[Path, bytes] = {}  # this worker's files: only it writes them
        self.writes = 0
        ws, out = tree.ws, tree.outside
        c = client
        ok, denied, missing = "ok", "PERMISSION_DENIED/SANDBOX_DENIED", "NOT_FOUND/NOT_FOUND"
        # (name, call, the outcomes the tree allows). Where a racing name may resolve
        # outside, only success (on the inside object) or SANDBOX_DENIED is right: e.g. a
        # NOT_FOUND for p/sub/x.txt can only describe outside/tree, x.txt exists inside.
        self.ops: list[tuple[str, Callable[[], object], frozenset[str]]] = [
            ("read static", self.read_static, frozenset({ok})),
            ("read own", self.read_own, frozenset({ok})),
            ("write own", self.write_own, frozenset({ok})),
            ("write leaf (swapped)", lambda: c.write_file(ws / "r/leaf", self.data()),
             frozenset({ok, denied})),
            ("write into p/sub (swapped)",
             lambda: c.write_file(ws / f"p/sub/w{self.n}.txt", self.data()),
             frozenset({ok, denied})),
            ("read leaf (swapped)", lambda: c.read_file(ws / "r/leaf"),
             frozenset({ok, denied})),
            ("read r/a.txt (renamed)", lambda: c.read_file(ws / "r/a.txt"),
             frozenset({ok, missing})),
            ("read p/sub/x.txt (swapped)", lambda: c.read_file(ws / "p/sub/x.txt"),
             frozenset({ok, denied})),
            ("list root depth 2", lambda: list(c.list_dir(ws, depth=2)), frozenset({ok})),
            ("list p depth 2 (swapped)", lambda: list(c.list_dir(ws / "p", depth=2)),
             frozenset({ok})),
            ("list p/sub (swapped)", lambda: list(c.list_dir(ws / "p/sub")),
             frozenset({ok, denied})),
            ("stat static", lambda: c.stat(tree.static(self.rng.randrange(STATIC_FILES))),
             frozenset({ok})),
            ("stat good follow", lambda: c.stat(ws / "good", follow_symlinks=True),
             frozenset({ok})),
            ("stat p/sub", lambda: c.stat(ws / "p/sub"), frozenset({ok})),
            ("stat p/sub follow (swapped)", lambda: c.stat(ws / "p/sub", follow_symlinks=True),
             frozenset({ok, denied})),
            ("stat leaf follow (swapped)", lambda: c.stat(ws / "r/leaf", follow_symlinks=True),
             frozenset({ok, denied})),
            ("FAIL read outside policy", lambda: c.read_file(out.plain),
             frozenset({"PERMISSION_DENIED/OUTSIDE_POLICY"})),
            ("FAIL read missing", lambda: c.read_file(ws / f"nope-{self.n}"),
             frozenset({missing})),
            ("FAIL read link to outside", lambda: c.read_file(ws / "esc"), frozenset({denied})),
            ("FAIL stat dir link to outside",
             lambda: c.stat(ws / "escdir", follow_symlinks=True), frozenset({denied})),
            ("FAIL list dir link to outside", lambda: list(c.list_dir(ws / "escdir")),
             frozenset({denied})),
            ("FAIL read link to missing outside", lambda: c.read_file(ws / "ghost"),
             frozenset({denied})),
            ("FAIL stat link to missing outside",
             lambda: c.stat(ws / "ghost", follow_symlinks=True), frozenset({denied})),
        ]

    def data(self) -> bytes:
        self.writes += 1
        return f"worker {self.n} write {self.writes}\n".encode()

    def read_static(self) -> object:
        k = self.rng.randrange(STATIC_FILES)
        got = self.client.read_file(self.tree.static(k))
        if got != Tree.static_content(k):
            raise _Wrong(f"f{k}.txt read {got[:80]!r}")
        return got

    def own_path(self) -> Path:
        return self.tree.ws / "w" / f"{self.n}-{self.rng.randrange(4)}.txt"

    def write_own(self) -> object:
        path, data = self.own_path(), self.data()
        result = self.client.write_file(path, data)
        self.mine[path] = data
        if result.bytes_written != len(data) or result.info.size != len(data):
            raise _Wrong(f"{path.name}: wrote {len(data)}, told {result}")
        return result.info

    def read_own(self) -> object:
        if not self.mine:
            return self.write_own()
        path = self.rng.choice(sorted(self.mine))
        got = self.client.read_file(path)
        if got != self.mine[path]:
            raise _Wrong(f"{path.name}: read {got[:80]!r}, wrote {self.mine[path][:80]!r}")
        return got

    def step(self) -> None:
        op, call, allowed = self.rng.choice(self.ops)
        where = f"{op} (worker {self.n})"
        try:
            result = call()
        except _Wrong as wrong:
            self.tally.add(op, "WRONG", [], wrong=str(wrong))
            return
        except FsgateError as exc:
            outcome = outcome_of(exc)
            bad = exc.code.name in ("INTERNAL", "UNKNOWN")
            self.tally.add(op, outcome, self.tree.outside.leaks(exc, where),
                           internal=f"{outcome}: {exc.message[:300]}" if bad else "",
                           wrong="" if bad or outcome in allowed else
                           f"{outcome} ({exc.message[:200]}); the tree allows {sorted(allowed)}")
            return
        except Exception as exc:  # a client bug or a transport surprise: report, go on
            self.tally.add(op, outcome_of(exc), [], internal=repr(exc)[:300])
            return
        leaks: list[str] = []
        for item in result if isinstance(result, list) else [result]:
            leaks += self.tree.outside.leaks(item, where)
        self.tally.add(op, "ok", leaks,
                       wrong="" if "ok" in allowed else "succeeded; the tree allows "
                       f"{sorted(allowed)}")


class _Wrong(Exception):
    """A successful answer that contradicts the tree."""


class Gate:
    """Lets the workers run, or holds them between calls (for a quiescent sample)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._open = True
        self._busy = 0
        self.stopped = False

    def enter(self) -> bool:
        with self._cv:
            while not self._open and not self.stopped:
                self._cv.wait()
            if self.stopped:
                return False
            self._busy += 1
            return True

    def leave(self) -> None:
        with self._cv:
            self._busy -= 1
            self._cv.notify_all()

    def close(self, stop: bool = False) -> None:
        """Hold new calls and wait for the ones in flight to end."""
        with self._cv:
            self._open = False
            self.stopped = self.stopped or stop
            self._cv.notify_all()
            while self._busy:
                self._cv.wait()

    def reopen(self) -> None:
        with self._cv:
            self._open = True
            self._cv.notify_all()


def cotenant(tree: Tree, stop: threading.Event, tally: Tally) -> None:
    """A second writer in the workspace, as fast as it can go."""
    p, r = tree.ws / "p", tree.ws / "r"
    rounds = 0
    try:
        while not stop.is_set():
            EXCHANGE(p / "sub", p / ".swap")  # a directory <-> a symlink to outside
            os.rename(r / "a.txt", r / "b.txt")
            os.rename(r / "b.txt", r / "a.txt")
            # A file <-> a symlink to an outside file, each put in place by rename(2), so the
            # round restores the file whatever a racing write replaced.
            os.symlink(tree.outside.plain, r / ".leaf-link")
            os.rename(r / ".leaf-link", r / "leaf")
            (r / ".leaf-file").write_bytes(b"inside r/leaf")
            os.rename(r / ".leaf-file", r / "leaf")
            rounds += 1
    except OSError as exc:  # reported: a co-tenant that stopped early weakens the run
        tally.cotenant_error = repr(exc)
    if (p / "sub").is_symlink():
        EXCHANGE(p / "sub", p / ".swap")
    tally.cotenant_rounds = rounds


def quiescent_sample(pid: int, t0: float, timeout: float = 10.0) -> Sample:
    """A sample once no helper runs and the fd count has held still for 0.3 s (the server
    closes a finished helper's channel just after answering)."""
    deadline = time.monotonic() + timeout
    last = sample(pid, time.monotonic() - t0)
    still = 0
    while time.monotonic() < deadline and still < 3:
        time.sleep(0.1)
        now = sample(pid, time.monotonic() - t0)
        still = still + 1 if (now.fds, now.helpers) == (last.fds, 0) else 0
        last = now
    return last


@dataclass
class Run:
    """The outcome of one soak run."""

    seconds: float
    concurrency: int
    tally: Tally
    start: Sample  # before the first call
    warm: Sample  # quiescent, after the warm-up
    end: Sample  # quiescent, after the last call
    under_load: list[Sample]  # periodic, after the warm-up, while the load runs
    outside_changed: list[str]
    final_stat_ok: bool
    helpers_left: list[int]


def run_soak(target: str, pid: int, tree: Tree, *, seconds: float, warmup: float,
             concurrency: int = 8, every: float = 1.0, seed: int = 0) -> Run:
    """Drive the server at ``target`` (process ``pid``) for ``seconds`` (warm-up included)."""
    tally, gate, stop_cotenant = Tally(), Gate(), threading.Event()
    before = digest(tree.outside.path)
    t0 = time.monotonic()
    start = sample(pid, 0.0)
    with fsgate.Client(target) as client:
        workers = [Worker(n, client, tree, tally, seed * 1000 + n) for n in range(concurrency)]

        def loop(w: Worker) -> None:
            while gate.enter():
                try:
                    w.step()
                finally:
                    gate.leave()

        threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
        mate = threading.Thread(target=cotenant, args=(tree, stop_cotenant, tally),
                                daemon=True)
        mate.start()
        for t in threads:
            t.start()
        _sleep_until(t0 + warmup)
        gate.close()
        warm = quiescent_sample(pid, t0)
        gate.reopen()
        under_load: list[Sample] = []
        while time.monotonic() < t0 + seconds:
            _sleep_until(min(time.monotonic() + every, t0 + seconds))
            with contextlib.suppress(OSError):
                under_load.append(sample(pid, time.monotonic() - t0))
        gate.close(stop=True)
        for t in threads:
            t.join()
        stop_cotenant.set()
        mate.join()
        end = quiescent_sample(pid, t0)
        try:
            client.stat(tree.static(0))
            final_ok = True
        except FsgateError:
            final_ok = False
    after = digest(tree.outside.path)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return Run(time.monotonic() - t0, concurrency, tally, start, warm, end, under_load,
               changed, final_ok, confined_helpers(pid))


def _sleep_until(when: float) -> None:
    # The soak's clock: the load runs for a duration, there is nothing to wait on instead.
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)
