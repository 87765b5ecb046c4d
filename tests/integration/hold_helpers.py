"""Test-only launcher: ``python hold_helpers.py MODE GATE CHECKED serve ...`` runs ``fsgate``
with the fork servers' helpers held back until the test opens the FIFO ``GATE`` for
writing.

MODE ``first``: every helper is held, the first pool included, so no helper exists before
the gate opens. MODE ``replacements``: each pool's first helpers are forked as usual and
only the later ones (the replacement of a helper a request used) are held. The first stat
through a helper (the start-up health check's) is announced by writing a byte to the FIFO
``CHECKED`` once it has returned.

What is held is the server's ask for helpers (pool.ForkServerExecutor._ask), so the product
reads no test-only setting. test_health_startup.py uses it to see health wait for a ready
helper without timing a fork server's start-up.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

if __name__ == "__main__":
    del sys.path[0]  # this directory: nothing of the tests is imported into the server
    from fsgate_server import cli
    from fsgate_server.backends import helper_client, pool

    mode, gate, checked = sys.argv[1:4]
    lock = threading.Lock()
    held: list[tuple[Any, int]] = []
    opened = False
    asked: set[int] = set()  # the pools that asked once (their first helpers)
    ask = pool.ForkServerExecutor._ask

    def held_ask(self: pool.ForkServerExecutor, n: int = 1) -> None:
        with lock:
            first = id(self) not in asked
            asked.add(id(self))
            if not opened and (mode == "first" or not first):
                held.append((self, n))
                return
        ask(self, n)

    def open_gate() -> None:
        global opened
        with open(gate, "rb"):  # blocks until the test opens it for writing
            pass
        with lock:
            opened = True
            waiting = list(held)
        for executor, n in waiting:
            ask(executor, n)

    stat = helper_client.HelperClient.stat
    announced = threading.Event()

    def announced_stat(self: helper_client.HelperClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return stat(self, *args, **kwargs)
        finally:
            if not announced.is_set():
                announced.set()
                with open(checked, "wb") as fifo:  # blocks until the test reads it
                    fifo.write(b"x")

    pool.ForkServerExecutor._ask = held_ask  # type: ignore[method-assign]  # the seam
    helper_client.HelperClient.stat = announced_stat  # type: ignore[method-assign]  # a seam too
    threading.Thread(target=open_gate, name="test-gate", daemon=True).start()
    sys.exit(cli.main(sys.argv[4:]))
