"""What a watch costs the server stays bounded, on both backends: a client that reads
nothing while the tree churns leaves the server's memory flat (the server drops, counts and
reports ``overflow``, never buffers without bound), and stopping the server ends every
watch at once, cleanly, with UNAVAILABLE/SHUTTING_DOWN and no helper left behind."""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import fsgate
import grpc
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from bench.soak_tree import sample

from ..conftest import start_server
from .test_faults import confined_helpers, wait_for

# Each created and removed, under ~2.3 KiB paths: 80,000 events, ~180 MiB of paths. With
# the server's buffer unbounded (BUFFER_EVENTS = 10**9), this test fails: its RSS grew
# ~107 MiB over 32,000 such files; bounded, ~13 MiB (the buffer, gRPC's flow-control
# window) over 97,000.
CHURN_FILES = 40_000
GROWTH_LIMIT_KIB = 48 * 1024


def running(pid: int) -> bool:
    """Whether pid is a live process (a zombie left to a non-reaping init is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def rss_kib(pid: int) -> int:
    return sample(pid, 0.0).rss_kib


def test_server_memory_stays_bounded_while_a_client_reads_nothing(backend: str,
                                                                   tmp_path: Path) -> None:
    top = tmp_path / "root"
    root = top
    for k in range(8):  # a long path: every event carries ~2 KiB of it
        root /= chr(ord("a") + k) * 250
    root.mkdir(parents=True)
    server = start_server(tmp_path, [str(top)], backend,
                          env={"FSGATE_WATCH_KEEPALIVE_SECONDS": "0.5"})
    channel = grpc.insecure_channel(server.target)
    try:
        stub = fsgate_pb2_grpc.FileSystemServiceStub(channel)
        call = stub.WatchDir(pb.WatchDirRequest(path=str(root)), timeout=600)
        replies = iter(call)
        assert next(replies).WhichOneof("payload") == "started"
        [helper] = confined_helpers(server)
        server_before, helper_before = rss_kib(server.proc.pid), rss_kib(helper)
        server_peak, helper_peak = server_before, helper_before
        for i in range(CHURN_FILES):  # the client reads nothing meanwhile
            name = root / (f"churn-{i}-" + "x" * 200)
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644))
            os.unlink(name)
            if i % 5000 == 0:
                server_peak = max(server_peak, rss_kib(server.proc.pid))
                helper_peak = max(helper_peak, rss_kib(helper))
        server_peak = max(server_peak, rss_kib(server.proc.pid))
        assert server_peak - server_before < GROWTH_LIMIT_KIB
        assert helper_peak - helper_before < GROWTH_LIMIT_KIB
        # Now read: what did not fit was dropped, and the stream says so; after it, the
        # watch goes on.
        kinds: list[str | None] = []
        for reply in replies:  # until the stream goes quiet after the flood (a keepalive)
            kinds.append(reply.WhichOneof("payload"))
            if kinds[-1] == "keepalive" and ({"event", "overflow"} & set(kinds)
                                             or len(kinds) > 20):
                break
        assert "overflow" in kinds
        os.close(os.open(root / "after", os.O_CREAT | os.O_WRONLY, 0o644))
        assert any(reply.WhichOneof("payload") == "event"
                   and reply.event.path == str(root / "after") for reply in replies)
        call.cancel()
    finally:
        channel.close()
        server.stop()


def test_server_shutdown_ends_every_watch_with_shutting_down(backend: str,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(tmp_path, [str(root)], backend)
    errors: list[BaseException | None] = []
    watches = []
    with fsgate.Client(server.target) as fs:
        for _ in range(3):
            watches.append(fs.watch(root, recursive=True, timeout=600))

        def read(watch: fsgate.Watch) -> None:
            try:
                list(watch)
                errors.append(None)
            except BaseException as exc:  # what ended it, judged below
                errors.append(exc)

        readers = [threading.Thread(target=read, args=(w,)) for w in watches]
        for reader in readers:
            reader.start()
        helpers = confined_helpers(server)
        assert len(helpers) == 3
        server.proc.send_signal(signal.SIGTERM)
        for reader in readers:
            reader.join(timeout=60)
        assert server.proc.wait(timeout=60) == 0
    assert len(errors) == 3
    for exc in errors:
        assert isinstance(exc, fsgate.ShuttingDown), repr(exc)
        assert exc.code is grpc.StatusCode.UNAVAILABLE
    wait_for(lambda: not any(running(pid) for pid in helpers))
    log = server.log()
    assert '"code": "UNAVAILABLE", "reason": "SHUTTING_DOWN"' in log.replace("'", '"')
    assert "Traceback" not in log and "helper_failed" not in log
