"""gRPC handlers: validate and normalize, apply the policy, hand the request to a helper
(HelperClient: the typed conversation), convert its answer (convert.py).

Handlers never open a user file: everything that touches one happens in the helper. The
plumbing they share is rpc_base.py; this module holds the v1 file RPCs and composes the
servicer from every family's mixin.
"""
from __future__ import annotations

from collections.abc import Iterator

import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server.errors import Failure
from fsgate_server.helper.messages import ListArgs, ReadArgs, StatArgs, WriteArgs
from fsgate_server.transport.convert import dir_entry, file_info
from fsgate_server.transport.rpc_base import MAX_PAGE_SIZE, RpcBase
from fsgate_server.transport.rpc_edit import EditRpcs
from fsgate_server.transport.rpc_namespace import NamespaceRpcs
from fsgate_server.transport.rpc_search import SearchRpcs
from fsgate_server.transport.rpc_transfer import TransferRpcs
from fsgate_server.transport.rpc_watch import WatchRpcs
from fsgate_server.transport.tokens import decode_page_token, encode_page_token

MIN_CHUNK = 4 << 10
MAX_CHUNK = 4 << 20
DEFAULT_CHUNK = 1 << 20


class FileRpcs(RpcBase):
    """ReadFile, WriteFile, ListDir, Stat."""

    def Stat(self, request: pb.StatRequest, context: grpc.ServicerContext) -> pb.StatResponse:
        with self._rpc("Stat", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            info = self._client(context, facts).stat(
                StatArgs(path, eff, follow_symlinks=request.follow_symlinks))
            return pb.StatResponse(info=file_info(info))
        raise AssertionError("unreachable")

    def ListDir(self, request: pb.ListDirRequest, context: grpc.ServicerContext
                ) -> pb.ListDirResponse:
        with self._rpc("ListDir", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            depth = request.depth or 1
            if depth > self.config.max_list_depth:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"depth {depth} exceeds the server's maximum of "
                                   f"{self.config.max_list_depth}", path)
            page_size = min(request.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
            after = decode_page_token(request.page_token, path, depth)
            page = self._client(context, facts).list(ListArgs(
                path, eff, depth=depth, page_size=page_size, after=after,
                max_entries=self.config.max_list_entries))
            last = page.last
            return pb.ListDirResponse(
                entries=[dir_entry(e) for e in page.entries],
                next_page_token=encode_page_token(path, depth, last) if last is not None else "")
        raise AssertionError("unreachable")

    def ReadFile(self, request: pb.ReadFileRequest, context: grpc.ServicerContext
                 ) -> Iterator[pb.ReadFileResponse]:
        with self._rpc("ReadFile", context) as facts:
            path, eff = self._resolve(request.path, request, write=False)
            facts["path"] = path
            chunk = request.chunk_size or DEFAULT_CHUNK
            if not MIN_CHUNK <= chunk <= MAX_CHUNK:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"chunk_size must be between {MIN_CHUNK} and {MAX_CHUNK}", path)
            if (request.line_offset or request.line_limit or request.tail_lines) and (
                    request.offset or request.length):
                raise Failure(Reason.INVALID_REQUEST, "line_offset, line_limit and tail_lines "
                              "cannot be combined with offset or length", path)
            if request.tail_lines and (request.line_offset or request.line_limit):
                raise Failure(Reason.INVALID_REQUEST, "tail_lines cannot be combined with "
                              "line_offset or line_limit", path)
            if request.length > self.config.max_read_bytes:
                raise Failure(Reason.TOO_LARGE,
                                   f"length exceeds the server's maximum of "
                                   f"{self.config.max_read_bytes} bytes", path)
            args = ReadArgs(path, eff, offset=request.offset, length=request.length,
                            chunk_size=chunk, max_bytes=self.config.max_read_bytes,
                            line_offset=request.line_offset, line_limit=request.line_limit,
                            tail_lines=request.tail_lines)
            sent = 0
            try:
                with self._client(context, facts).read(args) as (info, content):
                    yield pb.ReadFileResponse(info=file_info(info))
                    for data in content:
                        sent += len(data)
                        yield pb.ReadFileResponse(data=data)
            finally:
                facts["bytes"] = sent

    def WriteFile(self, request_iterator: Iterator[pb.WriteFileRequest],
                  context: grpc.ServicerContext) -> pb.WriteFileResponse:
        with self._rpc("WriteFile", context) as facts:
            first = next(request_iterator, None)
            if first is None or not first.HasField("header"):
                raise Failure(Reason.INVALID_REQUEST,
                                   "the first WriteFile message must carry a header")
            h = first.header
            path, eff = self._resolve(h.path, h, write=True)
            facts["path"] = path
            if h.file_mode & ~0o777:
                raise Failure(Reason.INVALID_REQUEST,
                                   f"file_mode {h.file_mode:#o} has bits outside 0o777", path)
            if h.mode not in (pb.WRITE_MODE_UNSPECIFIED, pb.WRITE_MODE_REPLACE,
                              pb.WRITE_MODE_CREATE_NEW):
                raise Failure(Reason.INVALID_REQUEST, f"unknown write mode {h.mode}", path)
            limit = self.config.max_write_bytes
            args = WriteArgs(path, eff, create_new=h.mode == pb.WRITE_MODE_CREATE_NEW,
                             create_parents=h.create_parents, if_version=h.if_version,
                             file_mode=h.file_mode, max_bytes=limit)

            def content() -> Iterator[bytes]:
                total = 0
                for msg in request_iterator:
                    if not msg.HasField("data"):
                        raise Failure(Reason.INVALID_REQUEST,
                                      "only the first WriteFile message may carry a header", path)
                    total += len(msg.data)
                    if total > limit:
                        raise Failure(Reason.TOO_LARGE,
                                      f"content exceeds the server's maximum of {limit} bytes",
                                      path)
                    yield msg.data

            def still_alive() -> bool:
                self._require_alive(context, path)  # raises, saying why not
                return True

            done = self._client(context, facts).write(args, content(), still_alive)
            facts["bytes"] = done.bytes_written
            return pb.WriteFileResponse(info=file_info(done.info),
                                        bytes_written=done.bytes_written)
        raise AssertionError("unreachable")


class FileSystemServicer(FileRpcs, NamespaceRpcs, TransferRpcs, EditRpcs, SearchRpcs,
                         WatchRpcs):
    """The whole service: every family's RPCs over the shared plumbing (rpc_base.py)."""
