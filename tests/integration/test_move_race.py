"""Two no-clobber moves racing onto one destination: the kernel (RENAME_NOREPLACE) lets
exactly one of them have it, the other fails ALREADY_EXISTS, and no data is lost, round
after round; both backends, between two roots and within one."""
from __future__ import annotations

import threading
from pathlib import Path

import fsgate
import pytest
from fsgate import Client

from .transfer_setup import Layout, fresh_dir, layout, no_temporaries

__all__ = ["layout"]  # fixtures

ROUNDS = 120


def _race(clients: tuple[Client, Client], sources: tuple[Path, Path], dest: Path
          ) -> list[str]:
    """Both moves at once (released by one barrier), each on its own connection; what
    each ended in."""
    barrier = threading.Barrier(2)
    outcome = ["", ""]

    def run(i: int) -> None:
        barrier.wait()
        try:
            clients[i].move(sources[i], dest)
            outcome[i] = "moved"
        except fsgate.AlreadyExists:
            outcome[i] = "exists"
        except fsgate.FsgateError as exc:
            outcome[i] = f"{exc.code.name}/{exc.reason}"

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcome


@pytest.mark.parametrize("across_roots", [False, True], ids=["same_root", "two_roots"])
def test_two_concurrent_no_clobber_moves_onto_one_destination_exactly_one_wins(
        layout: Layout, request: pytest.FixtureRequest, across_roots: bool) -> None:
    d = fresh_dir(layout.ws, request)
    there = fresh_dir(layout.ws2, request) if across_roots else d
    wins = [0, 0]
    with Client(layout.server.target) as one, Client(layout.server.target) as other:
        for client in (one, other):
            client.stat(d)  # connected before the first race
        for n in range(ROUNDS):
            _round(n, (one, other), d, there, wins)
    assert sum(wins) == ROUNDS
    assert no_temporaries(d, there)


def _round(n: int, clients: tuple[Client, Client], d: Path, there: Path,
           wins: list[int]) -> None:
    """One race: both sources made, both moved at once onto dest."""
    sources = (d / f"a{n}", d / f"b{n}")
    sources[0].write_bytes(f"a{n}".encode())
    sources[1].write_bytes(f"b{n}".encode())
    dest = there / f"dest{n}"
    outcome = _race(clients, sources, dest)
    assert sorted(outcome) == ["exists", "moved"], (n, outcome)
    winner = outcome.index("moved")
    wins[winner] += 1
    # the winner's content is at the destination, the loser's is where it was
    assert dest.read_bytes() == f"{'ab'[winner]}{n}".encode()
    assert not sources[winner].exists()
    assert sources[1 - winner].read_bytes() == f"{'ab'[1 - winner]}{n}".encode()
