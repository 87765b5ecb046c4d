"""The console log renderer: colours on a terminal only, plain text into files and pipes."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

LOG_ONE_LINE = (
    "import structlog; from fsgate_server.operability import logs; "
    "logs.configure({fmt!r}, 'info'); "
    "structlog.get_logger().info('serving', listen='127.0.0.1:50051')"
)
ESC = b"\x1b["


def run_logger(fmt: str, stderr: int) -> None:
    subprocess.run([sys.executable, "-c", LOG_ONE_LINE.format(fmt=fmt)], stderr=stderr,
                   timeout=60, check=True)


@pytest.mark.parametrize("fmt", ["console", "auto"])
def test_console_log_into_a_file_has_no_colour_codes(tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "server.log"
    with log.open("wb") as f:
        run_logger(fmt, f.fileno())

    text = log.read_bytes()
    assert b"serving" in text
    assert ESC not in text


def test_console_log_into_a_pipe_has_no_colour_codes() -> None:
    result = subprocess.run([sys.executable, "-c", LOG_ONE_LINE.format(fmt="console")],
                            capture_output=True, timeout=60, check=True)
    assert b"serving" in result.stderr
    assert ESC not in result.stderr


def test_console_log_on_a_terminal_is_coloured() -> None:
    leader, follower = pty.openpty()
    try:
        run_logger("console", follower)
        os.close(follower)
        follower = -1
        out = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            out += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert b"serving" in out
    assert ESC in out
