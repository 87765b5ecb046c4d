"""Fixtures of the client tests: one fake server per module, reset before every test.

The fake itself and its helpers live in this package's ``__init__`` (test modules import
them); here are only the fixtures the modules share.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fsgate._channel
import pytest

from . import FakeFileSystem, serve

#: The client's retry policy with 10 ms backoffs: the same attempts, codes and methods,
#: so a test that maps UNAVAILABLE still goes through every retry, only fast. (Not less:
#: with 1 ms, gRPC 1.85 left the retried call waiting until its deadline.)
FAST_RETRY_POLICY: dict[str, Any] = {
    **fsgate._channel.RETRY_POLICY,
    "initialBackoff": "0.01s",
    "maxBackoff": "0.01s",
}


@pytest.fixture(scope="module")
def fast_retries() -> Iterator[dict[str, Any]]:
    """Clients made in this module retry with :data:`FAST_RETRY_POLICY`.

    Module-scoped, so a module's shared client gets it too: use it as
    ``pytestmark = pytest.mark.usefixtures("fast_retries")``. Not for the tests of the
    retry policy itself (test_retries.py), which pay the real backoff.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fsgate._channel, "RETRY_POLICY", FAST_RETRY_POLICY)
        yield FAST_RETRY_POLICY


# One server per module (closing a just-connected channel costs ~0.2 s); the fake is
# reset before every test.
@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeFileSystem, str]]:
    """The module's fake server and its target."""
    servicer = FakeFileSystem()
    with serve(servicer) as target:
        yield servicer, target


@pytest.fixture
def fake(server: tuple[FakeFileSystem, str]) -> Iterator[FakeFileSystem]:
    """The module's fake, fresh, holding ``/ws/a.txt``; reset again afterwards."""
    servicer, _ = server
    servicer.reset(files={"/ws/a.txt": b"hello, world"})
    yield servicer
    servicer.reset()


@pytest.fixture
def target(server: tuple[FakeFileSystem, str], fake: FakeFileSystem) -> str:
    """The target of the module's fake, reset for this test."""
    return server[1]
