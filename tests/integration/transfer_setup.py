"""What the Move and Copy tests share: one server per backend with two read-write roots on
one file system, a read-only root, a read-write root on another file system (a tmpfs)
when this run may mount one, and a sibling directory no root covers; and the assertion that a call
fails with a code and reason and changes nothing.

The fixtures ``layout`` (that server, one per test module), ``fs`` (a client of it) and
``d`` (a fresh directory per test, left with no temporary) are imported by the modules that
use them and named in their ``__all__``."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fsgate
import pytest
from fsgate import Client

from ..conftest import ServerProcess, start_server
from ..helpers import snapshot

MAX_ENTRIES = 100  # --max-list-entries of the transfer server
MAX_BYTES = 8 << 20  # --max-write-bytes of the transfer server


@dataclass
class Layout:
    base: Path
    ws: Path  # read-write root
    ws2: Path  # a second read-write root, same file system
    ro: Path  # read-only root
    outside: Path  # no root covers it
    other_fs: Path | None  # a read-write root on another file system, if this host has one
    server: ServerProcess

    def roots(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.ws, self.ws2, self.ro, self.outside, self.other_fs)
                     if p is not None)


def _other_file_system(base: Path) -> Path | None:
    """A small tmpfs mounted inside ``base`` (not /dev/shm: bwrap's fresh /dev covers it),
    or None where mounting needs privileges this run lacks."""
    path = base / "far"
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(path)],
            capture_output=True, check=False).returncode != 0:
        path.rmdir()
        return None
    return path


@contextmanager
def transfer_server(backend: str, factory: pytest.TempPathFactory) -> Iterator[Layout]:
    base = factory.mktemp(f"transfer-{backend}")
    for name in ("ws", "ws2", "ro", "outside"):
        (base / name).mkdir()
    (base / "outside" / "secret.txt").write_text("top secret\n")
    (base / "ro" / "keep.txt").write_text("read only\n")
    other = _other_file_system(base)
    roots = [str(base / "ws"), str(base / "ws2"), f"{base / 'ro'}:ro"]
    if other is not None:
        roots.append(str(other))
    server = start_server(factory.mktemp(f"transfer-run-{backend}"), roots, backend,
                          "--max-list-entries", str(MAX_ENTRIES),
                          "--max-write-bytes", str(MAX_BYTES))
    try:
        yield Layout(base, base / "ws", base / "ws2", base / "ro", base / "outside", other,
                     server)
    finally:
        server.stop()
        if other is not None:
            subprocess.run(["umount", "-l", str(other)], capture_output=True, check=False)


@pytest.fixture(scope="module")
def layout(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    with transfer_server(backend, tmp_path_factory) as served:
        yield served


@pytest.fixture
def fs(layout: Layout) -> Iterator[Client]:
    with Client(layout.server.target) as client:
        yield client


@pytest.fixture
def d(layout: Layout, request: pytest.FixtureRequest) -> Iterator[Path]:
    path = fresh_dir(layout.ws, request)
    yield path
    assert no_temporaries(path)


def fresh_dir(root: Path, request: pytest.FixtureRequest) -> Path:
    """A directory named for the test, inside ``root``."""
    name = request.node.name.replace("[", "_").replace("]", "").replace("/", "_")
    d: Path = root / name
    d.mkdir()
    return d


def fails(layout: Layout, call: Callable[[], object], code: str, reason: str
          ) -> fsgate.FsgateError:
    """``call`` raises an FsgateError with this code and reason, and no root (nor the
    directory outside them) changes."""
    before = {root: snapshot(root) for root in layout.roots()}
    with pytest.raises(fsgate.FsgateError) as err:
        call()
    assert (err.value.code.name, err.value.reason and err.value.reason.value) == (code, reason), \
        err.value.message
    for root, was in before.items():
        assert snapshot(root) == was, root
    return err.value


def no_temporaries(*dirs: Path) -> bool:
    return not [p for d in dirs for p in d.rglob(".fsgate-tmp-*")]
