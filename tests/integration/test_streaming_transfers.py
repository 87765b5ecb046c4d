"""Streaming transfers through the client library hold one chunk at a time, not the file.

A file many times the 1 MiB chunk size goes out of a file object and comes back into one,
through Client and AsyncClient, against a real server; tracemalloc's peak of the test
process (every Python allocation, gRPC's threads included) stays a small multiple of the
chunk size.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from fsgate import AsyncClient, Client

from ..conftest import ServerProcess

T = TypeVar("T")
MiB = 1 << 20
SIZE = 24 * MiB + 12345  # 24+ default chunks
PEAK_LIMIT = 8 * MiB  # a third of the file; holding it whole would need 24 MiB


def make_file(path: Path, size: int = SIZE) -> str:
    """Write ``size`` random bytes chunk by chunk; returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(MiB, left))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def peak_of(run: Callable[[], T]) -> tuple[T, int]:
    """``run()``'s result and the peak of traced memory while it ran, in bytes."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    path = tmp_path / "source.bin"  # outside the served roots: a local file
    yield path, make_file(path)


def test_write_from_a_file_and_read_into_a_file_in_bounded_memory(
    served: ServerProcess, ws: Path, tmp_path: Path, source: tuple[Path, str]
) -> None:
    src, digest = source
    copy = tmp_path / "copy.bin"
    with Client(served.target) as client:
        client.stat(str(ws))  # connect before measuring

        def upload() -> int:
            with open(src, "rb") as f:
                return client.write_file(str(ws / "big.bin"), f).bytes_written

        def download() -> int:
            with open(copy, "wb") as f:
                return client.read_to(str(ws / "big.bin"), f)

        written, write_peak = peak_of(upload)
        copied, read_peak = peak_of(download)

    assert written == copied == SIZE
    assert sha256_of(ws / "big.bin") == sha256_of(copy) == digest
    assert write_peak < PEAK_LIMIT, f"write peaked at {write_peak / MiB:.1f} MiB"
    assert read_peak < PEAK_LIMIT, f"read peaked at {read_peak / MiB:.1f} MiB"


def test_iterators_stream_in_bounded_memory(served: ServerProcess, ws: Path,
                                            source: tuple[Path, str]) -> None:
    src, digest = source

    def chunks() -> Iterator[bytes]:
        with open(src, "rb") as f:
            while chunk := f.read(MiB):
                yield chunk

    with Client(served.target) as client:
        client.stat(str(ws))

        def round_trip() -> str:
            client.write_file(str(ws / "big.bin"), chunks())
            seen = hashlib.sha256()
            for chunk in client.iter_file(str(ws / "big.bin")):
                seen.update(chunk)
            return seen.hexdigest()

        seen, peak = peak_of(round_trip)

    assert seen == digest
    assert peak < PEAK_LIMIT, f"peaked at {peak / MiB:.1f} MiB"


def test_async_client_streams_in_bounded_memory(served: ServerProcess, ws: Path,
                                                tmp_path: Path,
                                                source: tuple[Path, str]) -> None:
    src, digest = source
    copy = tmp_path / "copy.bin"

    async def chunks() -> AsyncIterator[bytes]:
        with open(src, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, MiB):
                yield chunk

    async def round_trip() -> tuple[int, int, str]:
        async with AsyncClient(served.target) as client:
            await client.stat(str(ws))
            tracemalloc.reset_peak()
            with open(src, "rb") as f:  # a blocking file: read in a worker thread
                await client.write_file(str(ws / "a.bin"), f)
            await client.write_file(str(ws / "b.bin"), chunks())
            with open(copy, "wb") as f:
                copied = await client.read_to(str(ws / "a.bin"), f)
            seen = hashlib.sha256()
            async for chunk in client.iter_file(str(ws / "b.bin")):
                seen.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
            return copied, peak, seen.hexdigest()

    (copied, peak, seen), _ = peak_of(lambda: asyncio.run(round_trip()))

    assert copied == SIZE
    assert sha256_of(copy) == sha256_of(ws / "a.bin") == seen == digest
    assert peak < PEAK_LIMIT, f"peaked at {peak / MiB:.1f} MiB"
