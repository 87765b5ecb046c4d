"""EditFile: exact old -> new replacements in one UTF-8 file, carried out by one confined
helper that reads the file and replaces it with WriteFile's commit (helper/editing.py).

The request is checked here before any helper runs: at least one edit and at most
MAX_EDITS, none with an empty ``old_text``. The file, before and after, is bounded by
``max_read_bytes``, ``max_write_bytes`` and MAX_EDIT_BYTES: the helper holds it in memory.
"""
from __future__ import annotations

import grpc
from fsgate.reasons import Reason
from fsgate.v1 import fsgate_pb2 as pb

from fsgate_server.errors import Failure
from fsgate_server.helper.messages import EditArgs, TextEdit
from fsgate_server.transport.convert import file_info
from fsgate_server.transport.rpc_base import RpcBase

__all__ = ["MAX_EDITS", "MAX_EDIT_BYTES", "EditRpcs"]

MAX_EDITS = 1024
# The helper holds the old and the new content (and the diff's lines) at once, within its
# 4 GiB of address space: a bound well below that, whatever --max-read-bytes says.
MAX_EDIT_BYTES = 64 << 20


class EditRpcs(RpcBase):
    """EditFile."""

    def EditFile(self, request: pb.EditFileRequest, context: grpc.ServicerContext
                 ) -> pb.EditFileResponse:
        with self._rpc("EditFile", context) as facts:
            # A dry run is judged like the edit it previews: the file must be writable.
            path, eff = self._resolve(request.path, request, write=True)
            facts["path"] = path
            if not request.edits:
                raise Failure(Reason.INVALID_REQUEST, "EditFile needs at least one edit", path)
            if len(request.edits) > MAX_EDITS:
                raise Failure(Reason.INVALID_REQUEST,
                              f"{len(request.edits)} edits exceed the maximum of {MAX_EDITS}",
                              path)
            for index, edit in enumerate(request.edits):
                if not edit.old_text:
                    raise Failure(Reason.INVALID_REQUEST, f"edit {index}: old_text is empty",
                                  path, metadata={"edit": str(index)})
            limit = min(self.config.max_read_bytes, self.config.max_write_bytes,
                        MAX_EDIT_BYTES)
            args = EditArgs(path, eff, edits=tuple(
                TextEdit(e.old_text, e.new_text, e.replace_all) for e in request.edits),
                if_version=request.if_version, dry_run=request.dry_run, max_bytes=limit)

            def still_alive() -> bool:
                self._require_alive(context, path)  # raises, saying why not
                return True

            done = self._client(context, facts).edit(args, still_alive)
            facts["replacements"] = done.replacements
            return pb.EditFileResponse(info=file_info(done.info),
                                       replacements=done.replacements, diff=done.diff,
                                       diff_truncated=done.diff_truncated)
        raise AssertionError("unreachable")
