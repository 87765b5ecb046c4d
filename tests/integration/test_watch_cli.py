"""``fsgate watch`` as a user runs it, against the session servers (both backends): one
flushed line per change (text or JSON Lines), Ctrl-C exits 130 quietly, a reader that goes
away ends it with 0, and an error is the usual one line and exit code."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..conftest import ServerProcess, server_env
from .test_cli import ERROR_LINE, fsgate, run
from .test_faults import wait_for


@contextmanager
def watching(*args: str) -> Iterator[subprocess.Popen[bytes]]:
    # Unbuffered: what select() says is readable is all there is (no reader's buffer).
    with subprocess.Popen(fsgate("watch", *args), env=server_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, bufsize=0) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def line(stream: IO[bytes] | None, timeout: float = 60.0) -> bytes:
    """The next line; a test that expected one that never comes fails instead of hanging."""
    assert stream is not None
    if not select.select([stream], [], [], timeout)[0]:
        raise AssertionError("no line in time")
    return stream.readline()


def test_watch_json_prints_started_then_one_line_per_change(served: ServerProcess,
                                                           ws: Path) -> None:
    with watching(str(ws), "-r", "--json", "--target", served.target) as proc:
        assert json.loads(line(proc.stdout)) == {"type": "started", "watched_directories": 1}
        got = []
        changes: list[Callable[[], object]] = [
            lambda: (ws / "sub").mkdir(), lambda: (ws / "sub" / "a.txt").touch(),
            lambda: os.rename(ws / "sub" / "a.txt", ws / "b.txt")]
        for change in changes:
            change()  # one at a time: each is reported before the next is made
            got.append(json.loads(line(proc.stdout)))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert proc.stderr is not None and proc.stderr.read() == b""
    assert got == [
        {"type": "created", "path": str(ws / "sub"), "old_path": None, "is_dir": True},
        {"type": "created", "path": str(ws / "sub" / "a.txt"), "old_path": None,
         "is_dir": False},
        {"type": "moved", "path": str(ws / "b.txt"), "old_path": str(ws / "sub" / "a.txt"),
         "is_dir": False},
    ]


def test_watch_prints_one_text_line_per_change_and_ctrl_c_exits_130(
        served: ServerProcess, ws: Path) -> None:
    (ws / "old").mkdir()
    with watching(str(ws), "--target", served.target) as proc:
        assert line(proc.stderr) == f"watching {ws} (1 directory)\n".encode()
        (ws / "new.txt").write_text("")
        got = [line(proc.stdout)]
        os.rename(ws / "old", ws / "renamed")
        got.append(line(proc.stdout))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert proc.stderr is not None and proc.stderr.read() == b""  # no traceback
    assert got == [f"CREATED {ws}/new.txt\n".encode(),
                   f"MOVED {ws}/old/ -> {ws}/renamed/\n".encode()]


def test_watch_into_a_reader_that_stops_early_exits_0_quietly(served: ServerProcess,
                                                               ws: Path) -> None:
    with subprocess.Popen(fsgate("watch", str(ws), "--target", served.target),
                          env=server_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as producer:
        assert producer.stdout is not None and producer.stderr is not None
        with subprocess.Popen(["head", "-n", "1"], stdin=producer.stdout,
                              stdout=subprocess.PIPE) as head:
            producer.stdout.close()  # only head holds the read end
            assert line(producer.stderr).startswith(b"watching ")
            n = 0

            def more() -> bool:  # a change per look, until fsgate has met the closed pipe
                nonlocal n
                n += 1
                (ws / f"f{n}").write_text("")
                return producer.poll() is not None

            wait_for(more, timeout=60)
            first = head.stdout.read() if head.stdout else b""
        assert producer.wait(timeout=60) == 0
        assert producer.stderr.read() == b""
    assert first == f"CREATED {ws}/f1\n".encode()


def test_watch_of_a_missing_directory_is_one_error_line_and_exit_3(served: ServerProcess,
                                                                    ws: Path) -> None:
    done = run("watch", str(ws / "missing"), "--target", served.target)
    assert done.returncode == 3
    assert ERROR_LINE.fullmatch(done.stderr.decode())
    assert done.stderr.startswith(b"fsgate: NOT_FOUND/NOT_FOUND: ")
    assert done.stdout == b""
