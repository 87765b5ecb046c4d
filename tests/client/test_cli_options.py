"""Connection options written before the command are moved after it, where its parser
reads them (fsgate/_cli_run.py: options_after_command); nothing else moves."""
from __future__ import annotations

import pytest
from fsgate._cli_run import options_after_command


@pytest.mark.parametrize(("argv", "expected"), [
    (["--target", "unix:/s", "ls", "/ws"], ["ls", "--target", "unix:/s", "/ws"]),
    (["--target=unix:/s", "--timeout", "5", "stat", "/ws/f"],
     ["stat", "--target=unix:/s", "--timeout", "5", "/ws/f"]),
    (["--token-file", "t", "--cwd", "/ws", "read", "f"],
     ["read", "--token-file", "t", "--cwd", "/ws", "f"]),
    (["ls", "/ws", "--target", "unix:/s"], ["ls", "/ws", "--target", "unix:/s"]),
    (["--help"], ["--help"]),
    (["--target", "unix:/s"], ["--target", "unix:/s"]),  # no command: the parser says so
    (["--target"], ["--target"]),
    (["--depth", "2", "ls"], ["--depth", "2", "ls"]),  # a command's own option: not moved
    ([], []),
])
def test_leading_connection_options_move_after_the_command(argv: list[str],
                                                           expected: list[str]) -> None:
    assert options_after_command(argv) == expected
