"""``python -m bench.floor_server --listen unix:PATH [--flavour sync|aio]`` — the floor.

The fastest plain Python gRPC server we could write for ReadFile, WriteFile, ListDir and
Stat, from the project's generated stubs and nothing else of fsgate: no policy, no helper,
no sandbox, no log line, no metrics; the file I/O happens in the handler. It answers with
the same messages the contract asks for (ReadFile: the info message, then the data
chunks; WriteFile: an atomic replace with the same fsyncs fsgate does), so the ratio
fsgate / floor is what fsgate adds on top of gRPC itself. Every path is served; it exists
only for the benchmark.

``--flavour``: ``sync`` (grpc.server over a thread pool) or ``aio`` (grpc.aio on one event
loop). Both are kept because which is faster depends on the load; docs/performance.md
says which one the benchmark starts and why.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from typing import Any

import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc
from google.protobuf import timestamp_pb2

MAX_MESSAGE_BYTES = 8 << 20  # as the fsgate server
DEFAULT_CHUNK = 1 << 20
OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
           ("grpc.max_send_message_length", MAX_MESSAGE_BYTES), ("grpc.so_reuseport", 0)]


def _kind(mode: int) -> Any:
    if stat.S_ISREG(mode):
        return pb.FILE_TYPE_REGULAR
    if stat.S_ISDIR(mode):
        return pb.FILE_TYPE_DIRECTORY
    if stat.S_ISLNK(mode):
        return pb.FILE_TYPE_SYMLINK
    return pb.FILE_TYPE_OTHER


def info(path: str, st: os.stat_result) -> pb.FileInfo:
    ts = timestamp_pb2.Timestamp(seconds=st.st_mtime_ns // 1_000_000_000,
                                 nanos=st.st_mtime_ns % 1_000_000_000)
    # A version token like fsgate's (it changes with content or metadata), without a hash.
    version = f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
    return pb.FileInfo(path=path, type=_kind(st.st_mode), size=st.st_size,
                       mode=stat.S_IMODE(st.st_mode), modified_time=ts, version=version)


def read_chunks(path: str, chunk: int) -> Iterator[pb.ReadFileResponse]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        yield pb.ReadFileResponse(info=info(path, st))
        left, offset = st.st_size, 0
        while left > 0:
            data = os.pread(fd, min(chunk, left), offset)
            if not data:
                break
            yield pb.ReadFileResponse(data=data)
            offset += len(data)
            left -= len(data)
    finally:
        os.close(fd)


def list_dir(path: str, page_size: int, after: str) -> pb.ListDirResponse:
    """One page of the names after ``after`` (the page token is simply the last name)."""
    with os.scandir(path) as it:
        names = sorted(e.name for e in it if e.name > after)
    page = names[:page_size or 1000]
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        entries = [pb.DirEntry(name=n, info=info(f"{path}/{n}",
                                                 os.stat(n, dir_fd=dfd, follow_symlinks=False)))
                   for n in page]
    finally:
        os.close(dfd)
    return pb.ListDirResponse(entries=entries,
                              next_page_token=page[-1] if len(names) > len(page) else "")


class AtomicWrite:
    """A temporary beside the target, written as chunks arrive, fsync'd and renamed over it
    (and the directory fsync'd), as fsgate's WriteFile does."""

    def __init__(self, path: str) -> None:
        self.path = path
        parent, self.name = os.path.split(path)
        self.dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.tmp = f".{self.name}.floor-{os.getpid()}-{threading.get_ident():x}-{id(self):x}"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC,
                          0o644, dir_fd=self.dfd)
        self.written = 0

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self.written += n

    def finish(self) -> pb.WriteFileResponse:
        try:
            os.fsync(self.fd)
            st = os.fstat(self.fd)
        finally:
            os.close(self.fd)
        try:
            os.rename(self.tmp, self.name, src_dir_fd=self.dfd, dst_dir_fd=self.dfd)
            os.fsync(self.dfd)
        finally:
            os.close(self.dfd)
        return pb.WriteFileResponse(info=info(self.path, st), bytes_written=self.written)


def write_atomic(path: str, chunks: Iterator[bytes]) -> pb.WriteFileResponse:
    out = AtomicWrite(path)
    for data in chunks:
        out.write(data)
    return out.finish()


def _data(requests: Iterator[pb.WriteFileRequest]) -> Iterator[bytes]:
    for msg in requests:
        yield msg.data


class SyncFloor(fsgate_pb2_grpc.FileSystemServiceServicer):
    def ReadFile(self, request: pb.ReadFileRequest, context: grpc.ServicerContext
                 ) -> Iterator[pb.ReadFileResponse]:
        return read_chunks(request.path, request.chunk_size or DEFAULT_CHUNK)

    def WriteFile(self, request_iterator: Iterator[pb.WriteFileRequest],
                  context: grpc.ServicerContext) -> pb.WriteFileResponse:
        first = next(request_iterator)
        return write_atomic(first.header.path, _data(request_iterator))

    def ListDir(self, request: pb.ListDirRequest, context: grpc.ServicerContext
                ) -> pb.ListDirResponse:
        return list_dir(request.path, request.page_size, request.page_token)

    def Stat(self, request: pb.StatRequest, context: grpc.ServicerContext) -> pb.StatResponse:
        st = os.stat(request.path, follow_symlinks=request.follow_symlinks)
        return pb.StatResponse(info=info(request.path, st))


class AioFloor(fsgate_pb2_grpc.FileSystemServiceServicer):
    """The same work on the event loop itself: small local files, no thread hand-off."""

    async def ReadFile(self, request: pb.ReadFileRequest,
                       context: grpc.aio.ServicerContext[Any, Any]
                       ) -> AsyncIterator[pb.ReadFileResponse]:
        for msg in read_chunks(request.path, request.chunk_size or DEFAULT_CHUNK):
            yield msg

    async def WriteFile(self, request_iterator: AsyncIterator[pb.WriteFileRequest],
                        context: grpc.aio.ServicerContext[Any, Any]) -> pb.WriteFileResponse:
        out: AtomicWrite | None = None
        async for msg in request_iterator:
            if out is None:
                out = AtomicWrite(msg.header.path)
            else:
                out.write(msg.data)
        assert out is not None, "WriteFile without a header"
        return out.finish()

    async def ListDir(self, request: pb.ListDirRequest,
                      context: grpc.aio.ServicerContext[Any, Any]) -> pb.ListDirResponse:
        return list_dir(request.path, request.page_size, request.page_token)

    async def Stat(self, request: pb.StatRequest,
                   context: grpc.aio.ServicerContext[Any, Any]) -> pb.StatResponse:
        st = os.stat(request.path, follow_symlinks=request.follow_symlinks)
        return pb.StatResponse(info=info(request.path, st))


def serve_sync(listen: str, workers: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=OPTIONS)
    fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(SyncFloor(), server)
    server.add_insecure_port(listen)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop(1).wait()


async def serve_aio(listen: str) -> None:
    server = grpc.aio.server(options=OPTIONS)
    fsgate_pb2_grpc.add_FileSystemServiceServicer_to_server(AioFloor(), server)
    server.add_insecure_port(listen)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await server.stop(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.floor_server")
    ap.add_argument("--listen", required=True)
    ap.add_argument("--flavour", choices=("sync", "aio"), default="sync")
    ap.add_argument("--workers", type=int, default=16, help="sync: thread-pool size")
    args, _fsgate_options = ap.parse_known_args(argv)  # bench passes fsgate's too: ignored
    if args.flavour == "aio":
        asyncio.run(serve_aio(args.listen))
    else:
        serve_sync(args.listen, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
