"""Move and Copy: the two RPCs that name two paths.

Both paths are normalized and checked against one effective policy (the request's one
sandbox): Move needs both writable, Copy its source readable and its destination
writable. What can be told from the names alone is refused here, before any helper runs:
the same path twice, a served root (or a path above one) moved or replaced, a path at or
above a denied path moved or replaced. The helper judges again where each path really
leads (helper/places.py). An error's ErrorInfo ``path`` is the path at fault: the source,
or the destination.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server.errors import Failure, shorten
from fsgate_server.helper.messages import CopyArgs, MoveArgs
from fsgate_server.helper.places import holds_denied
from fsgate_server.policy import EffectivePolicy, is_within
from fsgate_server.transport.convert import file_info
from fsgate_server.transport.rpc_base import RpcBase


class TransferRpcs(RpcBase):
    """Move, Copy."""

    def Move(self, request: pb.MoveRequest, context: grpc.ServicerContext) -> pb.MoveResponse:
        with self._rpc("Move", context) as facts, _at_fault():
            source, destination, eff = self._pair(request, facts, source_writes=True)
            args = MoveArgs(source, eff, destination=destination, overwrite=request.overwrite,
                            create_parents=request.create_parents,
                            served_roots=self._served_roots(),
                            max_entries=self.config.max_list_entries,
                            max_bytes=self.config.max_write_bytes)
            done = self._client(context, facts).move(args)
            facts["across_file_systems"] = done.copied
            assert done.info is not None  # HelperClient.move never returns None info
            return pb.MoveResponse(info=file_info(done.info))
        raise AssertionError("unreachable")

    def Copy(self, request: pb.CopyRequest, context: grpc.ServicerContext) -> pb.CopyResponse:
        with self._rpc("Copy", context) as facts, _at_fault():
            source, destination, eff = self._pair(request, facts, source_writes=False)
            args = CopyArgs(source, eff, destination=destination, recursive=request.recursive,
                            overwrite=request.overwrite, served_roots=self._served_roots(),
                            max_entries=self.config.max_list_entries,
                            max_bytes=self.config.max_write_bytes)
            done = self._client(context, facts).copy(args)
            facts["bytes"] = done.bytes_copied
            return pb.CopyResponse(info=file_info(done.info), bytes_copied=done.bytes_copied,
                                   entries_copied=done.entries_copied)
        raise AssertionError("unreachable")

    # --- the two paths -------------------------------------------------------------------

    def _served_roots(self) -> tuple[str, ...]:
        return tuple(sorted({root.path for root in self.roots}))

    def _pair(self, request: Any, facts: dict[str, Any], *, source_writes: bool
              ) -> tuple[str, str, EffectivePolicy]:
        """The normalized source and destination and their one effective policy (both are
        resolved with the same sandbox, so the policies are the same: the first is kept)."""
        source, eff = self._resolve(request.source, request, write=source_writes)
        facts["path"] = source
        destination, _ = self._resolve(request.destination, request, write=True)
        facts["destination"] = shorten(destination)
        if source == destination:
            raise Failure(Reason.INVALID_REQUEST,
                          f"{source}: the source and the destination are the same path", source)
        if source_writes:
            self._require_changeable(source, eff)
        self._require_changeable(destination, eff)
        return source, destination, eff

    def _require_changeable(self, path: str, eff: EffectivePolicy) -> None:
        for root in self._served_roots():
            if is_within(root, path):
                what = "is a served root" if root == path else "contains a served root"
                raise Failure(Reason.PROTECTED_PATH,
                              f"{path}: {what}; it is never moved, replaced or removed", path)
        if holds_denied(path, eff):
            raise Failure(Reason.OUTSIDE_POLICY,
                          f"{path}: contains a path the sandbox policy denies", path)


@contextmanager
def _at_fault() -> Iterator[None]:
    """A helper names the destination as the path at fault with a ``path`` fact."""
    try:
        yield
    except Failure as exc:
        at = exc.metadata.pop("path", "")
        if at:
            exc.path = at
        raise
