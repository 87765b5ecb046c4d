"""The ``fsgate`` console script (fsgate._main): the client commands run on a client-only
install; the server commands without the server extra print what to install and exit 2."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fsgate import _main

from . import FakeFileSystem, serve

#: What only the server extra installs, and the server package itself: a client-only
#: install has none of the first four; the client commands need none of them.
SERVER_ONLY = ("structlog", "prometheus_client", "grpc_health", "grpc_reflection")


def fsgate(*argv: str, blocked: tuple[str, ...], stdin: bytes = b""
           ) -> subprocess.CompletedProcess[bytes]:
    """``fsgate ARGV`` in a fresh interpreter in which ``blocked`` cannot be imported."""
    code = ("import sys\n"
            f"for name in {blocked!r}: sys.modules[name] = None\n"
            "from fsgate._main import main\n"
            "sys.exit(main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *argv], input=stdin,
                          capture_output=True, timeout=60, check=False)


@pytest.fixture
def target() -> Iterator[str]:
    with serve(FakeFileSystem(files={"/ws/a.txt": b"hello, world"})) as address:
        yield address


def test_the_entry_point_is_the_client_module() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="fsgate")
    assert script.value == "fsgate._main:main"


def test_client_commands_work_without_the_server_extra_or_package(target: str) -> None:
    blocked = (*SERVER_ONLY, "fsgate_server")
    wrote = fsgate("write", "/ws/new.txt", "--target", target, "--json",
                   blocked=blocked, stdin=b"fresh\n")
    assert wrote.returncode == 0, wrote.stderr.decode()
    assert json.loads(wrote.stdout)["bytes_written"] == 6

    read = fsgate("read", "/ws/a.txt", "--target", target, blocked=blocked)
    assert (read.returncode, read.stdout, read.stderr) == (0, b"hello, world", b"")

    stat = fsgate("stat", "/ws/a.txt", "--target", target, blocked=blocked)
    assert stat.returncode == 0, stat.stderr.decode()
    assert b"size: 12" in stat.stdout

    missing = fsgate("read", "/ws/none", "--target", target, blocked=blocked)
    assert missing.returncode == 3
    assert missing.stderr.decode().startswith("fsgate: NOT_FOUND/NOT_FOUND: ")


@pytest.mark.parametrize("module", ["structlog", "prometheus_client"])
def test_serve_without_the_server_extra_names_it_and_exits_2(tmp_path: pathlib.Path,
                                                             module: str) -> None:
    result = fsgate("serve", "--root", str(tmp_path), "--listen", f"unix:{tmp_path}/s.sock",
                    blocked=(module,))
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert "install fsgate[server]" in err
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert result.stdout == b""


@pytest.mark.parametrize("command", [["doctor"], ["health"], ["serve", "--help"]])
def test_every_server_command_gives_the_hint_without_the_extra(command: list[str]) -> None:
    result = fsgate(*command, blocked=SERVER_ONLY)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith(f"fsgate {command[0]}: ") and "install fsgate[server]" in err
    assert "Traceback" not in err


def test_help_without_the_extra_lists_the_server_commands_as_needing_it() -> None:
    result = fsgate("--help", blocked=SERVER_ONLY)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    for name in ("read", "write", "ls", "stat", "serve", "doctor", "health"):
        assert name in out
    assert "needs fsgate[server]" in out


def test_with_the_extra_help_is_the_full_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        _main.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "serve" in out and "doctor" in out and "health" in out
    assert "needs fsgate[server]" not in out


def test_a_missing_module_that_is_not_a_server_dependency_is_not_hidden() -> None:
    result = fsgate("serve", blocked=("fsgate_server.config",))
    assert result.returncode == 1
    assert b"ModuleNotFoundError" in result.stderr
