"""A typed tour of the fsgate client, sync and async; ``mypy --strict`` checks it in the tests.

Every ``assert_type`` below is a claim about the types a caller sees; mypy fails if one is
wrong, and they are true at run time as well. Run it against a server, with a directory
inside one of its read-write roots:

    python examples/typed_usage.py unix:/run/fsgate.sock /abs/path/in/a/root
"""

from __future__ import annotations

import asyncio
import datetime
import io
import sys
from collections.abc import AsyncGenerator, Iterator
from typing import assert_type

import fsgate
import grpc
from fsgate.v1 import fsgate_pb2


def sync_tour(target: str, root: str) -> None:
    policy = fsgate.Policy(writable_roots=[root])
    timeouts = fsgate.Timeouts(call=10.0)
    with fsgate.Client(target, policy=policy, timeouts=timeouts) as fs:
        result = fs.write_file(f"{root}/typed.txt", b"typed\n")
        assert_type(result, fsgate.WriteResult)
        assert_type(result.bytes_written, int)

        info = fs.stat(f"{root}/typed.txt")
        assert_type(info, fsgate.FileInfo)
        assert_type(info.type, fsgate.FileType)
        assert_type(info.modified_time, datetime.datetime)
        assert_type(info.symlink_target, str | None)

        assert_type(fs.read_file(f"{root}/typed.txt"), bytes)
        chunks = fs.iter_file(f"{root}/typed.txt")
        assert_type(chunks, Iterator[bytes])
        assert b"".join(chunks) == b"typed\n"

        sink = io.BytesIO()  # streaming into a file object
        assert_type(fs.read_to(f"{root}/typed.txt", sink), int)

        for entry in fs.list_dir(root):
            assert_type(entry, fsgate.DirEntry)
            assert_type(entry.raw_name, bytes | None)

        try:
            fs.read_file(f"{root}/missing")
        except fsgate.NotFound as exc:  # also a FileNotFoundError
            assert_type(exc.code, grpc.StatusCode)
            assert_type(exc.reason, fsgate.Reason | None)
            assert exc.reason is fsgate.Reason.NOT_FOUND


async def async_tour(target: str, root: str) -> None:
    async with fsgate.AsyncClient(target, policy=fsgate.Policy(writable_roots=[root])) as fs:

        async def content() -> AsyncGenerator[bytes, None]:
            yield b"async "
            yield b"typed\n"

        result = await fs.write_file(f"{root}/async.txt", content())
        assert_type(result, fsgate.WriteResult)

        info, stream = await fs.open_read(f"{root}/async.txt")
        assert_type(info, fsgate.FileInfo)
        assert_type(stream, AsyncGenerator[bytes, None])
        assert b"".join([chunk async for chunk in stream]) == b"async typed\n"

        names = [entry.name async for entry in fs.list_dir(root)]
        assert_type(names, list[str])
        assert_type(await fs.stat(root), fsgate.FileInfo)


def generated_stubs() -> None:
    # The generated messages are typed too (fsgate/v1/fsgate_pb2.pyi ships in the wheel).
    request = fsgate_pb2.StatRequest(path="/ws/a.txt", follow_symlinks=True)
    assert_type(request.path, str)
    assert_type(request.follow_symlinks, bool)
    assert_type(request.sandbox, fsgate_pb2.SandboxPolicy)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python examples/typed_usage.py TARGET DIR")
    target, root = argv
    generated_stubs()
    sync_tour(target, root)
    asyncio.run(async_tour(target, root))
    print("typed tour ok")


if __name__ == "__main__":
    main(sys.argv[1:])
