"""Soak: mixed operations at concurrency 8 through the Python client against a real server,
while a co-tenant renames files and swaps a directory and a file for symlinks to outside in
a tight loop (bench/soak_workload.py). One run per backend, then one test per promise.

Short by default (FSGATE_SOAK_SECONDS=25 per backend, so CI stays within its budget); the
long form is e.g. ``FSGATE_SOAK_SECONDS=600 pytest -m soak tests/integration/test_soak.py``
(``python -m bench.soak --minutes 10`` prints the same run as a report).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from ..conftest import REPO, ServerProcess, start_server
from .test_faults import confined_helpers, wait_for

sys.path.insert(0, str(REPO))
from bench.soak_tree import plant_outside  # bench/ is a top-level package of the repo
from bench.soak_workload import Run, build_tree, run_soak

pytestmark = pytest.mark.soak

SECONDS = float(os.environ.get("FSGATE_SOAK_SECONDS", "25"))
WARMUP = min(60.0, max(5.0, SECONDS / 5))  # until the gRPC pool and helper pool are full
CONCURRENCY = 8

# Bounds between the quiescent sample after the warm-up and the one at the end. Both are
# taken with no call in flight and no helper running, so in a server without leaks they
# are equal up to: a few fds of channels to pooled or restarting fork servers/helpers and
# gRPC's own wakeup fds (+-10 — one fd leaked per request would be off by hundreds even in
# the short form); threads that gRPC's pool or the launcher start on demand (+-5: one per
# request would be hundreds); and RSS, where allocator arenas and gRPC buffers settle after
# the warm-up (32 MiB: a leak of every request's 64 KiB message would exceed it in the
# short form, of a 4 KiB one in the 10-minute form).
FD_BOUND, THREAD_BOUND, RSS_BOUND_KIB = 10, 5, 32 * 1024
# Under load each of the 8 calls in flight holds a helper channel and its pipes in the
# server: well under 8 fds each. A leak shows as a climb far past this.
LOAD_FD_MARGIN = 8 * CONCURRENCY


@pytest.fixture(scope="module")
def soak(backend: str, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Run, ServerProcess]]:
    base = tmp_path_factory.mktemp(f"soak-{backend}")
    ws = base / "ws"
    ws.mkdir()
    tree = build_tree(ws, plant_outside(base / "outside"))
    run_dir = base / "run"  # socket and log outside the root
    run_dir.mkdir()
    server = start_server(run_dir, [str(ws)], backend)
    try:
        run = run_soak(server.target, server.proc.pid, tree, seconds=SECONDS, warmup=WARMUP,
                       concurrency=CONCURRENCY)
        print(summary(run))
        yield run, server
    finally:
        server.stop()


def summary(run: Run) -> str:
    t = run.tally
    lines = [f"{t.total} calls in {run.seconds:.0f} s, co-tenant rounds {t.cotenant_rounds}",
             f"start {run.start}", f"warm  {run.warm}", f"end   {run.end}"]
    lines += [f"  {n:6} {op:36} {outcome}" for (op, outcome), n in sorted(t.outcomes.items())]
    return "\n".join(lines)


def test_soak_ran_the_whole_mix_with_the_cotenant_racing(soak: tuple[Run, ServerProcess]
                                                        ) -> None:
    run, _ = soak
    ops = {op for op, _ in run.tally.outcomes}
    assert len(ops) == 23, summary(run)  # every operation of the mix ran at least once
    assert run.tally.total >= 10 * SECONDS, summary(run)  # a few ops/s even on a busy box
    assert run.tally.cotenant_rounds > 0 and not run.tally.cotenant_error, \
        run.tally.cotenant_error


def test_soak_no_call_fails_internal(soak: tuple[Run, ServerProcess]) -> None:
    run, _ = soak
    assert run.tally.internal == [], "\n".join(run.tally.internal)


def test_soak_nothing_outside_reaches_a_caller(soak: tuple[Run, ServerProcess]) -> None:
    run, _ = soak
    assert run.tally.leak_count == 0, "\n".join(run.tally.leaks)
    assert run.outside_changed == [], "a write landed outside the root"


def test_soak_every_answer_agrees_with_the_tree(soak: tuple[Run, ServerProcess]) -> None:
    run, _ = soak
    assert run.tally.wrong == [], "\n".join(run.tally.wrong)


def test_soak_server_fds_threads_and_rss_stay_flat(soak: tuple[Run, ServerProcess]) -> None:
    run, _ = soak
    warm, end = run.warm, run.end
    assert abs(end.fds - warm.fds) <= FD_BOUND, summary(run)
    assert abs(end.threads - warm.threads) <= THREAD_BOUND, summary(run)
    assert end.rss_kib - warm.rss_kib <= RSS_BOUND_KIB, summary(run)
    assert run.under_load, "no sample under load"
    assert max(s.fds for s in run.under_load) <= warm.fds + LOAD_FD_MARGIN, \
        [s.fds for s in run.under_load]


def test_soak_leaves_no_helper_and_the_server_still_answers(
        soak: tuple[Run, ServerProcess]) -> None:
    run, server = soak
    assert run.final_stat_ok
    wait_for(lambda: not confined_helpers(server))
    assert server.proc.poll() is None
