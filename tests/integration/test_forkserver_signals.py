"""A SIGTERM to the server's whole process group (systemd's KillMode=control-group, a
shell's ``kill -TERM -PGID``) is a graceful shutdown like a SIGTERM to the server alone:
the fork servers are not killed by it, a write in flight finishes within the grace, and no
fork server is logged as failed."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import grpc
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import start_server
from .test_operations import log_events, wait_serving
from .test_shutdown import helpers_running, stalled_write, wait_for


def test_sigterm_to_the_process_group_is_a_clean_shutdown(tmp_path: Path, backend: str
                                                          ) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "target").write_bytes(b"original\n")
    server = start_server(tmp_path, [str(root)], backend, "--shutdown-grace", "30",
                          "--metrics-listen", "127.0.0.1:0", new_session=True)
    sent, release = threading.Event(), threading.Event()
    channel = grpc.insecure_channel(server.target)
    try:
        wait_serving(server.target)
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        write = stub.WriteFile.future(stalled_write(str(root / "target"), sent, release),
                                      timeout=60)
        assert sent.wait(20)
        wait_for(lambda: helpers_running(server) == 1, "the write's helper")
        os.killpg(server.proc.pid, signal.SIGTERM)  # the server and every process of its group
        wait_for(lambda: any(e["event"] == "shutting_down" for e in log_events(server)),
                 "the shutdown to begin")
        release.set()
        reply = write.result(timeout=30)  # its helper survived the group's SIGTERM
        assert reply.bytes_written == len(b"first half, second half\n")
        assert server.proc.wait(timeout=30) == 0, server.log()
    finally:
        release.set()
        channel.close()
        server.stop()
    assert (root / "target").read_bytes() == b"first half, second half\n"
    failed = [e for e in log_events(server)
              if e["event"] == "forkserver_failed" or e.get("level") == "error"]
    assert not failed, failed
    assert "Traceback" not in server.log()
