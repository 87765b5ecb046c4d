"""The `fsgate` client commands as a user runs them: real processes, real pipes, a real
server (stdin kept open while the server goes away, readers that stop early, hints)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import BACKENDS, ServerProcess, backend_skip_reason, server_env, start_server

ERROR_LINE = re.compile(r"fsgate: [A-Z_]+(/[A-Z_]+)?: \S.*\n")


def fsgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "fsgate_server", *args]


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(fsgate(*args), env=server_env(), capture_output=True, timeout=120,
                          check=False)


def pipe_into_head(head_args: list[str], *args: str) -> tuple[int, bytes, bytes]:
    """``fsgate ARGS | head HEAD_ARGS``: fsgate's exit code and stderr, and head's output."""
    with subprocess.Popen(fsgate(*args), env=server_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as producer:
        assert producer.stdout is not None and producer.stderr is not None
        head = subprocess.run(["head", *head_args], stdin=producer.stdout,
                              capture_output=True, timeout=120, check=True)
        producer.stdout.close()  # only head holds the read end: its exit breaks the pipe
        err = producer.stderr.read()
        code = producer.wait(timeout=120)
    return code, err, head.stdout


def test_read_into_a_reader_that_stops_early_exits_0_quietly(served: ServerProcess,
                                                             ws: Path) -> None:
    big = ws / "big.bin"
    big.write_bytes(b"0123456789" * (1 << 20))  # 10 MiB: far more than a pipe holds

    code, err, out = pipe_into_head(["-c", "10"], "read", str(big), "--target", served.target)

    assert out == b"0123456789"
    assert (code, err) == (0, b"")


@pytest.mark.parametrize("json_lines", [False, True], ids=["names", "json"])
def test_ls_into_a_reader_that_stops_early_exits_0_quietly(served: ServerProcess, ws: Path,
                                                           json_lines: bool) -> None:
    for i in range(2500):  # > 64 KiB of output, several pages
        (ws / f"file-{i:05d}-{'x' * 40}").touch()
    extra = ["--json"] if json_lines else []

    code, err, out = pipe_into_head(["-n", "1"], "ls", str(ws), "--target", served.target,
                                    *extra)

    assert out.startswith(b'{"name":"file-00000-' if json_lines else b"file-00000-")
    assert (code, err) == (0, b"")


def test_relative_path_without_cwd_tells_to_pass_cwd(served: ServerProcess, ws: Path) -> None:
    result = run("stat", "notes.txt", "--target", served.target)

    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("fsgate: INVALID_ARGUMENT/CWD_REQUIRED: ")
    assert "--cwd DIR" in err and "sandbox" not in err
    assert ERROR_LINE.fullmatch(err)


def test_write_prints_only_json_on_stdout(served: ServerProcess, ws: Path) -> None:
    plain = subprocess.run(fsgate("write", str(ws / "a.txt"), "--target", served.target),
                           input=b"hello", env=server_env(), capture_output=True,
                           timeout=120, check=False)
    as_json = subprocess.run(fsgate("write", str(ws / "b.txt"), "--json",
                                    "--target", served.target),
                             input=b"hello", env=server_env(), capture_output=True,
                             timeout=120, check=False)

    assert (plain.returncode, plain.stdout) == (0, b"")
    assert plain.stderr.startswith(b"5 bytes written to ")
    assert as_json.returncode == 0 and as_json.stderr == b""
    assert as_json.stdout.startswith(b'{"info":{"path":') and as_json.stdout.endswith(b"}\n")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of our own (this test stops it), with a short shutdown grace."""
    usable = [b for b in BACKENDS if backend_skip_reason(b) is None]
    if not usable:
        pytest.skip("no sandbox backend works here")
    (tmp_path / "ws").mkdir()
    server = start_server(tmp_path, [str(tmp_path / "ws")], usable[0],
                          "--shutdown-grace", "0.5")
    yield server
    server.stop()


def test_write_from_stdin_when_the_server_shuts_down_exits_1_with_the_error_line(
    own_server: ServerProcess,
) -> None:
    target = own_server.root / "upload.bin"
    with subprocess.Popen(fsgate("write", str(target), "--target", own_server.target),
                          env=server_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as writer:
        assert writer.stdin is not None and writer.stderr is not None
        # Once this returns, the CLI has read most of it: the upload is under way. stdin
        # then stays open, so the CLI's reader waits in read() when the server goes away.
        writer.stdin.write(os.urandom(1 << 20))
        writer.stdin.flush()
        own_server.stop()
        try:
            code = writer.wait(timeout=60)
        finally:
            writer.stdin.close()
        err = writer.stderr.read().decode()

    assert "Fatal Python error" not in err
    assert code == 1, err
    assert ERROR_LINE.fullmatch(err), err
    assert not target.exists()


@pytest.mark.parametrize("entry", ["fsgate_server", "console script"])
def test_connection_options_before_the_command_work_as_after_it(served: ServerProcess,
                                                                ws: Path, entry: str) -> None:
    (ws / "f.txt").write_bytes(b"hello")
    start = (fsgate() if entry == "fsgate_server"
             else [sys.executable, "-c", "import sys; from fsgate._main import main; "
                   "sys.exit(main())"])

    def call(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*start, *args], env=server_env(), capture_output=True,
                              timeout=120, check=False)

    after = call("read", str(ws / "f.txt"), "--target", served.target)
    before = call("--target", served.target, "--timeout", "30", "read", str(ws / "f.txt"))
    joined = call(f"--target={served.target}", "ls", str(ws))

    assert (after.returncode, after.stdout) == (0, b"hello")
    assert (before.returncode, before.stdout, before.stderr) == (0, b"hello", b"")
    assert (joined.returncode, joined.stdout) == (0, b"f.txt\n")
    # A server command has no --target: its parser says so, whatever the order.
    serve = call("--target", served.target, "serve")
    assert serve.returncode == 2
    assert b"unrecognized arguments: --target" in serve.stderr
