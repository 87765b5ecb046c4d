"""The namespace RPCs of this family: MakeDir and Remove (each carried out by a confined
helper, helper/makedir.py and helper/remove.py) and GetServerInfo (no helper: what the
server is configured with)."""
from __future__ import annotations

import fsgate
import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server import policy
from fsgate_server.errors import Failure
from fsgate_server.helper.messages import MakeDirArgs, RemoveArgs
from fsgate_server.sandbox import landlock
from fsgate_server.transport.convert import file_info
from fsgate_server.transport.rpc_base import MAX_PAGE_SIZE, RpcBase

__all__ = ["DEFAULT_DIR_MODE", "NamespaceRpcs"]

DEFAULT_DIR_MODE = 0o755  # MakeDir's mode 0


class NamespaceRpcs(RpcBase):
    """MakeDir, Remove, GetServerInfo."""

    def MakeDir(self, request: pb.MakeDirRequest, context: grpc.ServicerContext
                ) -> pb.MakeDirResponse:
        with self._rpc("MakeDir", context) as facts:
            path, eff = self._resolve(request.path, request, write=True)
            facts["path"] = path
            if request.mode & ~0o777:
                raise Failure(Reason.INVALID_REQUEST,
                              f"mode {request.mode:#o} has bits outside 0o777", path)
            info = self._client(context, facts).make_dir(MakeDirArgs(
                path, eff, parents=request.parents, exist_ok=request.exist_ok,
                mode=request.mode or DEFAULT_DIR_MODE))
            return pb.MakeDirResponse(info=file_info(info))
        raise AssertionError("unreachable")

    def Remove(self, request: pb.RemoveRequest, context: grpc.ServicerContext
               ) -> pb.RemoveResponse:
        with self._rpc("Remove", context) as facts:
            served = tuple(sorted({root.path for root in self.roots}))
            try:
                path, eff = self._resolve(request.path, request, write=True)
            except Failure as exc:
                # A read-only root is a served root too: say so, as for a writable one.
                if exc.reason is Reason.OUTSIDE_POLICY and exc.path in served:
                    raise _root_refused(exc.path) from exc
                raise
            facts["path"] = path
            if any(policy.is_within(root, path) for root in served):
                raise _root_refused(path)
            done = self._client(context, facts).remove(RemoveArgs(
                path, eff, recursive=request.recursive, missing_ok=request.missing_ok,
                if_version=request.if_version, max_entries=self.config.max_list_entries,
                served=served))
            facts["removed"] = done.removed
            return pb.RemoveResponse(removed=done.removed)
        raise AssertionError("unreachable")

    def GetServerInfo(self, request: pb.GetServerInfoRequest, context: grpc.ServicerContext
                      ) -> pb.GetServerInfoResponse:
        with self._rpc("GetServerInfo", context):
            c = self.config
            ceiling = policy.effective_policy(self.roots, None)
            # The roots as configured: the real-path alias of a root served through a
            # symlink is the same directory, not another root to report.
            roots = sorted({r.path for r in self.roots if not r.alias_of})
            return pb.GetServerInfoResponse(
                version=fsgate.__version__,
                backend=self.executor.name,
                roots=[pb.Root(path=r, writable=any(policy.is_within(r, w)
                                                     for w in ceiling.writable))
                       for r in roots],
                limits=pb.ServerLimits(
                    max_read_bytes=c.max_read_bytes, max_write_bytes=c.max_write_bytes,
                    max_list_depth=c.max_list_depth, max_list_entries=c.max_list_entries,
                    max_page_size=MAX_PAGE_SIZE, max_matches=c.max_matches,
                    max_watches=c.max_watches),
                landlock_abi=landlock.abi_version())
        raise AssertionError("unreachable")


def _root_refused(path: str) -> Failure:
    return Failure(Reason.PROTECTED_PATH,
                   f"{path} is a served root or lies above one: never removed", path)
