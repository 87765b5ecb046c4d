"""AsyncClient against a real server: every RPC, the error tree, cancelled writes."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import fsgate
import pytest
from fsgate import AsyncClient, FileType, Policy, WriteMode

from ..conftest import REPO, ServerProcess, server_env
from ..helpers import snapshot

T = TypeVar("T")


def run(served: ServerProcess, body: Callable[[AsyncClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with AsyncClient(served.target) as client:
            return await body(client)

    return asyncio.run(main())


def test_async_round_trip_of_every_rpc(served: ServerProcess, ws: Path) -> None:
    async def body(client: AsyncClient) -> None:
        result = await client.write_file(str(ws / "sub" / "a.txt"), b"hello async\n",
                                         create_parents=True)
        assert result.bytes_written == 12
        assert await client.read_file(str(ws / "sub" / "a.txt")) == b"hello async\n"
        info = await client.stat(str(ws / "sub" / "a.txt"))
        assert (info.type, info.size, info.version) == (FileType.REGULAR, 12,
                                                        result.info.version)
        names = [e.name async for e in client.list_dir(str(ws), depth=2)]
        assert names == ["sub", "sub/a.txt"]
        relative = Policy(writable_roots=[str(ws)], cwd=str(ws))
        await client.write_file("b.txt", b"rel", policy=relative, mode=WriteMode.CREATE_NEW)
        assert (ws / "b.txt").read_bytes() == b"rel"

    run(served, body)


def test_async_errors_carry_code_and_reason(served: ServerProcess, ws: Path) -> None:
    outside = served.root.parent / "outside" / "secret.txt"

    async def body(client: AsyncClient) -> None:
        with pytest.raises(fsgate.NotFound):
            await client.read_file(str(ws / "missing"))
        with pytest.raises(fsgate.OutsidePolicy) as info:
            await client.stat(str(outside))
        assert info.value.reason is fsgate.Reason.OUTSIDE_POLICY
        with pytest.raises(fsgate.AlreadyExists):
            await client.write_file(str(ws / "x"), b"1")
            await client.write_file(str(ws / "x"), b"2", mode=WriteMode.CREATE_NEW)

    run(served, body)


def test_rejected_async_writes_report_the_servers_reason_every_time(
    served: ServerProcess, ws: Path
) -> None:
    outside = served.root.parent / "outside" / "new.txt"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 65536

    async def body(client: AsyncClient) -> list[str]:
        seen = []
        for _ in range(20):
            try:
                await client.write_file(str(outside), chunks())
            except fsgate.FsgateError as exc:
                seen.append(f"{exc.code.name}/{exc.reason}")
        return seen

    assert run(served, body) == ["PERMISSION_DENIED/OUTSIDE_POLICY"] * 20
    assert not outside.exists()


def write_requests_logged(served: ServerProcess) -> list[dict[str, Any]]:
    """The server's one-line-per-request log entries of WriteFile calls."""
    events = [json.loads(line) for line in served.log().splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == "request" and e.get("method") == "WriteFile"]


def test_cancelling_an_async_write_changes_nothing(served: ServerProcess, ws: Path) -> None:
    (ws / "keep.txt").write_bytes(b"original")
    before = snapshot(ws)
    logged = len(write_requests_logged(served))

    async def body(client: AsyncClient) -> None:
        started = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"partial content"
            started.set()
            await asyncio.Event().wait()
            yield b"never"

        task = asyncio.create_task(client.write_file(str(ws / "keep.txt"), slow()))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(served, body)
    deadline = time.monotonic() + 30
    while len(write_requests_logged(served)) == logged:  # the server is done with the call
        assert time.monotonic() < deadline, served.log()
        time.sleep(0.05)
    assert write_requests_logged(served)[-1]["code"] != "OK"
    assert snapshot(ws) == before


def test_typed_usage_example_runs_against_the_server(served: ServerProcess, ws: Path) -> None:
    example = REPO / "examples" / "typed_usage.py"
    result = subprocess.run([sys.executable, str(example), served.target, str(ws)],
                            env=server_env(), capture_output=True, text=True, timeout=120,
                            check=False)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "typed tour ok\n"
    assert (ws / "async.txt").read_bytes() == b"async typed\n"
