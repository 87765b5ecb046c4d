"""A watch's life, on both backends: its helper dies with it (cancel, deadline,
--max-watch-seconds), the helper timeout and the helper slots leave it alone, --max-watches
and --max-watched-dirs bound it (BUSY, TOO_LARGE), keepalives flow, failures carry their
code and reason and change nothing, and metrics count it."""
from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import fsgate
import grpc
import pytest
from fsgate.v1 import fsgate_pb2 as pb
from fsgate.v1 import fsgate_pb2_grpc

from ..conftest import ServerProcess, start_server
from ..helpers import rpc_reason, snapshot
from ..watch_helpers import events, step
from .test_faults import confined_helpers, wait_for

KEEPALIVE = 0.3  # seconds, through the internal FSGATE_WATCH_KEEPALIVE_SECONDS
HELPER_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp(f"watch-life-{backend}")
    run = tmp_path_factory.mktemp(f"watch-life-run-{backend}")
    server = start_server(run, [str(root)], backend, "--max-watches", "3",
                          "--max-concurrent-helpers", "1", "--queue-timeout", "5",
                          "--max-watched-dirs", "4", "--helper-timeout", str(HELPER_TIMEOUT),
                          "--metrics-listen", "127.0.0.1:0",
                          env={"FSGATE_WATCH_KEEPALIVE_SECONDS": str(KEEPALIVE)})
    yield server
    server.stop()


@pytest.fixture
def d(server: ServerProcess, request: pytest.FixtureRequest) -> Path:
    path: Path = server.root / request.node.name.replace("[", "_").replace("]", "")
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def no_watch_open(server: ServerProcess) -> None:
    """A watch closed by the last test is ended by the server a moment later: wait for
    that, so every test starts with all --max-watches free."""
    wait_for(lambda: metric(metrics_text(server), "fsgate_watches") == 0)


@pytest.fixture
def fs(server: ServerProcess) -> Iterator[fsgate.Client]:
    with fsgate.Client(server.target) as client:
        yield client


def stub(server: ServerProcess) -> tuple[grpc.Channel, fsgate_pb2_grpc.FileSystemServiceStub]:
    channel = grpc.insecure_channel(server.target)
    return channel, fsgate_pb2_grpc.FileSystemServiceStub(channel)


def test_closing_a_watch_kills_its_helper(server: ServerProcess, fs: fsgate.Client,
                                          d: Path) -> None:
    watch = fs.watch(d)
    wait_for(lambda: len(confined_helpers(server)) == 1)
    watch.close()
    assert list(watch) == []
    wait_for(lambda: not confined_helpers(server))


def test_dropping_a_watch_after_breaking_out_kills_its_helper(
        server: ServerProcess, fs: fsgate.Client, d: Path) -> None:
    watch = fs.watch(d)
    os.close(os.open(d / "x", os.O_CREAT | os.O_WRONLY))
    for _event in watch:
        break
    del watch  # no close(): the last reference going away ends the call
    wait_for(lambda: not confined_helpers(server))


def test_the_client_deadline_ends_the_watch_and_kills_its_helper(
        server: ServerProcess, fs: fsgate.Client, d: Path) -> None:
    with fs.watch(d, timeout=1.0) as watch, pytest.raises(fsgate.DeadlineExceeded) as err:
        list(watch)
    assert err.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    wait_for(lambda: not confined_helpers(server))


def test_the_helper_timeout_does_not_end_a_watch(fs: fsgate.Client, d: Path) -> None:
    channel = grpc.insecure_channel(fs.target)
    try:
        call = fsgate_pb2_grpc.FileSystemServiceStub(channel).WatchDir(
            pb.WatchDirRequest(path=str(d)), timeout=60)
        replies = iter(call)
        assert next(replies).WhichOneof("payload") == "started"
        waited = 0
        while waited * KEEPALIVE <= 2 * HELPER_TIMEOUT:  # outlive the helper timeout twice
            assert next(replies).WhichOneof("payload") == "keepalive"
            waited += 1
        os.close(os.open(d / "late", os.O_CREAT | os.O_WRONLY))
        late = next(r for r in replies if r.WhichOneof("payload") != "keepalive")
        assert late.WhichOneof("payload") == "event" and late.event.path == str(d / "late")
        call.cancel()
    finally:
        channel.close()


def test_watches_past_max_watches_are_busy_and_hold_no_helper_slot(
        server: ServerProcess, fs: fsgate.Client, d: Path) -> None:
    watches = [fs.watch(d) for _ in range(3)]
    try:
        with pytest.raises(fsgate.Busy) as err:
            fs.watch(d)
        assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
        # --max-concurrent-helpers is 1: three open watches do not hold it
        assert fs.stat(d).type is fsgate.FileType.DIRECTORY
        watches.pop().close()
        wait_for(lambda: len(confined_helpers(server)) == 2)
        watches.append(fs.watch(d))  # a slot is free again
    finally:
        for watch in watches:
            watch.close()


def test_too_many_directories_fail_too_large_before_started(fs: fsgate.Client,
                                                            d: Path) -> None:
    for i in range(4):
        (d / f"sub{i}").mkdir()  # with d itself: 5 directories, one more than allowed
    before = snapshot(d)
    with pytest.raises(fsgate.TooLarge) as err:
        fs.watch(d, recursive=True)
    assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-watched-dirs" in err.value.message
    assert snapshot(d) == before
    assert fs.watch(d).watched_directories == 1  # not recursive: just d


def test_new_directories_past_max_watched_dirs_end_the_watch_too_large(
        fs: fsgate.Client, d: Path) -> None:
    (d / "a").mkdir()
    (d / "b").mkdir()
    with fs.watch(d, recursive=True) as watch:
        assert watch.watched_directories == 3
        (d / "c").mkdir()  # the 4th: watched
        (d / "e").mkdir()  # the 5th: too many
        got: list[fsgate.FileEvent | fsgate.WatchOverflow] = []
        with pytest.raises(fsgate.TooLarge) as err:
            got.extend(watch)
    assert err.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert events(got, d)[:2] == [("CREATED", "c", None, True), ("CREATED", "e", None, True)]


def test_keepalives_come_while_nothing_happens(server: ServerProcess, d: Path) -> None:
    channel, fs = stub(server)
    try:
        call = fs.WatchDir(pb.WatchDirRequest(path=str(d)), timeout=30)
        kinds = [m.WhichOneof("payload") for m, _ in zip(call, range(4), strict=False)]
        call.cancel()
    finally:
        channel.close()
    assert kinds == ["started", "keepalive", "keepalive", "keepalive"]


def test_removing_the_watched_directory_ends_the_watch_not_found(fs: fsgate.Client,
                                                                 d: Path) -> None:
    watched = d / "w"
    watched.mkdir()
    with fs.watch(watched) as watch:
        os.rmdir(watched)
        got: list[fsgate.FileEvent | fsgate.WatchOverflow] = []
        with pytest.raises(fsgate.NotFound) as err:
            got.extend(watch)
    assert err.value.code is grpc.StatusCode.NOT_FOUND
    assert events(got, d) == [("DELETED", "w", None, True)]


@pytest.mark.parametrize(("what", "code", "reason"), [
    ("a file", grpc.StatusCode.FAILED_PRECONDITION, "NOT_A_DIRECTORY"),
    ("missing", grpc.StatusCode.NOT_FOUND, "NOT_FOUND"),
    ("outside", grpc.StatusCode.PERMISSION_DENIED, "OUTSIDE_POLICY"),
    ("bad glob", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PATTERN"),
    ("too many globs", grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST"),
    ("relative", grpc.StatusCode.INVALID_ARGUMENT, "CWD_REQUIRED"),
])
def test_a_refused_watch_says_why_and_changes_nothing(
        server: ServerProcess, d: Path, what: str, code: grpc.StatusCode, reason: str) -> None:
    (d / "file").write_text("x")
    request = {
        "a file": pb.WatchDirRequest(path=str(d / "file")),
        "missing": pb.WatchDirRequest(path=str(d / "missing")),
        "outside": pb.WatchDirRequest(path=str(server.root.parent)),
        "bad glob": pb.WatchDirRequest(path=str(d), include_globs=["[unclosed"]),
        "too many globs": pb.WatchDirRequest(path=str(d), exclude_globs=["x"] * 257),
        "relative": pb.WatchDirRequest(path="sub"),
    }[what]
    before = snapshot(d)
    channel, fs = stub(server)
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(fs.WatchDir(request, timeout=30))
    finally:
        channel.close()
    assert rpc_reason(err.value) == (code, reason)
    assert snapshot(d) == before


def metrics_text(server: ServerProcess) -> str:
    port = next(json.loads(line)["metrics_port"] for line in server.log().splitlines()
                if '"serving"' in line)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text: str = reply.read().decode()
    return text


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, f"{name} not in the metrics"
    return float(found.group(1))


def test_metrics_count_open_watches_and_events_sent(server: ServerProcess,
                                                    fs: fsgate.Client, d: Path) -> None:
    sent = metric(metrics_text(server), "fsgate_watch_events_sent_total")
    with fs.watch(d) as watch:
        assert metric(metrics_text(server), "fsgate_watches") == 1
        step(watch, d)  # one event: the sentinel
    wait_for(lambda: metric(metrics_text(server), "fsgate_watches") == 0)
    assert metric(metrics_text(server), "fsgate_watch_events_sent_total") == sent + 1


def test_max_watch_seconds_ends_the_watch_and_kills_its_helper(
        backend: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(tmp_path, [str(root)], backend, "--max-watch-seconds", "3")
    try:
        with fsgate.Client(server.target) as fs:
            with fs.watch(root, timeout=600) as watch, \
                    pytest.raises(fsgate.DeadlineExceeded) as err:
                list(watch)
            # the server's bound (with its reason), not the client's deadline (none)
            assert err.value.reason is fsgate.Reason.DEADLINE_EXCEEDED
            assert "--max-watch-seconds" in err.value.message
            wait_for(lambda: not confined_helpers(server))
    finally:
        server.stop()


def test_removing_a_watched_policy_root_ends_the_watch_not_found(fs: fsgate.Client,
                                                                 d: Path) -> None:
    """Under bwrap a root of the request's policy is a mount in the helper's namespace,
    which keeps the directory's own IN_DELETE_SELF from coming: it is noticed anyway."""
    watched = d / "w"
    watched.mkdir()
    policy = fsgate.Policy(readable_roots=[watched])
    with fs.watch(watched, policy=policy) as watch:
        os.rmdir(watched)
        got: list[fsgate.FileEvent | fsgate.WatchOverflow] = []
        with pytest.raises(fsgate.NotFound):
            got.extend(watch)
    assert events(got, d) == [("DELETED", "w", None, True)]
