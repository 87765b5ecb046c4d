"""Shared harness: every kernel test confines a forked child, never the pytest process."""

from __future__ import annotations

import ast
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import fsgate_server  # noqa: F401
except ImportError:  # not installed: run from the source tree
    _ROOT = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(_ROOT / "service"), str(_ROOT / "client")]

from fsgate_server.sandbox import landlock, rlimits

CHILD_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ChildResult:
    """How a forked child ended: it returned a value, raised, or died without reporting."""

    outcome: str  # "returned" | "raised" | "died"
    value: object  # the return value, or the exception's type name
    errno: int | None  # set when the child raised OSError
    exit_code: int | None  # set when the child exited normally
    term_signal: int | None  # set when a signal killed the child


def run_in_child(fn: Callable[[int], object]) -> ChildResult:
    """Fork; the child runs fn(report_fd) and reports its result as a Python literal."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(r)
            try:
                payload: tuple[object, ...] = ("returned", fn(w), None)
            except OSError as exc:
                payload = ("raised", type(exc).__name__, exc.errno)
            except BaseException as exc:
                payload = ("raised", type(exc).__name__, None)
            data = repr(payload).encode()
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([r], [], [], remaining)[0]:
                os.kill(pid, signal.SIGKILL)
                pytest.fail("forked child did not finish in time")
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(r)
        _, status = os.waitpid(pid, 0)
    exit_code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    term_signal = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    if not chunks:
        return ChildResult("died", None, None, exit_code, term_signal)
    outcome, value, err = ast.literal_eval(b"".join(chunks).decode())
    return ChildResult(outcome, value, err, exit_code, term_signal)


def errno_of(fn: Callable[[], object]) -> int | None:
    """The errno fn raised, or None if it succeeded (for use inside a child)."""
    try:
        fn()
    except OSError as exc:
        return exc.errno
    return None


@pytest.fixture
def in_child() -> Callable[[Callable[[int], object]], ChildResult]:
    """run_in_child, as a fixture (conftest modules are not for importing)."""
    return run_in_child


@pytest.fixture(name="errno_of")
def errno_of_fixture() -> Callable[[Callable[[], object]], int | None]:
    return errno_of


@pytest.fixture
def address_space() -> int:
    """An RLIMIT_AS with 1 GiB of room above this process's current size.

    The default (1 GiB, counted from zero) suits a small helper; pytest after the
    integration suites can be bigger than that, and its forked children start that big.
    """
    with open("/proc/self/statm", "rb") as f:
        current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    return max(rlimits.DEFAULT_ADDRESS_SPACE_BYTES, current + (1 << 30))


@pytest.fixture
def landlock_abi() -> int:
    """The kernel's Landlock ABI; skips the test when Landlock is unavailable."""
    abi = landlock.abi_version()
    if abi == 0:
        pytest.skip("Landlock is not available on this kernel (abi_version() == 0)")
    return abi
